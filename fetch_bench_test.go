package larder_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/internal/redistest"
	"github.com/larderhq/larder/internal/storetest"
	"github.com/larderhq/larder/memstore"
	"github.com/larderhq/larder/redisstore"
)

// The benchmark line of the issue: Fetch on a hit costs no more than 10 %
// over a plain Get of the same value, measured in the same run (the
// fetch/get column of BenchmarkFetchHitVsGetHit, or the ns/op of
// BenchmarkFetchHit over BenchmarkGetHit):
//
//	go test -run '^$' -bench 'FetchHit|GetHit' -benchmem -count 5 .
//
// Both read one key holding the same ~200-byte JSON value, written by Set,
// from b.RunParallel goroutines, in memory mode and in redis mode (a
// redis-server of the benchmark's own), with the Cache's default options
// (which put an local tier in front of Redis) and, as
// redis-local-off, without that tier, so that every call reaches Redis.
// They report; they assert nothing about time. misses/op (Get) and
// loads/op (Fetch) should read 0: anything else means some calls were not
// hits (the store failing open) and the figure is not of hits alone.

// benchUser encodes to about 200 bytes of JSON.
type benchUser struct {
	ID      int       `json:"id"`
	Name    string    `json:"name"`
	Email   string    `json:"email"`
	Roles   []string  `json:"roles"`
	Active  bool      `json:"active"`
	Score   float64   `json:"score"`
	Created time.Time `json:"created"`
	Bio     string    `json:"bio"`
}

var benchUserValue = benchUser{
	ID: 42, Name: "Ada Lovelace", Email: "ada@example.com", Roles: []string{"admin", "editor"},
	Active: true, Score: 0.75, Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	Bio: "Mathematician; wrote the first published algorithm for a machine.",
}

const benchKey = "user:42"

// benchParallel is RunParallel's goroutines per GOMAXPROCS in redis mode,
// as in redisstore's benchmarks: many callers, so that the figure is what
// auto-pipelining sustains rather than one round trip per core.
const benchParallel = 32

// benchCaches returns, for each mode, a Cache holding benchKey (written by
// Set), built once per benchmark function so that the sub-benchmarks'
// b.N rounds share it.
func benchCaches(b *testing.B) []struct {
	name string
	c    *larder.Cache
} {
	b.Helper()
	mem := storetest.Memory(b, memstore.Options{})
	srv := redistest.Start(b)
	rs := storetest.Redis(b, redisstore.Options{Addr: srv.Addr()})
	rs2 := storetest.Redis(b, redisstore.Options{Addr: srv.Addr(), DB: 1})
	out := []struct {
		name string
		c    *larder.Cache
	}{{"memory", nil}, {"redis", nil}, {"redis-local-off", nil}}
	for i, o := range []larder.Options{
		{Store: mem},
		{Store: rs},                     // the defaults: an local tier in front of Redis
		{Store: rs2, LocalMaxBytes: -1}, // every call goes to Redis
	} {
		// A budget that a loaded two-core machine does not exceed: with
		// the default 50 ms, 64 goroutines beside other test runs
		// sometimes time out, the breaker opens, and the figure becomes
		// that of failing open (misses/op > 0). The budget's timer costs
		// the same either way.
		o.Timeout = time.Second
		c, err := larder.New(o)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close() })
		warm(b, c) // measured: a cold client's first burst times out and opens the breaker
		// The redis store connects in the background and the cache fails
		// open until it has: write until the value reads back.
		for deadline := time.Now().Add(10 * time.Second); ; {
			if err := c.Set(context.Background(), benchKey, benchUserValue, time.Hour); err != nil {
				b.Fatal(err)
			}
			var u benchUser
			if ok, _ := c.Get(context.Background(), benchKey, &u); ok {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s: the value does not read back", out[i].name)
			}
			time.Sleep(5 * time.Millisecond)
		}
		out[i].c = c
	}
	return out
}

func BenchmarkGetHit(b *testing.B) {
	for _, m := range benchCaches(b) {
		b.Run(m.name, func(b *testing.B) {
			ctx := context.Background()
			if m.name != "memory" {
				b.SetParallelism(benchParallel)
			}
			var misses atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					var u benchUser
					ok, err := m.c.Get(ctx, benchKey, &u)
					switch {
					case err != nil || (ok && u.ID != 42):
						b.Errorf("Get = %v, %v, %+v", ok, err, u)
						return
					case !ok:
						misses.Add(1) // the store failed open: not a hit
					}
				}
			})
			b.StopTimer()
			// Should be 0: anything else means the figure is not of hits.
			b.ReportMetric(float64(misses.Load())/float64(b.N), "misses/op")
		})
	}
}

func BenchmarkFetchHit(b *testing.B) {
	for _, m := range benchCaches(b) {
		b.Run(m.name, func(b *testing.B) {
			ctx := context.Background()
			var loads atomic.Int64
			load := func(context.Context) (benchUser, error) {
				loads.Add(1)
				return benchUserValue, nil
			}
			if m.name != "memory" {
				b.SetParallelism(benchParallel)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					// As an application writes it: the options inline.
					u, err := larder.Fetch(ctx, m.c, benchKey, load, larder.TTL(time.Hour))
					if err != nil || u.ID != 42 {
						b.Errorf("Fetch = %+v, %v", u, err)
						return
					}
				}
			})
			b.StopTimer()
			// Should be 0: a load is a miss (or the store failing open).
			b.ReportMetric(float64(loads.Load())/float64(b.N), "loads/op")
		})
	}
}

// TestBenchValueSize keeps the benchmarks' value at the size the issue
// names.
func TestBenchValueSize(t *testing.T) {
	data, err := json.Marshal(benchUserValue)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(data); n < 180 || n > 220 {
		t.Fatalf("benchmark value encodes to %d bytes, want about 200", n)
	}
}
