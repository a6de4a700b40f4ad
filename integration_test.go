package larder_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/redistest"
	"github.com/larderhq/larder/internal/storetest"
	"github.com/larderhq/larder/memstore"
	"github.com/larderhq/larder/redisstore"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// modes builds one Cache per real store, so that the operation tests
// below run against each.
func modes(t *testing.T) map[string]func(t *testing.T, o larder.Options) *larder.Cache {
	m := map[string]func(t *testing.T, o larder.Options) *larder.Cache{}
	for _, mode := range storetest.Modes() {
		m[mode] = func(t *testing.T, o larder.Options) *larder.Cache {
			o.Store = storetest.Open(t, mode, nil)
			return newCache(t, o)
		}
	}
	return m
}

type profile struct {
	ID      int               `json:"id"`
	Name    string            `json:"name"`
	Tags    []string          `json:"tags"`
	Attrs   map[string]string `json:"attrs"`
	Score   float64           `json:"score"`
	Active  bool              `json:"active"`
	Created time.Time         `json:"created"`
	Manager *profile          `json:"manager,omitempty"`
}

// TestGuideOperations checks every basic operation (Set, Get, Exists,
// Clear, Count, Delete, expiry) and the JSON round trip of a value with
// nested structs, maps, times and non-ASCII text, against real stores.
func TestGuideOperations(t *testing.T) {
	for name, open := range modes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c := open(t, larder.Options{Namespace: "guide"})
			if !c.Enabled() || string(c.Mode()) != name {
				t.Fatalf("Enabled=%v Mode=%q", c.Enabled(), c.Mode())
			}
			want := profile{ID: 7, Name: "Ada Lovelace — ☃", Tags: []string{"a", "b"}, Attrs: map[string]string{"k": "v"},
				Score: 0.25, Active: true, Created: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Manager: &profile{ID: 1, Name: "Babbage"}}
			if err := c.Set(ctx, "user:7", want, time.Minute); err != nil {
				t.Fatal(err)
			}
			var got profile
			if ok, err := c.Get(ctx, "user:7", &got); !ok || err != nil {
				t.Fatalf("Get = %v, %v", ok, err)
			}
			if got.Name != want.Name || !got.Created.Equal(want.Created) || got.Manager.Name != "Babbage" || got.Attrs["k"] != "v" || len(got.Tags) != 2 {
				t.Fatalf("round trip: got %+v", got)
			}
			var m map[string]any
			if ok, _ := c.Get(ctx, "user:7", &m); !ok || m["name"] != want.Name {
				t.Fatalf("decoding into a map: %v %v", ok, m)
			}
			if ok, _ := c.Exists(ctx, "user:7"); !ok {
				t.Fatal("Exists = false")
			}
			for _, k := range []string{"user:1:profile", "user:1:settings", "user:2:profile", "users:list:1", "users:list:2", "user:*:x"} {
				if err := c.Set(ctx, k, k, 0); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := c.Clear(ctx, "users:list:*"); n != 2 || err != nil {
				t.Fatalf("Clear(users:list:*) = %d, %v; want 2", n, err)
			}
			if n, err := c.Clear(ctx, "user:"+larder.EscapeGlob("*")+":*"); n != 1 || err != nil {
				t.Fatalf("Clear of the literal * key = %d, %v; want 1", n, err)
			}
			if n, err := c.Clear(ctx, "user:1:*"); n != 2 || err != nil {
				t.Fatalf("Clear(user:1:*) = %d, %v; want 2", n, err)
			}
			if n, _ := c.Count(ctx, "*"); n != 2 {
				t.Fatalf("Count = %d, want 2 (user:7, user:2:profile)", n)
			}
			if n, _ := c.Delete(ctx, "user:7", "user:2:profile", "missing"); n != 2 {
				t.Fatalf("Delete = %d, want 2", n)
			}
			if ok, _ := c.Get(ctx, "user:7", &got); ok {
				t.Fatal("hit after Delete")
			}
			if err := c.Set(ctx, "short", 1, 50*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 2*time.Second, func() bool { ok, _ := c.Exists(ctx, "short"); return !ok })
			if err := c.Ping(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestUnencodableValuesStoreNothing(t *testing.T) {
	type cyclic struct{ Next *cyclic }
	loop := &cyclic{}
	loop.Next = loop
	for name, open := range modes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c := open(t, larder.Options{})
			for what, v := range map[string]any{"chan": make(chan int), "func": func() {}, "NaN": math.NaN(), "+Inf": math.Inf(1), "cycle": loop} {
				if err := c.Set(ctx, "bad:"+what, v, 0); !errors.Is(err, larder.ErrEncode) {
					t.Fatalf("Set(%s) = %v, want ErrEncode", what, err)
				}
				if ok, _ := c.Exists(ctx, "bad:"+what); ok {
					t.Fatalf("Set(%s) stored something", what)
				}
			}
			// A value that no longer fits the caller's type is a miss.
			if err := c.Set(ctx, "shape", []int{1, 2}, 0); err != nil {
				t.Fatal(err)
			}
			var p profile
			if ok, err := c.Get(ctx, "shape", &p); ok || err != nil {
				t.Fatalf("Get into the wrong type = %v, %v; want a miss", ok, err)
			}
			if c.Stats().Store.DecodeErrors != 1 {
				t.Fatalf("decode errors = %d", c.Stats().Store.DecodeErrors)
			}
		})
	}
}

// failOpenCalls are the calls TestRedisKilledFailsOpen makes of c during
// the fault; each reports whether it found anything.
func failOpenCalls(ctx context.Context, c *larder.Cache) []func() (bool, error) {
	return []func() (bool, error){
		func() (bool, error) { var s string; return c.Get(ctx, "k", &s) },
		func() (bool, error) { return false, c.Set(ctx, "k", "during", 0) },
		func() (bool, error) { n, err := c.Delete(ctx, "k"); return n > 0, err },
		func() (bool, error) { return c.Exists(ctx, "k") },
	}
}

// faultyCache returns a Cache with a 50 ms budget on a private server that
// holds k, and the server.
func faultyCache(tb testing.TB) (*larder.Cache, *redistest.Server) {
	tb.Helper()
	srv := redistest.Start(tb)
	store := storetest.Redis(tb, redisstore.Options{Addr: srv.Addr()})
	c, err := larder.New(larder.Options{Store: store, Timeout: failOpenBudget, ProbeInterval: 50 * time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	if err := c.Set(context.Background(), "k", "before", 0); err != nil {
		tb.Fatal(err)
	}
	return c, srv
}

const failOpenBudget = 50 * time.Millisecond

// TestRedisKilledFailsOpen: with the server killed or paused, every call
// returns by itself (the caller sets no deadline), as a miss and without
// an error, the failures are counted and open the breaker; after a
// restart the same Cache serves hits again. How soon each call returns
// (the budget plus 10 ms) is BenchmarkFailOpen's figure.
func TestRedisKilledFailsOpen(t *testing.T) {
	for _, fault := range []string{"killed", "paused"} {
		t.Run(fault, func(t *testing.T) {
			c, srv := faultyCache(t)
			ctx := context.Background()
			if fault == "killed" {
				srv.Kill()
			} else {
				srv.Pause()
			}
			for round := range 5 { // past the breaker threshold, so both paths are taken
				for i, call := range failOpenCalls(ctx, c) {
					var ok bool
					err := returns(t, func() error { var err error; ok, err = call(); return err })
					if err != nil || ok {
						t.Fatalf("round %d call %d = %v, %v; want a miss and no error", round, i, ok, err)
					}
				}
			}
			s := c.Stats()
			t.Logf("%s: store %+v, breaker %v", fault, s.Store, s.Breaker)
			if s.Breaker != larder.BreakerOpen || s.Store.Errors+s.Store.Timeouts == 0 {
				t.Fatalf("stats after the fault: %+v", s)
			}
			// Against a paused server nothing answers: only the budget
			// can have ended the calls the breaker let through.
			if fault == "paused" && s.Store.Timeouts == 0 {
				t.Fatalf("no timeouts against a paused server: %+v", s.Store)
			}
			if fault == "killed" {
				srv.Restart()
			} else {
				srv.Resume()
			}
			// The same Cache recovers by itself: the breaker's probe
			// closes it and writes land again.
			waitFor(t, 10*time.Second, func() bool {
				if err := c.Set(ctx, "k", "after", 0); err != nil {
					t.Fatal(err)
				}
				var v string
				ok, _ := c.Get(ctx, "k", &v)
				return ok && v == "after"
			})
		})
	}
}

// BenchmarkFailOpen is TestRedisKilledFailsOpen for its latency: each op
// is one of its calls (Get, Set, Delete, Exists in turn) against the
// killed or paused server, through the budget and the breaker (open most
// of the time, probing every 50 ms); it reports how long they took (p50,
// p99, max) and the p99 and max over the 50 ms budget (the bound
// is the budget plus 10 ms, 1.2).
func BenchmarkFailOpen(b *testing.B) {
	for _, fault := range []string{"killed", "paused"} {
		b.Run(fault, func(b *testing.B) {
			c, srv := faultyCache(b)
			if fault == "killed" {
				srv.Kill()
			} else {
				srv.Pause()
				b.Cleanup(srv.Resume)
			}
			calls := failOpenCalls(context.Background(), c)
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				ok, err := calls[i%len(calls)]()
				lat = append(lat, time.Since(start))
				if err != nil || ok {
					b.Fatalf("call %d = %v, %v; want a miss and no error", i%len(calls), ok, err)
				}
			}
			b.StopTimer()
			reportBudget(b, lat, failOpenBudget)
		})
	}
}

// TestCloseLeavesNothingRunning checks that Close ends every goroutine
// the Cache and its store started, connected or not.
func TestCloseLeavesNothingRunning(t *testing.T) {
	srv := redistest.Shared(t)
	opts := append(redistest.LeakOptions(), goleak.IgnoreCurrent())
	for name, open := range map[string]func() (driver.Store, error){
		"memory": func() (driver.Store, error) { return memstore.New(memstore.Options{}) },
		"redis":  func() (driver.Store, error) { return redisstore.New(redisstore.Options{Addr: srv.Addr()}) },
		"redis unreachable": func() (driver.Store, error) {
			return redisstore.New(redisstore.Options{Addr: "127.0.0.1:1"})
		},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := open()
			if err != nil {
				t.Fatal(err)
			}
			c, err := larder.New(larder.Options{Store: s, BreakerThreshold: 1, ProbeInterval: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			_ = c.Set(context.Background(), "k", 1, 0)
			_, _ = c.Get(context.Background(), "k", new(int))
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			goleak.VerifyNone(t, opts...)
		})
	}
}
