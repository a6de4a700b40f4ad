package larder_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/cachetest"
	"github.com/larderhq/larder/internal/storetest"
)

// clockedModes is modes with the Cache on clk. In memory mode the store
// reads clk too, as in production where both read one clock, so entries
// leave the store when clk passes their TTL; Redis expires entries by its
// own clock, so there they outlive the injected time and the envelope's
// expiries alone decide.
func clockedModes(clk *cachetest.Clock) map[string]func(t *testing.T) *larder.Cache {
	m := map[string]func(t *testing.T) *larder.Cache{}
	for _, mode := range storetest.Modes() {
		m[mode] = func(t *testing.T) *larder.Cache {
			return newCache(t, larder.Options{Store: storetest.Open(t, mode, clk), Clock: clk})
		}
	}
	return m
}

func newFakeClock() *cachetest.Clock {
	return cachetest.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}

// TestStaleIfError is the stale-if-error line: with the loader failing,
// callers get the last value inside the window (the error wrapping both
// ErrStale and the loader's error), then, after the window, the error
// alone. TTL 1 m and StaleIfError 1 m, time stepped by an injected clock.
func TestStaleIfError(t *testing.T) {
	for _, name := range []string{"memory", "redis"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			clk := newFakeClock()
			c := clockedModes(clk)[name](t)
			boom := errors.New("database down")
			var failing atomic.Bool
			var loads atomic.Int64
			load := func(context.Context) (user, error) {
				loads.Add(1)
				if failing.Load() {
					return user{}, boom
				}
				return user{1, "Ada"}, nil
			}
			opts := []larder.FetchOption{larder.TTL(time.Minute), larder.StaleIfError(time.Minute), larder.Jitter(0)}
			if u, err := larder.Fetch(ctx, c, "user:1", load, opts...); err != nil || u.Name != "Ada" {
				t.Fatalf("first Fetch = %+v, %v", u, err)
			}
			failing.Store(true)
			start := clk.Now()
			for _, step := range []struct {
				at    time.Duration // since the fill
				stale bool          // the last value, with ErrStale; else the error alone
			}{
				{30 * time.Second, false}, // fresh: a hit, the loader is not asked
				{61 * time.Second, true},
				{90 * time.Second, true},
				{90 * time.Second, true}, // again: the value put back serves on
				{119 * time.Second, true},
				{121 * time.Second, false},
				{130 * time.Second, false},
			} {
				clk.Advance(start.Add(step.at).Sub(clk.Now()))
				before := loads.Load()
				u, err := larder.Fetch(ctx, c, "user:1", load, opts...)
				t.Logf("%s: after %v: %+v, %v (loads %d)", name, step.at, u, err, loads.Load()-before)
				switch {
				case step.at < time.Minute:
					if err != nil || u.Name != "Ada" || loads.Load() != before {
						t.Errorf("after %v (fresh): %+v, %v, %d loads; want the value from the cache", step.at, u, err, loads.Load()-before)
					}
				case step.stale:
					if u.Name != "Ada" || !errors.Is(err, larder.ErrStale) || !errors.Is(err, boom) {
						t.Errorf("after %v: %+v, %v; want the last value with an error wrapping ErrStale and the loader's", step.at, u, err)
					}
				default:
					if u != (user{}) || !errors.Is(err, boom) || errors.Is(err, larder.ErrStale) {
						t.Errorf("after %v: %+v, %v; want the zero value and the loader's error alone", step.at, u, err)
					}
				}
			}
			if s := c.Stats().Fetch; s.StaleOnError != 4 || s.LoadErrors != 6 {
				t.Errorf("Stats: stale on error %d, load errors %d; want 4, 6", s.StaleOnError, s.LoadErrors)
			}
			// The loader recovers: the next Fetch loads and caches again.
			failing.Store(false)
			if u, err := larder.Fetch(ctx, c, "user:1", load, opts...); err != nil || u.Name != "Ada" {
				t.Fatalf("after recovery: %+v, %v", u, err)
			}
			clk.Advance(30 * time.Second)
			before := loads.Load()
			if u, err := larder.Fetch(ctx, c, "user:1", load, opts...); err != nil || u.Name != "Ada" || loads.Load() != before {
				t.Fatalf("a hit after recovery: %+v, %v, %d loads", u, err, loads.Load()-before)
			}
		})
	}
}

// TestStaleWhileRevalidate: past its TTL but inside the window, Fetch
// answers at once with the old value while one background load runs; the
// refresh lands, and the next Fetch sees the new value without loading.
// Past the window the caller waits for a load.
func TestStaleWhileRevalidate(t *testing.T) {
	for _, name := range []string{"memory", "redis"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			clk := newFakeClock()
			c := clockedModes(clk)[name](t)
			var version, loads atomic.Int64
			version.Store(1)
			gate := make(chan struct{}, 1)
			gate <- struct{}{} // the first load goes through
			load := func(context.Context) (int64, error) {
				loads.Add(1)
				<-gate
				return version.Load(), nil
			}
			opts := []larder.FetchOption{larder.TTL(time.Minute), larder.StaleWhileRevalidate(time.Minute), larder.Jitter(0)}
			if v, err := larder.Fetch(ctx, c, "k", load, opts...); err != nil || v != 1 {
				t.Fatalf("first Fetch = %d, %v", v, err)
			}
			version.Store(2)
			clk.Advance(90 * time.Second)

			// The load is held at the gate: a Fetch that waited for it
			// would not return.
			for range 3 {
				v, err := larder.Fetch(ctx, c, "k", load, opts...)
				if err != nil || v != 1 {
					t.Fatalf("Fetch inside the window = %d, %v; want the old value 1 at once", v, err)
				}
			}
			waitFor(t, 5*time.Second, func() bool { return loads.Load() == 2 })
			if s := c.Stats().Fetch; s.Stale != 3 || s.Refreshes != 1 {
				t.Fatalf("Stats: stale %d, refreshes %d; want 3 and 1 (one background load for the three)", s.Stale, s.Refreshes)
			}
			gate <- struct{}{} // the refresh loads 2 and fills
			waitFor(t, 5*time.Second, func() bool {
				var v int64
				ok, _ := c.Get(ctx, "k", &v)
				return ok && v == 2
			})
			if v, err := larder.Fetch(ctx, c, "k", load, opts...); err != nil || v != 2 || loads.Load() != 2 {
				t.Fatalf("Fetch after the refresh = %d, %v (%d loads); want 2 from the cache", v, err, loads.Load())
			}
			s := c.Stats().Fetch
			t.Logf("%s: loads %d, stale answers %d, refreshes %d, fills %d", name, s.Loads, s.Stale, s.Refreshes, s.Fills)
			if s.Fills != 2 {
				t.Errorf("fills %d, want 2", s.Fills)
			}

			// Past the TTL and the window: the caller loads.
			version.Store(3)
			clk.Advance(2*time.Minute + time.Second)
			gate <- struct{}{}
			if v, err := larder.Fetch(ctx, c, "k", load, opts...); err != nil || v != 3 || loads.Load() != 3 {
				t.Fatalf("Fetch past the window = %d, %v (%d loads); want 3 loaded for the caller", v, err, loads.Load())
			}
			if s := c.Stats().Fetch; s.Stale != 3 {
				t.Errorf("stale answers %d past the window, want still 3", s.Stale)
			}
		})
	}
}
