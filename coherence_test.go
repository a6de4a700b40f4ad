package larder_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/internal/redistest"
	"github.com/larderhq/larder/internal/storetest"
	"github.com/larderhq/larder/redisstore"
)

// instance is one larder Cache in redis mode with its local tier, as
// one machine of a service would have.
func instance(t *testing.T, srv *redistest.Server, db int) *larder.Cache {
	t.Helper()
	return instanceAt(t, srv.Addr(), db)
}

// instanceAt is instance for a server this process did not start.
func instanceAt(tb testing.TB, addr string, db int) *larder.Cache {
	tb.Helper()
	s := storetest.Redis(tb, redisstore.Options{Addr: addr, DB: db, TrackingPrefixes: []string{"coh:"}})
	// A budget no loaded machine exceeds: a write abandoned at the
	// default 50 ms is dropped (fail open, by design) and never reaches
	// the other instance, which would make these tests about fail-open,
	// not about coherence.
	c, err := larder.New(larder.Options{Store: s, Namespace: "coh", Timeout: 10 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// coherenceWait bounds the wait for B to see a write in the tests: far
// above any lag, only so that a write B never sees fails the test instead
// of hanging it. How soon B sees it (the 50 ms) is a wall-clock
// figure, which BenchmarkCoherence reports.
const coherenceWait = 10 * time.Second

// coherenceTrial writes i under key through a while b holds the key's old
// value in its tier, and reads on b until it sees i. It reports whether a
// read on a right after the write missed it, how long b took, and whether
// b saw i within coherenceWait.
func coherenceTrial(a, b *larder.Cache, key string, i int) (staleOnA bool, lag time.Duration, seen bool, err error) {
	ctx := context.Background()
	var v int
	_, _ = b.Get(ctx, key, &v) // B holds the old value in its tier
	if err := a.Set(ctx, key, i, time.Minute); err != nil {
		return false, 0, false, err
	}
	written := time.Now()
	if ok, _ := a.Get(ctx, key, &v); !ok || v != i {
		staleOnA = true
	}
	for {
		if ok, _ := b.Get(ctx, key, &v); ok && v == i {
			return staleOnA, time.Since(written), true, nil
		}
		if time.Since(written) > coherenceWait {
			return staleOnA, time.Since(written), false, nil
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// coherentPair returns two instances on a private server, both tracking.
func coherentPair(tb testing.TB) (a, b *larder.Cache) {
	tb.Helper()
	srv := redistest.Start(tb)
	a, b = instanceAt(tb, srv.Addr(), 0), instanceAt(tb, srv.Addr(), 0)
	waitUntil(tb, 5*time.Second, func() bool {
		return a.Stats().LocalCoherence == "tracking" && b.Stats().LocalCoherence == "tracking"
	})
	return a, b
}

// TestTwoInstancesStayCoherent: after a write through A returns, A sees it
// at once and B's next reads see it, in every trial, while B serves from
// its tier in between (BenchmarkCoherence reports how soon).
func TestTwoInstancesStayCoherent(t *testing.T) {
	a, b := coherentPair(t)
	const trials = 10000
	keys := 64
	var lags []time.Duration
	staleOnA := 0
	for i := range trials {
		stale, lag, seen, err := coherenceTrial(a, b, fmt.Sprintf("k%d", i%keys), i)
		if err != nil {
			t.Fatal(err)
		}
		if !seen {
			t.Fatalf("trial %d: B does not see A's write %v after it returned; A's store calls: %+v; B's: %+v, tier %+v",
				i, coherenceWait, a.Stats().Store, b.Stats().Store, b.Stats().Local)
		}
		if stale {
			staleOnA++
		}
		lags = append(lags, lag)
	}
	slices.Sort(lags)
	p := func(q float64) time.Duration { return lags[int(q*float64(len(lags)-1))] }
	sb := b.Stats()
	t.Logf("%d trials: B saw A's write after p50 %v, p99 %v, max %v; stale reads on A: %d; B's tier: %d hits, %d invalidation messages",
		trials, p(0.5), p(0.99), lags[len(lags)-1], staleOnA, sb.Local.Hits, sb.Local.Invalidations)
	if staleOnA != 0 {
		t.Fatalf("coherence: %d stale reads on A right after its own write", staleOnA)
	}
	if sb.Local.Hits == 0 {
		t.Fatal("B never served from its tier: the test did not exercise it")
	}
}

// BenchmarkCoherence is TestTwoInstancesStayCoherent for its lag: each op
// is one trial; it reports how long B took to see A's write (p50, p99,
// max) and the share of trials over the 50 ms (late/op, the
// issue's bound is 0), and fails only if B never sees a write:
//
//	go test -run '^$' -bench 'Coherence' -benchtime 10000x .
func BenchmarkCoherence(b *testing.B) {
	a, c := coherentPair(b)
	lags := make([]time.Duration, 0, b.N)
	late, stale := 0, 0
	b.ResetTimer()
	for i := range b.N {
		s, lag, seen, err := coherenceTrial(a, c, fmt.Sprintf("k%d", i%64), i)
		if err != nil || !seen {
			b.Fatalf("trial %d: err %v, seen %v", i, err, seen)
		}
		if s {
			stale++
		}
		if lag > 50*time.Millisecond {
			late++
		}
		lags = append(lags, lag)
	}
	b.StopTimer()
	reportLags(b, lags, late)
	b.ReportMetric(float64(stale)/float64(b.N), "stale-on-A/op")
}

// reportLags reports the p50, p99 and max of lags and late per op.
func reportLags(b *testing.B, lags []time.Duration, late int) {
	b.ReportMetric(float64(percentile(lags, 0.5).Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(percentile(lags, 0.99).Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(percentile(lags, 1).Nanoseconds()), "max-ns")
	b.ReportMetric(float64(late)/float64(b.N), "late/op")
}

// waitUntil is waitFor for a testing.TB.
func waitUntil(tb testing.TB, limit time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("condition not met within %v", limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWriteByHandIsSeen: a change made with a raw client (redis-cli) drops
// the key from every tier too.
func TestWriteByHandIsSeen(t *testing.T) {
	srv := redistest.Start(t)
	a := instance(t, srv, 0)
	ctx := context.Background()
	waitFor(t, 5*time.Second, func() bool { return a.Stats().LocalCoherence == "tracking" })
	for i := range 200 {
		_ = a.Set(ctx, "hand", "cached", time.Minute)
		var v string
		_, _ = a.Get(ctx, "hand", &v)
		_, _ = a.Get(ctx, "hand", &v) // from the tier
		if err := srv.Do("DEL", "coh:hand").Error(); err != nil {
			t.Fatal(err)
		}
		// Seen at all, not how soon: BenchmarkCoherence reports the lag
		// of the same invalidation messages.
		waitFor(t, coherenceWait, func() bool { ok, _ := a.Get(ctx, "hand", &v); return !ok })
		_ = i
	}
}

// TestRestartFlushesTiers: after Redis restarts (losing everything), no
// instance serves a value older than the restart's last write.
func TestRestartFlushesTiers(t *testing.T) {
	srv := redistest.Start(t)
	a, b := instance(t, srv, 0), instance(t, srv, 0)
	ctx := context.Background()
	waitFor(t, 5*time.Second, func() bool { return b.Stats().LocalCoherence == "tracking" })
	_ = a.Set(ctx, "r", "before", time.Minute)
	var v string
	_, _ = b.Get(ctx, "r", &v)
	_, _ = b.Get(ctx, "r", &v) // in B's tier
	srv.Kill()
	srv.Restart() // empty: the old value is gone from Redis
	// From the restart on, B must never answer "before": its tier was
	// dropped when its connection died.
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		if ok, _ := b.Get(ctx, "r", &v); ok && v == "before" {
			t.Fatal("B served a value from before the restart")
		}
	}
	waitFor(t, 10*time.Second, func() bool {
		_ = a.Set(ctx, "r", "after", time.Minute)
		ok, _ := b.Get(ctx, "r", &v)
		return ok && v == "after"
	})
	if ok, _ := b.Get(ctx, "r", &v); ok && v == "before" {
		t.Fatal("B served the value from before the restart")
	}
}
