package larder_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/cachetest"
	"github.com/larderhq/larder/internal/storetest"
)

// The negative-caching line of the issue: 10,000 requests for one missing
// id cost at most one load per negative TTL, and a record created
// afterwards is visible on the next read after its create returned.

// userDB models the application's database: the loader reads it, and a
// create inserts into it and then invalidates the key (invalidate on
// write), as the service does.
type userDB struct {
	mu   sync.Mutex
	rows map[int]user
}

func newUserDB() *userDB { return &userDB{rows: map[int]user{}} }

func (db *userDB) get(id int) (user, bool) {
	db.mu.Lock()
	defer db.mu.Unlock()
	u, ok := db.rows[id]
	return u, ok
}

// create inserts u and invalidates its key in c; the create has returned
// when create does.
func (db *userDB) create(t *testing.T, c *larder.Cache, u user) {
	t.Helper()
	db.mu.Lock()
	db.rows[u.ID] = u
	db.mu.Unlock()
	if _, err := c.Delete(context.Background(), userKey(u.ID)); err != nil {
		t.Fatal(err)
	}
}

func userKey(id int) string { return fmt.Sprintf("user:%d", id) }

// loader reads id from db the way the service's loader does: a missing row
// is an error wrapping ErrNotFound.
func (db *userDB) loader(id int, delay time.Duration, loads *atomic.Int64) func(context.Context) (user, error) {
	return func(context.Context) (user, error) {
		loads.Add(1)
		time.Sleep(delay)
		if u, ok := db.get(id); ok {
			return u, nil
		}
		return user{}, fmt.Errorf("user %d: %w", id, larder.ErrNotFound)
	}
}

// The storm runs on an injected clock, which moves only between rounds of
// requests, so that "one load per negative TTL" is judged on the time the
// Cache sees, not on how the machine schedules 64 goroutines. The figures
// keep the proportions (10,000 requests over five negative TTLs)
// at a scale where Redis, which expires keys by its own clock, keeps every
// entry for longer than the test runs: what expires a negative entry here
// is the envelope's expiry on the injected clock, as in memory mode, where
// the store reads that clock too.
const (
	negTTL       = time.Minute
	negRequests  = 10_000
	negWorkers   = 64              // concurrent requests per round, all at one instant
	negSpread    = 5 * time.Minute // the requests' schedule on the injected clock
	negLoadDelay = time.Millisecond
)

// clockedCache returns a Cache of mode name on clk (in memory mode the
// store reads clk too), with a budget no loaded machine exceeds: a store
// call abandoned at the budget fails open and loads around the cache, by
// design, which is not what the tests that use it count.
func clockedCache(t *testing.T, name string, clk *cachetest.Clock) *larder.Cache {
	t.Helper()
	o := larder.Options{Clock: clk, Timeout: 10 * time.Second}
	o.Store = storetest.Open(t, name, clk)
	return newCache(t, o)
}

// TestNegativeCaching: 10,000 requests for one missing id, 64 at a time,
// spread over five negative TTLs of the injected clock, cost at most
// ceil(duration/negTTL)+1 loads, no two of them closer than the negative
// TTL; then a record created after the storm is visible on the next read.
func TestNegativeCaching(t *testing.T) {
	for _, name := range []string{"memory", "redis"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			clk := newFakeClock()
			c := clockedCache(t, name, clk)
			warm(t, c)
			db := newUserDB()
			var loads atomic.Int64
			var mu sync.Mutex
			var starts []time.Time
			inner := db.loader(404, negLoadDelay, &loads)
			load := func(ctx context.Context) (user, error) {
				mu.Lock()
				starts = append(starts, clk.Now())
				mu.Unlock()
				return inner(ctx)
			}
			opts := []larder.FetchOption{larder.TTL(time.Hour), larder.NegativeTTL(negTTL)}

			var notFound, other atomic.Int64
			var firstOther atomic.Value
			every := negSpread / negRequests
			t0 := clk.Now()
			for round := 0; round*negWorkers < negRequests; round++ {
				// Each round's requests are due at the instant of its
				// first; they run concurrently, and the clock stands
				// still until all have answered.
				if round > 0 {
					clk.Advance(negWorkers * every)
				}
				var wg sync.WaitGroup
				for i := round * negWorkers; i < min((round+1)*negWorkers, negRequests); i++ {
					wg.Go(func() {
						_, err := larder.Fetch(ctx, c, userKey(404), load, opts...)
						if errors.Is(err, larder.ErrNotFound) {
							notFound.Add(1)
						} else if other.Add(1) == 1 {
							firstOther.Store(fmt.Sprint(err))
						}
					})
				}
				wg.Wait()
			}
			elapsed := clk.Now().Sub(t0)

			mu.Lock()
			gaps := make([]time.Duration, 0, len(starts))
			for i := 1; i < len(starts); i++ {
				gaps = append(gaps, starts[i].Sub(starts[i-1]))
			}
			mu.Unlock()
			bound := int64(math.Ceil(float64(elapsed)/float64(negTTL))) + 1
			s := c.Stats().Fetch
			minGap := time.Duration(0)
			if len(gaps) > 0 {
				minGap = slices.Min(gaps)
			}
			t.Logf("%s: %d requests, %d at a time, over %v of the injected clock: %d loads (bound %d), gaps between loads %v (min %v); %d not found, %d cached negatives served, %d other answers; store: %+v",
				name, negRequests, negWorkers, elapsed, loads.Load(), bound, roundAll(gaps), minGap, notFound.Load(), s.Negative, other.Load(), c.Stats().Store)
			if other.Load() > 0 {
				t.Errorf("%d requests did not get ErrNotFound; first: %v", other.Load(), firstOther.Load())
			}
			if loads.Load() > bound {
				t.Errorf("%d loads in %v with a negative TTL of %v, want at most %d", loads.Load(), elapsed, negTTL, bound)
			}
			// One load per negative TTL: the next can only start once the
			// negative entry written at the end of the last has expired
			// (less the millisecond the envelope rounds to).
			if minGap < negTTL-2*time.Millisecond && len(gaps) > 0 {
				t.Errorf("two loads %v apart, want at least the negative TTL %v", minGap, negTTL)
			}
			// And the negative cache did work: a load per round would be
			// 157 of them.
			if loads.Load() < 2 {
				t.Errorf("%d loads over %v: the negative entry never expired", loads.Load(), elapsed)
			}

			// A record created now (the negative entry still fresh) is
			// what the next read returns.
			if _, err := larder.Fetch(ctx, c, userKey(404), load, opts...); !errors.Is(err, larder.ErrNotFound) {
				t.Fatalf("before the create: %v, want ErrNotFound", err)
			}
			db.create(t, c, user{404, "Created"})
			if u, err := larder.Fetch(ctx, c, userKey(404), load, opts...); err != nil || u.Name != "Created" {
				t.Fatalf("the read after the create returned = %+v, %v; want the new record", u, err)
			}
		})
	}
}

func roundAll(d []time.Duration) []time.Duration {
	out := make([]time.Duration, len(d))
	for i, x := range d {
		out[i] = x.Round(time.Millisecond)
	}
	return out
}

// TestNegativeCreateDuringLoad: a load reads the database (no row), then a
// create inserts the row and invalidates the key and returns, then the
// old load ends. A read that starts after the create returned must see the
// record, whichever instance created it and whichever reads it; the read
// that started before the create may have either answer.
func TestNegativeCreateDuringLoad(t *testing.T) {
	for _, name := range []string{"memory", "redis"} {
		for _, tc := range []struct {
			name           string
			writer, reader int // instances: 0 runs the old load, 1 is another process
		}{
			{"create and read on the loading instance", 0, 0},
			{"create on another instance, read on the loading instance", 1, 0},
			{"create and read on another instance", 1, 1},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				ctx := context.Background()
				cs := sharedStoreCaches(t, name, 2, larder.Options{})
				db := newUserDB()
				var loads atomic.Int64
				entered, gate := make(chan struct{}), make(chan struct{})
				load := func(context.Context) (user, error) {
					u, found := db.get(7) // the read happens first
					if loads.Add(1) == 1 {
						close(entered)
						<-gate // the old load, held until after the create
					}
					if !found {
						return user{}, fmt.Errorf("user 7: %w", larder.ErrNotFound)
					}
					return u, nil
				}
				opts := []larder.FetchOption{larder.TTL(time.Minute), larder.NegativeTTL(time.Minute)}
				type res struct {
					u   user
					err error
				}
				fetch := func(c *larder.Cache) <-chan res {
					ch := make(chan res, 1)
					go func() {
						u, err := larder.Fetch(ctx, c, userKey(7), load, opts...)
						ch <- res{u, err}
					}()
					return ch
				}
				before := fetch(cs[0])
				<-entered
				db.create(t, cs[tc.writer], user{7, "Created"})
				after := fetch(cs[tc.reader])
				// Release the old load once the new read has answered by
				// itself or has had ample time to attach to the old load.
				var got res
				answered := false
				select {
				case got = <-after:
					answered = true
				case <-time.After(200 * time.Millisecond):
				}
				close(gate)
				if !answered {
					got = <-after
				}
				old := <-before
				t.Logf("read begun before the create: %+v, %v; read begun after it: %+v, %v (answered before the old load ended: %v); loads %d",
					old.u, old.err, got.u, got.err, answered, loads.Load())
				if got.err != nil || got.u.Name != "Created" {
					t.Errorf("the read that began after the create returned got %+v, %v; want the new record", got.u, got.err)
				}
				// Nor may the old load's "not found" have been cached.
				for i, c := range cs {
					if u, err := larder.Fetch(ctx, c, userKey(7), load, opts...); err != nil || u.Name != "Created" {
						t.Errorf("later read on instance %d = %+v, %v; want the new record", i, u, err)
					}
				}
				if s := cs[0].Stats().Fetch; s.FillsDropped != 1 {
					t.Errorf("instance 0 dropped %d fills, want 1 (the old load's negative entry)", s.FillsDropped)
				}
			})
		}
	}
}
