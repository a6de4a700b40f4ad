package larder_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/internal/redistest"
	"github.com/larderhq/larder/redisstore"
)

// instance is one larder Cache in redis mode with its in-process tier, as
// one machine of a service would have.
func instance(t *testing.T, srv *redistest.Server, db int) *larder.Cache {
	t.Helper()
	return instanceAt(t, srv.Addr(), db)
}

// instanceAt is instance for a server this process did not start.
func instanceAt(t *testing.T, addr string, db int) *larder.Cache {
	t.Helper()
	s, err := redisstore.New(redisstore.Options{Addr: addr, DB: db, TrackingPrefixes: []string{"coh:"}})
	if err != nil {
		t.Fatal(err)
	}
	return newCache(t, larder.Options{Store: s, Namespace: "coh"})
}

// TestTwoInstancesStayCoherent: after a write through A returns, B's next
// reads see the new value within 50 ms, in every trial; A sees it at once.
func TestTwoInstancesStayCoherent(t *testing.T) {
	srv := redistest.Start(t)
	a, b := instance(t, srv, 0), instance(t, srv, 0)
	ctx := context.Background()
	waitFor(t, 5*time.Second, func() bool {
		return a.Stats().LocalCoherence == "tracking" && b.Stats().LocalCoherence == "tracking"
	})
	const trials = 10000
	keys := 64
	var lags []time.Duration
	staleOnA := 0
	for i := range trials {
		key := fmt.Sprintf("k%d", i%keys)
		var v int
		_, _ = b.Get(ctx, key, &v) // B holds the old value in its tier
		if err := a.Set(ctx, key, i, time.Minute); err != nil {
			t.Fatal(err)
		}
		written := time.Now()
		if ok, _ := a.Get(ctx, key, &v); !ok || v != i {
			staleOnA++
		}
		for {
			if ok, _ := b.Get(ctx, key, &v); ok && v == i {
				lags = append(lags, time.Since(written))
				break
			}
			if time.Since(written) > time.Second {
				t.Fatalf("trial %d: B still serves %d a second after A wrote %d", i, v, i)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	slices.Sort(lags)
	p := func(q float64) time.Duration { return lags[int(q*float64(len(lags)-1))] }
	within := 0
	for _, l := range lags {
		if l <= 50*time.Millisecond {
			within++
		}
	}
	sb := b.Stats()
	t.Logf("%d trials: B saw A's write after p50 %v, p99 %v, max %v; %d/%d within 50ms; stale reads on A: %d; B's tier: %d hits, %d invalidation messages",
		trials, p(0.5), p(0.99), lags[len(lags)-1], within, trials, staleOnA, sb.Local.Hits, sb.Local.Invalidations)
	if within != trials || staleOnA != 0 {
		t.Fatalf("coherence: %d/%d within 50ms, %d stale reads on A", within, trials, staleOnA)
	}
	if sb.Local.Hits == 0 {
		t.Fatal("B never served from its tier: the test did not exercise it")
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
		waitFor(t, 50*time.Millisecond, func() bool { ok, _ := a.Get(ctx, "hand", &v); return !ok })
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
