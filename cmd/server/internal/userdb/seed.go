package userdb

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/larderhq/larder/cmd/server/internal/user"
)

// SeedSpan is how far before Seed's now the demo users' creation times go
// back: far enough that the dashboard's 30-day chart and 7-day count show
// realistic activity rather than a spike.
const SeedSpan = 90 * 24 * time.Hour

// seedBatch is the number of users per INSERT statement: 6 arguments each
// stay far below both engines' limits on arguments (32,766 for SQLite,
// 65,535 for PostgreSQL), and fewer statements make seeding fast.
const seedBatch = 500

// Seed fills an empty users table with n deterministic demo users, so that a
// fresh service has something to list, cache and chart. User i (1 ≤ i ≤ n)
// has id i, a name built from i, the email "user<i>@example.com" and a short
// bio; creation times are spread evenly over SeedSpan before now, user n
// being the newest. When the table already has a user, Seed does nothing,
// so it is safe to call at every start, from several processes at once. It
// runs in one transaction: either all n users appear or none.
func (s *DB) Seed(ctx context.Context, n int, now time.Time) (err error) {
	if n < 0 {
		return fmt.Errorf("userdb: seed: %w", &user.ValidationError{Fields: []user.FieldError{
			{Field: "n", Message: fmt.Sprintf("must not be negative, got %d", n)},
		}})
	}
	if n == 0 {
		return nil
	}
	now = now.UTC().Truncate(time.Microsecond)

	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("userdb: seed: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if s.d.lockUsers != "" {
		if _, err := tx.ExecContext(ctx, s.d.lockUsers); err != nil {
			return fmt.Errorf("userdb: seed: lock users: %w", err)
		}
	}
	var existing bool
	if err := tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM users)").Scan(&existing); err != nil {
		return fmt.Errorf("userdb: seed: %w", err)
	}
	if existing {
		s.logger.DebugContext(ctx, "userdb: users exist, not seeding", "engine", s.d.name)
		return tx.Rollback()
	}

	began := time.Now()
	step := SeedSpan / time.Duration(n+1)
	first := now.Add(-SeedSpan)
	args := make([]any, 0, 6*min(n, seedBatch))
	for lo := 1; lo <= n; lo += seedBatch {
		hi := min(lo+seedBatch-1, n)
		args = args[:0]
		for i := lo; i <= hi; i++ {
			created := first.Add(time.Duration(i) * step).Truncate(time.Microsecond)
			args = append(args, int64(i), seedName(i), fmt.Sprintf("user%d@example.com", i), seedBio(i),
				s.d.timeArg(created), s.d.timeArg(created))
		}
		if _, err := tx.ExecContext(ctx, seedInsert(hi-lo+1), args...); err != nil {
			return fmt.Errorf("userdb: seed: insert users %d to %d: %w", lo, hi, err)
		}
	}
	if s.d.afterSeed != "" {
		if _, err := tx.ExecContext(ctx, s.d.afterSeed); err != nil {
			return fmt.Errorf("userdb: seed: advance id generator: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("userdb: seed: %w", err)
	}
	s.logger.InfoContext(ctx, "userdb: seeded demo users", "engine", s.d.name, "users", n, "took", time.Since(began))
	return nil
}

// seedInsert returns an INSERT of rows users with $-numbered arguments.
func seedInsert(rows int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO users (id, name, email, bio, created_at, updated_at) VALUES ")
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		k := 6 * r
		fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d, $%d)", k+1, k+2, k+3, k+4, k+5, k+6)
	}
	return b.String()
}

// seedName returns demo user i's name. The 400 first/last combinations
// repeat, so a numeric suffix keeps names distinct and easy to match to ids.
// The word lists are local, not package variables, to keep the package free
// of mutable state; the compiler keeps them as static data.
func seedName(i int) string {
	first := [...]string{"Ada", "Alan", "Barbara", "Claude", "Donald", "Edsger", "Frances", "Grace", "John", "Ken",
		"Leslie", "Linus", "Margaret", "Niklaus", "Radia", "Rob", "Shafi", "Tim", "Tony", "Vint"}
	last := [...]string{"Lovelace", "Turing", "Liskov", "Shannon", "Knuth", "Dijkstra", "Allen", "Hopper", "Backus", "Thompson",
		"Lamport", "Torvalds", "Hamilton", "Wirth", "Perlman", "Pike", "Goldwasser", "Berners-Lee", "Hoare", "Cerf"}
	k := i - 1
	return fmt.Sprintf("%s %s %d", first[k%len(first)], last[(k/len(first))%len(last)], i)
}

// seedBio returns demo user i's bio.
func seedBio(i int) string {
	topics := [...]string{"caching", "databases", "compilers", "distributed systems", "type theory", "networking", "operating systems"}
	return fmt.Sprintf("Demo user #%d. Interested in %s.", i, topics[(i-1)%len(topics)])
}
