package larder_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/cachetest"
	"github.com/larderhq/larder/internal/redistest"
	"github.com/larderhq/larder/internal/storetest"
	"github.com/larderhq/larder/memstore"
	"github.com/larderhq/larder/redisstore"
)

// instances returns two Caches over one store, as two processes of a
// service see it: in redis mode two clients of one redis-server, in memory
// mode one memstore under two Caches (each with its own single-flight, so
// they contend only through the store's leases).
func instances(t *testing.T, mode string) (a, b *larder.Cache) {
	t.Helper()
	// A generous budget: a lease write abandoned under -race would make
	// these tests about fail-open, not about leases.
	o := larder.Options{Timeout: 5 * time.Second}
	switch mode {
	case "memory":
		o.Store = storetest.Memory(t, memstore.Options{})
		return newCache(t, o), newCache(t, o)
	case "redis":
		srv := redistest.Shared(t)
		db := srv.FreshDB()
		var cs [2]*larder.Cache
		for i := range cs {
			o.Store = storetest.Redis(t, redisstore.Options{Addr: srv.Addr(), DB: db})
			cs[i] = newCache(t, o)
		}
		return cs[0], cs[1]
	}
	t.Fatalf("unknown mode %q", mode)
	return nil, nil
}

// observer returns a Cache over c's store without an local tier, so
// that what it reads is what the store holds, whatever c's own tier kept.
func observer(t *testing.T, c *larder.Cache) *larder.Cache {
	t.Helper()
	return newCache(t, larder.Options{Store: c.Store(), LocalMaxBytes: -1, Timeout: 5 * time.Second})
}

// hooks dispatches a Cache's fill hook by full key, so that trials running
// in parallel on distinct keys each pause their own filler.
type hooks struct{ m sync.Map } // full key → func()

func (h *hooks) run(full string) {
	if f, ok := h.m.Load(full); ok {
		f.(func())()
	}
}

// waitGone polls until key is absent from the store (a lease has expired)
// and reports whether it went within limit. It does not end the test, so
// that hooks, which run on the filler's goroutine, may call it.
func waitGone(c *larder.Cache, key string, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if ok, err := c.Store().Exists(context.Background(), c.Key(key)); err == nil && !ok {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

const (
	// leaseTTL is the paused holder's lease: short, so that 100 trials
	// are quick, and long enough that its load and fill would fit in it
	// without the pause.
	leaseTTL = 25 * time.Millisecond
	// leaseTrials per case and mode, leaseParallel of them at a time on
	// distinct keys.
	leaseTrials   = 100
	leaseParallel = 20
	// deadLeaseTTL is the dead holder's lease: long enough that it never
	// runs out by itself during the test, since it must outlive the time b
	// takes to reach its first read (else b never sees the lease and
	// proves nothing); the test ends it once b waits on it.
	deadLeaseTTL = time.Minute
	// leaseExpiry bounds the wait for a lease to expire: far above
	// leaseTTL, only so that a lease that never expires fails the test
	// instead of hanging it.
	leaseExpiry = 5 * time.Second
)

// TestLeaseExpiredHolderFillRejected: a filler paused past its lease TTL
// must not fill. Instance a loads "first" and pauses in its fill hook until
// its lease has expired; meanwhile instance b fetches the same key with a
// loader that says "second". When a resumes, its compare-and-swap of the
// lease must fail, whatever b has done in between: a's fill is counted as
// dropped and the store holds b's value, or nothing. 0 of 100 trials may
// be accepted.
func TestLeaseExpiredHolderFillRejected(t *testing.T) {
	for _, mode := range []string{"memory", "redis"} {
		for _, tc := range []struct {
			name string
			// meanwhile runs in a's hook once a's lease has expired, with
			// b and the key; it returns once the store is as the case
			// wants it when a resumes, and finish (if not nil) is called
			// after a's Fetch has returned.
			meanwhile func(t *testing.T, b *larder.Cache, bh *hooks, key string) (finish func())
			// want is what the key must hold at the end ("" for nothing).
			want string
		}{
			{
				// The case: b found the key free and filled it.
				name: "refilled by another instance",
				meanwhile: func(t *testing.T, b *larder.Cache, _ *hooks, key string) func() {
					if v, err := larder.Fetch(context.Background(), b, key, loadString("second"), larder.LeaseTTL(time.Minute)); err != nil || v != "second" {
						t.Errorf("%s: b's Fetch = %q, %v", key, v, err)
					}
					return nil
				},
				want: "second",
			},
			{
				// Nobody came: the expired lease is simply gone, and an
				// absent key must not match the old lease either.
				name:      "expired with nobody else",
				meanwhile: func(*testing.T, *larder.Cache, *hooks, string) func() { return nil },
				want:      "",
			},
			{
				// b holds a lease of its own (it is loading) when a
				// resumes: a must not overwrite b's lease, and b's fill
				// must still land afterwards.
				name: "another instance holds a new lease",
				meanwhile: func(t *testing.T, b *larder.Cache, bh *hooks, key string) func() {
					inHook, release := make(chan struct{}), make(chan struct{})
					bh.m.Store(b.Key(key), func() { close(inHook); <-release })
					done := make(chan struct{})
					go func() {
						defer close(done)
						if v, err := larder.Fetch(context.Background(), b, key, loadString("second"), larder.LeaseTTL(time.Minute)); err != nil || v != "second" {
							t.Errorf("%s: b's Fetch = %q, %v", key, v, err)
						}
					}()
					<-inHook // b has its lease and has loaded
					return func() { close(release); <-done }
				},
				want: "second",
			},
		} {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				a, b := instances(t, mode)
				var ah, bh hooks
				larder.SetFillHook(a, ah.run)
				larder.SetFillHook(b, bh.run)
				obs := observer(t, a)
				ctx := context.Background()
				sem := make(chan struct{}, leaseParallel)
				var wg sync.WaitGroup
				for trial := range leaseTrials {
					key := "lease:" + strconv.Itoa(trial)
					var finish func()
					ah.m.Store(a.Key(key), func() {
						if !waitGone(a, key, leaseExpiry) {
							t.Errorf("%s: a's lease did not expire within %v", key, leaseExpiry)
							return
						}
						finish = tc.meanwhile(t, b, &bh, key)
					})
					sem <- struct{}{}
					wg.Go(func() {
						defer func() { <-sem }()
						if v, err := larder.Fetch(ctx, a, key, loadString("first"), larder.LeaseTTL(leaseTTL)); err != nil || v != "first" {
							// a answers with what it loaded, cached or not.
							t.Errorf("%s: a's Fetch = %q, %v", key, v, err)
						}
						if finish != nil {
							finish()
						}
						var got string
						ok, err := obs.Get(ctx, key, &got)
						switch {
						case err != nil:
							t.Errorf("%s: Get: %v", key, err)
						case tc.want == "" && ok:
							t.Errorf("%s: holds %q, want nothing", key, got)
						case tc.want != "" && (!ok || got != tc.want):
							t.Errorf("%s: holds %q (found %v), want %q", key, got, ok, tc.want)
						}
					})
				}
				wg.Wait()
				// Every fill a made is an accepted fill by a lease holder
				// paused past its TTL.
				fs := a.Stats().Fetch
				t.Logf("%d trials: %d fills of the paused holder accepted, %d dropped", leaseTrials, fs.Fills, fs.FillsDropped)
				if fs.Fills != 0 || fs.FillsDropped != leaseTrials {
					t.Errorf("paused holder: %d fills accepted, %d dropped; want 0 and %d", fs.Fills, fs.FillsDropped, leaseTrials)
				}
				if s := a.Stats().Store; s.Errors+s.Timeouts > 0 {
					t.Errorf("store failures: %+v", s)
				}
			})
		}
	}
}

// TestLeaseDeadHolderBlocksAtMostTTL: a filler that dies holding its lease
// (here: its loader never returns) blocks other instances' fills of that
// key only until the lease expires. b waits on a's lease with a LeaseWait
// far longer than the LeaseTTL; once b is waiting, the lease's TTL runs
// out (in memory mode the injected clock passes it; in redis mode the
// lease is checked to carry its TTL and then expired as that TTL would,
// since Redis expires keys by its own clock). That b then fills, instead
// of giving up and loading without writing, shows the lease stopped
// blocking at its TTL. Nothing here depends on how soon b gets to the
// lease: its TTL runs out only once b waits on it.
func TestLeaseDeadHolderBlocksAtMostTTL(t *testing.T) {
	for _, mode := range []string{"memory", "redis"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			clk := newFakeClock()
			a, b := clockedInstances(t, mode, clk)
			const key = "dead"
			loading, revive := make(chan struct{}), make(chan struct{})
			aDone := make(chan struct{})
			go func() {
				defer close(aDone)
				_, _ = larder.Fetch(ctx, a, key, func(context.Context) (string, error) {
					close(loading)
					<-revive // dead until the end of the test
					return "zombie", nil
				}, larder.LeaseTTL(deadLeaseTTL))
			}()
			<-loading
			type res struct {
				v   string
				err error
			}
			bDone := make(chan res, 1)
			go func() {
				v, err := larder.Fetch(ctx, b, key, loadString("alive"), larder.LeaseTTL(time.Hour), larder.LeaseWait(10*deadLeaseTTL))
				bDone <- res{v, err}
			}()
			waitFor(t, leaseExpiry, func() bool { return b.Stats().Fetch.LeaseWaits > 0 })
			expireLease(t, mode, clk, a, key)
			var r res
			select {
			case r = <-bDone:
			case <-time.After(leaseExpiry):
				t.Fatalf("b still waits %v after a's lease expired: %+v", leaseExpiry, b.Stats().Fetch)
			}
			if r.err != nil || r.v != "alive" {
				t.Fatalf("b's Fetch = %q, %v", r.v, r.err)
			}
			fs := b.Stats().Fetch
			t.Logf("b waited on a lease of %v until it expired, then filled (fills %d, lease waits %d)", deadLeaseTTL, fs.Fills, fs.LeaseWaits)
			if fs.LeaseWaits != 1 || fs.Fills != 1 {
				t.Fatalf("b: %d lease waits, %d fills; want 1 and 1 (it waited on the dead lease, then filled)", fs.LeaseWaits, fs.Fills)
			}
			// The dead holder coming back must not overwrite b's value.
			close(revive)
			<-aDone
			var got string
			obs := observer(t, a)
			if mode == "memory" {
				// Entries carry their expiries on clk.
				obs = newCache(t, larder.Options{Store: a.Store(), LocalMaxBytes: -1, Timeout: 5 * time.Second, Clock: clk})
			}
			if ok, err := obs.Get(ctx, key, &got); err != nil || !ok || got != "alive" {
				t.Fatalf("after the dead holder came back: Get = %q, %v, %v; want alive", got, ok, err)
			}
			if fs := a.Stats().Fetch; fs.Fills != 0 || fs.FillsDropped != 1 {
				t.Fatalf("dead holder: %d fills, %d dropped; want 0 and 1", fs.Fills, fs.FillsDropped)
			}
		})
	}
}

// clockedInstances is instances with, in memory mode, the store and both
// Caches on clk, so that the test decides when a lease expires. In redis
// mode the Caches keep the system clock: Redis expires keys by its own.
func clockedInstances(t *testing.T, mode string, clk *cachetest.Clock) (a, b *larder.Cache) {
	t.Helper()
	if mode != "memory" {
		return instances(t, mode)
	}
	o := larder.Options{Store: storetest.Memory(t, memstore.Options{Clock: clk}), Clock: clk, Timeout: 5 * time.Second}
	return newCache(t, o), newCache(t, o)
}

// expireLease makes the lease under key (held by c's instance) expire as
// its TTL would: in memory mode by moving clk past deadLeaseTTL; in redis
// mode, after checking that Redis holds the lease with a TTL of at most
// deadLeaseTTL, by ending that TTL now.
func expireLease(t *testing.T, mode string, clk *cachetest.Clock, c *larder.Cache, key string) {
	t.Helper()
	if mode == "memory" {
		clk.Advance(deadLeaseTTL + time.Millisecond)
		return
	}
	rc := c.Store().(*redisstore.Store).Client()
	ctx := context.Background()
	ttl, err := rc.Do(ctx, rc.B().Pttl().Key(c.Key(key)).Build()).AsInt64()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 0 || time.Duration(ttl)*time.Millisecond > deadLeaseTTL {
		t.Fatalf("the lease's TTL in Redis is %d ms, want within (0, %v]", ttl, deadLeaseTTL)
	}
	if err := rc.Do(ctx, rc.B().Pexpire().Key(c.Key(key)).Milliseconds(1).Build()).Error(); err != nil {
		t.Fatal(err)
	}
}

// TestLeaseLiveHolderNotTakenOver: while a holds a live lease, b must
// neither fill nor take the lease over: it waits LeaseWait, then answers
// from its own load without writing, and a's fill still lands. (Fetch once
// swapped out a lease it read as if it were an old value, so every other
// instance stole the lease at once.)
func TestLeaseLiveHolderNotTakenOver(t *testing.T) {
	for _, mode := range []string{"memory", "redis"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			a, b := instances(t, mode)
			const key = "live"
			inHook, resume := make(chan struct{}), make(chan struct{})
			larder.SetFillHook(a, func(string) { close(inHook); <-resume })
			aDone := make(chan struct{})
			go func() {
				defer close(aDone)
				if v, err := larder.Fetch(ctx, a, key, loadString("first"), larder.LeaseTTL(time.Minute)); err != nil || v != "first" {
					t.Errorf("a's Fetch = %q, %v", v, err)
				}
			}()
			<-inHook // a holds its lease and has loaded
			v, err := larder.Fetch(ctx, b, key, loadString("second"), larder.LeaseWait(30*time.Millisecond))
			if err != nil || v != "second" {
				t.Fatalf("b's Fetch = %q, %v; want its own load", v, err)
			}
			if fs := b.Stats().Fetch; fs.LeaseWaits != 1 || fs.Fills != 0 || fs.FillsDropped != 0 {
				t.Fatalf("b: %d lease waits, %d fills, %d dropped; want 1, 0, 0", fs.LeaseWaits, fs.Fills, fs.FillsDropped)
			}
			close(resume)
			<-aDone
			if fs := a.Stats().Fetch; fs.Fills != 1 || fs.FillsDropped != 0 {
				t.Fatalf("a: %d fills, %d dropped; want 1, 0: its lease was taken", fs.Fills, fs.FillsDropped)
			}
			var got string
			if ok, err := observer(t, b).Get(ctx, key, &got); err != nil || !ok || got != "first" {
				t.Fatalf("Get = %q, %v, %v; want first", got, ok, err)
			}
		})
	}
}

func loadString(s string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return s, nil }
}
