package userdb_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/larderhq/larder/cmd/server/internal/user"
	"github.com/larderhq/larder/cmd/server/internal/userdb"
	"github.com/larderhq/larder/cmd/server/internal/userdb/dbtest"
)

// TestConcurrentAccess runs 32 goroutines mixing every read and write, as a
// loaded server would, through two DBs on one database (two processes
// sharing an SQLite file contend on its lock, not only on the write pool),
// and requires that not one call fails: in particular, no SQLITE_BUSY.
func TestConcurrentAccess(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, e dbtest.Engine) {
		t.Parallel()
		ctx := context.Background()
		dbs := []*userdb.DB{open(t, e, nil), open(t, e, nil)}
		if err := dbs[0].Seed(ctx, 100, time.Now()); err != nil {
			t.Fatal(err)
		}

		const workers, rounds = 32, 25
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			errs []error
			kept int // users created and not deleted
		)
		record := func(op string, err error) {
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", op, err))
				mu.Unlock()
			}
		}
		began := time.Now()
		for w := range workers {
			s := dbs[w%len(dbs)]
			wg.Go(func() {
				for r := range rounds {
					email := fmt.Sprintf("w%d-r%d@example.com", w, r)
					u, err := s.Create(ctx, user.NewUser{Name: "Worker", Email: email})
					record("create", err)
					if err != nil {
						continue
					}
					_, err = s.Get(ctx, u.ID)
					record("get", err)
					_, err = s.Update(ctx, u.ID, user.Update{Bio: ptr(fmt.Sprintf("round %d", r))})
					record("update", err)
					// Everyone updates the same seeded user: a hot row.
					_, err = s.Update(ctx, 1, user.Update{Name: ptr(fmt.Sprintf("hot %d-%d", w, r))})
					record("update hot", err)
					_, err = s.List(ctx, 1+r%5, 20)
					record("list", err)
					_, err = s.Recent(ctx, 10)
					record("recent", err)
					if r%5 == 0 {
						_, err = s.Dashboard(ctx)
						record("dashboard", err)
					}
					if r%2 == 0 {
						record("delete", s.Delete(ctx, u.ID))
					} else {
						mu.Lock()
						kept++
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		t.Logf("%d workers × %d rounds on %s in %v", workers, rounds, e.Name, time.Since(began))

		for i, err := range errs {
			if i == 10 {
				t.Errorf("… and %d more errors", len(errs)-10)
				break
			}
			busy := strings.Contains(err.Error(), "SQLITE_BUSY") || strings.Contains(err.Error(), "database is locked")
			t.Errorf("busy=%v: %v", busy, err)
		}
		if got := count(t, dbs[1]); got != 100+kept {
			t.Errorf("total = %d, want %d", got, 100+kept)
		}
	})
}

// TestContextCancelled checks that a cancelled context stops a call with the
// context's error rather than hanging or reporting a domain error.
func TestContextCancelled(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, e dbtest.Engine) {
		t.Parallel()
		s := open(t, e, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := s.Create(ctx, user.NewUser{Name: "A", Email: "a@example.com"})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Create with cancelled context: %v, want context.Canceled", err)
		}
		if _, err := s.Get(ctx, 1); errors.Is(err, user.ErrNotFound) || err == nil {
			t.Errorf("Get with cancelled context: %v, want a context error", err)
		}
	})
}

// TestVersionsFollowCommitOrder sends 40 concurrent updates of one user
// through two DBs on one database: each update gets a version of its
// own, 2 to 41, the user ends at 41 with the bio of the update that got
// it, and updated_at never goes backwards from one version to the next.
func TestVersionsFollowCommitOrder(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, e dbtest.Engine) {
		t.Parallel()
		ctx := context.Background()
		dbs := []*userdb.DB{open(t, e, nil), open(t, e, nil)}
		u := mustCreate(t, dbs[0], "hot@example.com")

		const writers = 40
		got := make([]user.User, writers)
		errs := make([]error, writers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range writers {
			wg.Go(func() {
				<-start
				got[i], errs[i] = dbs[i%2].Update(ctx, u.ID, user.Update{Bio: ptr(fmt.Sprintf("bio-%d", i))})
			})
		}
		close(start)
		wg.Wait()

		byVersion := map[int64]user.User{}
		for i, err := range errs {
			if err != nil {
				t.Fatalf("update %d: %v", i, err)
			}
			if prev, dup := byVersion[got[i].Version]; dup {
				t.Fatalf("version %d returned twice: %q and %q", got[i].Version, prev.Bio, got[i].Bio)
			}
			byVersion[got[i].Version] = got[i]
		}
		prev := u
		for v := int64(2); v <= writers+1; v++ {
			w, ok := byVersion[v]
			if !ok {
				t.Fatalf("no update returned version %d: %v", v, byVersion)
			}
			if w.UpdatedAt.Before(prev.UpdatedAt) {
				t.Errorf("version %d has updated_at %v, before version %d's %v", v, w.UpdatedAt, prev.Version, prev.UpdatedAt)
			}
			prev = w
		}
		final, err := dbs[1].Get(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if final != byVersion[writers+1] {
			t.Fatalf("stored user %+v, want the update that got the last version, %+v", final, byVersion[writers+1])
		}
	})
}
