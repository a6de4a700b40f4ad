package userdb_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/larderhq/larder/cmd/server/internal/user"
	"github.com/larderhq/larder/cmd/server/internal/userdb"
	"github.com/larderhq/larder/cmd/server/internal/userdb/dbtest"
)

func TestSeed(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, e dbtest.Engine) {
		t.Parallel()
		ctx := context.Background()
		now := testEpoch
		s := open(t, e, newClock(now, time.Millisecond))

		if err := s.Seed(ctx, 0, now); err != nil || count(t, s) != 0 {
			t.Fatalf("Seed(0) = %v, total %d; want a no-op", err, count(t, s))
		}

		const n = 1000
		if err := s.Seed(ctx, n, now); err != nil {
			t.Fatalf("Seed: %v", err)
		}

		var prev user.User
		for page := 1; page <= n/user.MaxPageSize; page++ {
			p, err := s.List(ctx, page, user.MaxPageSize)
			if err != nil {
				t.Fatal(err)
			}
			if p.Total != n {
				t.Fatalf("Total = %d, want %d", p.Total, n)
			}
			for _, u := range p.Users {
				i := prev.ID + 1
				if u.ID != i || u.Email != fmt.Sprintf("user%d@example.com", i) || u.Name == "" || u.Bio == "" {
					t.Fatalf("user %d = %+v", i, u)
				}
				if err := (user.NewUser{Name: u.Name, Email: u.Email, Bio: u.Bio}).Validate(); err != nil {
					t.Fatalf("seeded user %d is invalid: %v", i, err)
				}
				if !u.CreatedAt.Equal(u.UpdatedAt) || !u.CreatedAt.Before(now) || u.CreatedAt.Before(now.Add(-userdb.SeedSpan)) {
					t.Fatalf("user %d created %v updated %v, want equal and within %v before %v", i, u.CreatedAt, u.UpdatedAt, userdb.SeedSpan, now)
				}
				if i > 1 && !u.CreatedAt.After(prev.CreatedAt) {
					t.Fatalf("user %d created %v, not after user %d's %v", i, u.CreatedAt, prev.ID, prev.CreatedAt)
				}
				prev = u
			}
		}
		if prev.ID != n {
			t.Fatalf("listed up to id %d, want %d", prev.ID, n)
		}
		// The spread covers the whole span: the oldest user is near its start.
		first, _ := s.Get(ctx, 1)
		if first.CreatedAt.After(now.Add(-userdb.SeedSpan + 3*time.Hour)) {
			t.Errorf("oldest seeded user created %v, want near %v", first.CreatedAt, now.Add(-userdb.SeedSpan))
		}

		// Seeding again, with any n, does nothing.
		before, _ := s.Get(ctx, 7)
		if err := s.Seed(ctx, n, now.Add(time.Hour)); err != nil {
			t.Fatalf("second Seed: %v", err)
		}
		if err := s.Seed(ctx, 5, now); err != nil {
			t.Fatalf("third Seed: %v", err)
		}
		if got := count(t, s); got != n {
			t.Errorf("total after reseeding = %d, want %d", got, n)
		}
		if after, _ := s.Get(ctx, 7); after != before {
			t.Errorf("reseeding changed user 7: %+v, was %+v", after, before)
		}

		// New users continue after the seeded ids (PostgreSQL's identity
		// must have been moved past them).
		if u := mustCreate(t, s, "after-seed@example.com"); u.ID != n+1 {
			t.Errorf("first id after seeding = %d, want %d", u.ID, n+1)
		}
	})
}

func TestSeedSkipsNonEmptyTable(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, e dbtest.Engine) {
		t.Parallel()
		ctx := context.Background()
		s := open(t, e, nil)
		u := mustCreate(t, s, "first@example.com")
		if err := s.Seed(ctx, 10, time.Now()); err != nil {
			t.Fatal(err)
		}
		p, err := s.List(ctx, 1, 10)
		if err != nil || p.Total != 1 || p.Users[0] != u {
			t.Fatalf("after Seed on a non-empty table: %+v, %v; want only %+v", p, err, u)
		}
	})
}

// TestSeedConcurrently seeds from several DBs at once, as several
// processes starting together would: exactly one seeds, the others see the
// table filled and do nothing.
func TestSeedConcurrently(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, e dbtest.Engine) {
		t.Parallel()
		ctx := context.Background()
		const dbs, n = 4, 200
		ss := make([]*userdb.DB, dbs)
		for i := range ss {
			ss[i] = open(t, e, nil)
		}
		errs := make(chan error, dbs)
		for _, s := range ss {
			go func() { errs <- s.Seed(ctx, n, testEpoch) }()
		}
		for range dbs {
			if err := <-errs; err != nil {
				t.Errorf("Seed: %v", err)
			}
		}
		if got := count(t, ss[0]); got != n {
			t.Errorf("total = %d, want %d", got, n)
		}
	})
}

// BenchmarkSeed1000 measures seeding the demo data on SQLite, the work every
// fresh `go run ./cmd/server` does before it serves.
func BenchmarkSeed1000(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		s, err := userdb.Open(ctx, "sqlite:"+filepath.Join(b.TempDir(), "bench.db"), userdb.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := s.Seed(ctx, 1000, testEpoch); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = s.Close()
		b.StartTimer()
	}
}
