package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/larderhq/larder/internal/app/sqlstore"
	"github.com/larderhq/larder/internal/app/sqlstore/sqltest"
	"github.com/larderhq/larder/internal/app/user"
)

// TestConcurrentAccess runs 32 goroutines mixing every read and write, as a
// loaded server would, through two Stores on one database (two processes
// sharing an SQLite file contend on its lock, not only on the write pool),
// and requires that not one call fails: in particular, no SQLITE_BUSY.
func TestConcurrentAccess(t *testing.T) {
	t.Parallel()
	sqltest.Run(t, func(t *testing.T, e sqltest.Engine) {
		t.Parallel()
		ctx := context.Background()
		stores := []*sqlstore.Store{open(t, e, nil), open(t, e, nil)}
		if err := stores[0].Seed(ctx, 100, time.Now()); err != nil {
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
			s := stores[w%len(stores)]
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
		if got := count(t, stores[1]); got != 100+kept {
			t.Errorf("total = %d, want %d", got, 100+kept)
		}
	})
}

// TestContextCancelled checks that a cancelled context stops a call with the
// context's error rather than hanging or reporting a domain error.
func TestContextCancelled(t *testing.T) {
	t.Parallel()
	sqltest.Run(t, func(t *testing.T, e sqltest.Engine) {
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
