package userdb_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/larderhq/larder/cmd/server/internal/user"
	"github.com/larderhq/larder/cmd/server/internal/userdb/dbtest"
)

func TestDashboardEmpty(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, e dbtest.Engine) {
		t.Parallel()
		clock := newClock(testEpoch, 0)
		s := open(t, e, clock)
		d, err := s.Dashboard(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if d.TotalUsers != 0 || d.NewUsersLast7Days != 0 || d.Newest == nil || len(d.Newest) != 0 {
			t.Errorf("dashboard = %+v, want zeros and an empty (not nil) Newest", d)
		}
		if len(d.SignupsLast30Days) != user.DashboardDays {
			t.Fatalf("%d days, want %d", len(d.SignupsLast30Days), user.DashboardDays)
		}
		for _, dc := range d.SignupsLast30Days {
			if dc.Count != 0 {
				t.Errorf("day %s count %d, want 0", dc.Day, dc.Count)
			}
		}
		if want := testEpoch.Truncate(time.Microsecond); !d.GeneratedAt.Equal(want) || d.GeneratedAt.Location() != time.UTC {
			t.Errorf("GeneratedAt = %v, want %v in UTC", d.GeneratedAt, want)
		}
	})
}

// TestDashboardBoundaries places users on both sides of every boundary of
// the dashboard's windows and checks the SQL aggregates count exactly the
// right ones.
func TestDashboardBoundaries(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, e dbtest.Engine) {
		t.Parallel()
		ctx := context.Background()
		now := time.Date(2024, time.March, 15, 10, 0, 0, 0, time.UTC)
		today := time.Date(2024, time.March, 15, 0, 0, 0, 0, time.UTC)
		first := today.AddDate(0, 0, -(user.DashboardDays - 1)) // 2024-02-15
		us := time.Microsecond

		created := []struct {
			at         time.Time
			day        string // "" when outside the 30-day window
			inLast7    bool
			newestRank int // position among the newest, 1-based; 0 if not among the 5
		}{
			{now.Add(-time.Hour), "2024-03-15", true, 1},
			{today, "2024-03-15", true, 2},                                                    // first instant of today
			{today.Add(-us), "2024-03-14", true, 3},                                           // last instant of yesterday
			{now.Add(-user.NewUsersWindow), "2024-03-08", true, 4},                            // exactly 7 days ago: in
			{now.Add(-user.NewUsersWindow - us), "2024-03-08", false, 5},                      // just before: out
			{first, "2024-02-15", false, 0},                                                   // first instant of the window
			{first.Add(-us), "", false, 0},                                                    // just before the window
			{time.Date(2024, 2, 29, 23, 59, 59, 999999000, time.UTC), "2024-02-29", false, 0}, // leap day
			{now.AddDate(-1, 0, 0), "", false, 0},
		}
		clock := newClock(now, 0)
		s := open(t, e, clock)
		for i, c := range created {
			clock.Set(c.at)
			mustCreate(t, s, fmt.Sprintf("d%d@example.com", i))
		}
		clock.Set(now)

		d, err := s.Dashboard(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d.TotalUsers != len(created) {
			t.Errorf("TotalUsers = %d, want %d", d.TotalUsers, len(created))
		}
		wantDays := map[string]int{}
		want7 := 0
		wantNewest := make([]int64, user.NewestCount)
		for i, c := range created {
			if c.day != "" {
				wantDays[c.day]++
			}
			if c.inLast7 {
				want7++
			}
			if c.newestRank > 0 {
				wantNewest[c.newestRank-1] = int64(i + 1)
			}
		}
		if d.NewUsersLast7Days != want7 {
			t.Errorf("NewUsersLast7Days = %d, want %d", d.NewUsersLast7Days, want7)
		}
		checkDays(t, d, first, wantDays)
		if !slices.Equal(ids(d.Newest), wantNewest) {
			t.Errorf("Newest ids = %v, want %v", ids(d.Newest), wantNewest)
		}
		if !d.GeneratedAt.Equal(now) {
			t.Errorf("GeneratedAt = %v, want %v", d.GeneratedAt, now)
		}
	})
}

// TestDashboardSeeded compares the SQL aggregates over 1,000 seeded users
// with the same figures computed in Go from the users themselves.
func TestDashboardSeeded(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, e dbtest.Engine) {
		t.Parallel()
		ctx := context.Background()
		now := time.Date(2024, time.March, 15, 10, 0, 0, 0, time.UTC)
		s := open(t, e, newClock(now, 0))
		if err := s.Seed(ctx, 1000, now); err != nil {
			t.Fatal(err)
		}
		d, err := s.Dashboard(ctx)
		if err != nil {
			t.Fatal(err)
		}

		start, _ := user.SignupDays(now)
		wantDays := map[string]int{}
		want7 := 0
		for page := 1; ; page++ {
			p, err := s.List(ctx, page, user.MaxPageSize)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Users) == 0 {
				break
			}
			for _, u := range p.Users {
				if !u.CreatedAt.Before(start) {
					wantDays[u.CreatedAt.Format(user.DayLayout)]++
				}
				if !u.CreatedAt.Before(now.Add(-user.NewUsersWindow)) {
					want7++
				}
			}
		}
		if d.TotalUsers != 1000 {
			t.Errorf("TotalUsers = %d, want 1000", d.TotalUsers)
		}
		// 90 days of 1,000 users: about 78 in the last 7 days.
		if d.NewUsersLast7Days != want7 || want7 < 70 || want7 > 85 {
			t.Errorf("NewUsersLast7Days = %d, want %d (about 78)", d.NewUsersLast7Days, want7)
		}
		checkDays(t, d, start, wantDays)
		if got, want := ids(d.Newest), []int64{1000, 999, 998, 997, 996}; !slices.Equal(got, want) {
			t.Errorf("Newest ids = %v, want %v", got, want)
		}
	})
}

// checkDays asserts that d has one entry per day from first, oldest first,
// with the counts in want and zero elsewhere.
func checkDays(t *testing.T, d user.Dashboard, first time.Time, want map[string]int) {
	t.Helper()
	if len(d.SignupsLast30Days) != user.DashboardDays {
		t.Fatalf("%d days, want %d", len(d.SignupsLast30Days), user.DashboardDays)
	}
	total := 0
	for i, dc := range d.SignupsLast30Days {
		if wantDay := first.AddDate(0, 0, i).Format(user.DayLayout); dc.Day != wantDay {
			t.Errorf("day %d = %s, want %s", i, dc.Day, wantDay)
		}
		if dc.Count != want[dc.Day] {
			t.Errorf("day %s count = %d, want %d", dc.Day, dc.Count, want[dc.Day])
		}
		total += dc.Count
	}
	if total == 0 {
		t.Error("no signups counted at all")
	}
}
