package redisstore

import (
	"bytes"
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/larderhq/larder/internal/redistest"
)

// benchValue is about the size of the ~200-byte JSON values the design's
// published figures use.
var benchValue = bytes.Repeat([]byte("x"), 200)

// benchParallelism gives RunParallel 64 goroutines on the design's two
// cores (32 per GOMAXPROCS), the concurrency of the published figures; with
// one goroutine per core the benchmarks would measure round-trip latency
// rather than what auto-pipelining sustains.
const benchParallelism = 32

// benchKeys is how many keys the benchmarks spread their calls over.
const benchKeys = 1024

// benchStore returns a store on a server of the benchmark's own, so that
// other tests do not disturb the figures, with benchKeys keys loaded.
func benchStore(b *testing.B) *Store {
	b.Helper()
	srv := redistest.Start(b)
	s := newStore(b, Options{Addr: srv.Addr()})
	ctx := ctxFor(b, 10*time.Second)
	for i := range benchKeys {
		if err := s.Set(ctx, "bench:"+strconv.Itoa(i), benchValue, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkGetHit measures Get of a present ~200-byte value from many
// goroutines, with the per-call budget the cache uses, so that the cost of
// enforcing deadlines is included.
func BenchmarkGetHit(b *testing.B) {
	s := benchStore(b)
	var next atomic.Int64
	b.SetBytes(int64(len(benchValue)))
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key := "bench:" + strconv.Itoa(int(next.Add(1)%benchKeys))
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			v, err := s.Get(ctx, key)
			cancel()
			if err != nil || len(v) != len(benchValue) {
				b.Fatalf("Get = %d bytes, %v", len(v), err)
			}
		}
	})
}

// BenchmarkGetHitRueidis is the same workload sent straight through
// rueidis, the baseline for BenchmarkGetHit.
func BenchmarkGetHitRueidis(b *testing.B) {
	s := benchStore(b)
	c := s.Client()
	var next atomic.Int64
	b.SetBytes(int64(len(benchValue)))
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key := "bench:" + strconv.Itoa(int(next.Add(1)%benchKeys))
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			v, err := c.Do(ctx, c.B().Get().Key(key).Build()).AsBytes()
			cancel()
			if err != nil || len(v) != len(benchValue) {
				b.Fatalf("GET = %d bytes, %v", len(v), err)
			}
		}
	})
}

// BenchmarkSet measures Set of a ~200-byte value from many goroutines.
func BenchmarkSet(b *testing.B) {
	s := benchStore(b)
	var next atomic.Int64
	b.SetBytes(int64(len(benchValue)))
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			key := "bench:" + strconv.Itoa(int(next.Add(1)%benchKeys))
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := s.Set(ctx, key, benchValue, time.Hour)
			cancel()
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
