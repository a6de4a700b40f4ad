package userdb

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/larderhq/larder/cmd/server/internal/user"
)

// Dashboard implements user.Service. Its four aggregates come from one
// read-only snapshot, so they agree with each other; the days without
// signups, which GROUP BY does not report, are filled with zeros in Go.
func (s *DB) Dashboard(ctx context.Context) (user.Dashboard, error) {
	now := s.now()
	start, days := user.SignupDays(now)
	end := start.AddDate(0, 0, user.DashboardDays)
	index := make(map[string]int, len(days))
	for i, d := range days {
		index[d.Day] = i
	}

	dash := user.Dashboard{SignupsLast30Days: days, GeneratedAt: now}
	err := s.read(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM users").Scan(&dash.TotalUsers); err != nil {
			return fmt.Errorf("count users: %w", err)
		}
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM users WHERE created_at >= $1",
			s.d.timeArg(now.Add(-user.NewUsersWindow))).Scan(&dash.NewUsersLast7Days); err != nil {
			return fmt.Errorf("count new users: %w", err)
		}
		if err := s.signupsByDay(ctx, tx, start, end, days, index); err != nil {
			return fmt.Errorf("count signups by day: %w", err)
		}
		var err error
		if dash.Newest, err = queryUsers(ctx, tx, recentQuery, user.NewestCount); err != nil {
			return fmt.Errorf("newest users: %w", err)
		}
		return nil
	})
	if err != nil {
		return user.Dashboard{}, s.fail(ctx, "dashboard", err)
	}
	return dash, nil
}

// signupsByDay sets, in days, the number of users created on each UTC day
// in [start, end), using the dialect's day truncation; index maps a day's
// "YYYY-MM-DD" to its entry.
func (s *DB) signupsByDay(ctx context.Context, tx *sql.Tx, start, end time.Time, days []user.DayCount, index map[string]int) error {
	rows, err := tx.QueryContext(ctx,
		"SELECT "+s.d.dayExpr+" AS day, COUNT(*) FROM users WHERE created_at >= $1 AND created_at < $2 GROUP BY day",
		s.d.timeArg(start), s.d.timeArg(end))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var day string
		var n int
		if err := rows.Scan(&day, &n); err != nil {
			return err
		}
		i, ok := index[day]
		if !ok {
			// The WHERE clause makes this impossible unless the dialect's
			// day expression disagrees with user.SignupDays.
			return fmt.Errorf("aggregate returned day %q outside the window", day)
		}
		days[i].Count = n
	}
	return rows.Err()
}
