package larder_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/internal/redistest"
	"github.com/larderhq/larder/internal/storetest"
	"github.com/larderhq/larder/memstore"
	"github.com/larderhq/larder/redisstore"
	"github.com/larderhq/larder/telemetry"
)

// Regression tests: each reproduces a way the API broke (a value it did
// not write, tagged entries out of reach, versions going backwards, clock
// skew, panics, programming errors, a shared store) and checks the fix.

// TestForeignBytesAreReplaced: bytes larder did not write under a cached
// key (by hand, a future envelope format, a truncated entry) are replaced
// by the next Fetch, with one load, instead of making it spin.
func TestForeignBytesAreReplaced(t *testing.T) {
	for name, open := range modes(t) {
		for _, foreign := range []struct {
			name string
			raw  []byte
		}{
			{"garbage", []byte("garbage{{")},
			{"future format", append([]byte{'L', 99}, make([]byte, 60)...)},
			{"truncated", []byte{'L', 2, 0, 1, 2}},
		} {
			t.Run(name+"/"+foreign.name, func(t *testing.T) {
				ctx := context.Background()
				c := open(t, larder.Options{})
				if err := c.Store().Set(ctx, c.Key("user:7"), foreign.raw, time.Minute); err != nil {
					t.Fatal(err)
				}
				var loads atomic.Int64
				load := func(context.Context) (string, error) { loads.Add(1); return "seven", nil }
				for range 3 {
					v, err := fetchGuarded(t, ctx, c, "user:7", load)
					if err != nil || v != "seven" {
						t.Fatalf("Fetch = %q, %v; want seven", v, err)
					}
				}
				if n := loads.Load(); n != 1 {
					t.Fatalf("%d loads, want 1 (the foreign bytes replaced by the first)", n)
				}
				var got string
				if ok, err := c.Get(ctx, "user:7", &got); !ok || err != nil || got != "seven" {
					t.Fatalf("Get after the fill = %v, %v, %q; want the filled value", ok, err, got)
				}
			})
		}
	}
}

// fetchGuarded is Fetch that fails the test instead of hanging.
func fetchGuarded[T any](t *testing.T, ctx context.Context, c *larder.Cache, key string, load func(context.Context) (T, error), opts ...larder.FetchOption) (T, error) {
	t.Helper()
	type res struct {
		v   T
		err error
	}
	ch := make(chan res, 1)
	go func() {
		v, err := larder.Fetch(ctx, c, key, load, opts...)
		ch <- res{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-time.After(30 * time.Second):
		t.Fatalf("Fetch(%s) did not return in 30 s", key)
	}
	panic("unreachable")
}

// TestWrongTypeKeyDoesNotSpin: a key of another Redis type under a cached
// key (WRONGTYPE) makes Fetch load and answer without writing, within a
// bounded number of store calls, and a Fetch with a deadline returns.
func TestWrongTypeKeyDoesNotSpin(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Shared(t)
	db := srv.FreshDB()
	s := storetest.Redis(t, redisstore.Options{Addr: srv.Addr(), DB: db})
	c := newCache(t, larder.Options{Store: s, LocalMaxBytes: -1, BreakerThreshold: 1000})
	cl := s.Client()
	if err := cl.Do(ctx, cl.B().Rpush().Key(c.Key("list")).Element("x").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	before := c.Stats().Store
	var loads atomic.Int64
	load := func(context.Context) (int, error) { loads.Add(1); return 7, nil }
	dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	v, err := fetchGuarded(t, dctx, c, "list", load)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Fetch = %d, %v; want the loader's value or the deadline", v, err)
	}
	after := c.Stats().Store
	if calls := (after.Errors + after.Hits + after.Misses) - (before.Errors + before.Hits + before.Misses); calls > 20 {
		t.Fatalf("%d store reads for one Fetch of a WRONGTYPE key, want a bounded few", calls)
	}
	if loads.Load() != 1 {
		t.Fatalf("%d loads, want 1", loads.Load())
	}
}

// TestTaggedEntriesAreReachable: a tagged entry lives under its own key,
// so Delete, Exists, Get and Clear reach it.
func TestTaggedEntriesAreReachable(t *testing.T) {
	for name, open := range modes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c := open(t, larder.Options{})
			var loads atomic.Int64
			load := func(context.Context) (string, error) { loads.Add(1); return "page", nil }
			fetch := func() {
				if _, err := larder.Fetch(ctx, c, "list:1", load, larder.Tags("lists")); err != nil {
					t.Fatal(err)
				}
			}
			fetch()
			if ok, _ := c.Exists(ctx, "list:1"); !ok {
				t.Fatal("Exists(list:1) = false after a tagged fill")
			}
			var v string
			if ok, _ := c.Get(ctx, "list:1", &v); !ok || v != "page" {
				t.Fatalf("Get(list:1) = %v, %q after a tagged fill", ok, v)
			}
			if n, _ := c.Delete(ctx, "list:1"); n != 1 {
				t.Fatalf("Delete(list:1) removed %d, want 1", n)
			}
			if ok, _ := c.Exists(ctx, "list:1"); ok {
				t.Fatal("Exists(list:1) = true after Delete")
			}
			fetch()
			if n, _ := c.Clear(ctx, "list:*"); n != 1 {
				t.Fatalf("Clear(list:*) removed %d, want 1", n)
			}
			fetch()
			if err := c.InvalidateTags(ctx, "lists"); err != nil {
				t.Fatal(err)
			}
			if ok, _ := c.Get(ctx, "list:1", &v); ok {
				t.Fatal("Get found the entry after its tag was invalidated")
			}
			fetch()
			if n := loads.Load(); n != 4 {
				t.Fatalf("%d loads, want 4 (first, after Delete, after Clear, after InvalidateTags)", n)
			}
		})
	}
}

type vrow struct {
	V   int64  `json:"v"`
	Bio string `json:"bio"`
}

func vrowVersion(r vrow) int64 { return r.V }

// TestVersionsSurviveFills: with the Version option, fills and
// write-through compare the same versions, in both directions.
func TestVersionsSurviveFills(t *testing.T) {
	for name, open := range modes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c := open(t, larder.Options{})
			// A reader filled v2; the delayed write-through of v1 lands.
			load2 := func(context.Context) (vrow, error) { return vrow{2, "two"}, nil }
			if _, err := larder.Fetch(ctx, c, "a", load2, larder.Version(vrowVersion)); err != nil {
				t.Fatal(err)
			}
			if ok, _ := c.SetVersioned(ctx, "a", vrow{1, "one"}, 1, time.Minute); ok {
				t.Fatal("SetVersioned(v1) replaced a fill of v2")
			}
			var got vrow
			if ok, _ := c.Get(ctx, "a", &got); !ok || got.V != 2 {
				t.Fatalf("Get(a) = %v, %+v; want v2", ok, got)
			}
			// A reader's fill of v2 holds the lease; the delayed v1 lands
			// meanwhile; the fill must still leave v2.
			var once sync.Once
			larder.SetFillHook(c, func(full string) {
				if full != c.Key("b") {
					return
				}
				once.Do(func() {
					if ok, err := c.SetVersioned(ctx, "b", vrow{1, "one"}, 1, time.Minute); !ok || err != nil {
						t.Errorf("SetVersioned(v1) over a lease = %v, %v; want it stored", ok, err)
					}
				})
			})
			if _, err := larder.Fetch(ctx, c, "b", load2, larder.Version(vrowVersion)); err != nil {
				t.Fatal(err)
			}
			larder.SetFillHook(c, nil)
			if ok, _ := c.Get(ctx, "b", &got); !ok || got.V != 2 {
				t.Fatalf("Get(b) = %v, %+v; want v2 (the fill is newer than the write-through)", ok, got)
			}
		})
	}
}

type skewClock struct{ skew time.Duration }

func (c skewClock) Now() time.Time { return time.Now().Add(c.skew) }

// TestSkewedWriterDoesNotGoBackwards: a writer whose clock runs ahead does
// not judge a live entry expired and overwrite it with an older version.
func TestSkewedWriterDoesNotGoBackwards(t *testing.T) {
	for _, mode := range []string{"memory", "redis"} {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			a, _ := instances(t, mode)
			b := newCache(t, larder.Options{Store: a.Store(), BorrowStore: true, Clock: skewClock{3 * time.Second}, LocalMaxBytes: -1})
			if ok, _ := a.SetVersioned(ctx, "vrow", vrow{5, "five"}, 5, 2*time.Second); !ok {
				t.Fatal("SetVersioned(v5) refused")
			}
			if ok, _ := b.SetVersioned(ctx, "vrow", vrow{4, "four"}, 4, time.Minute); ok {
				t.Fatal("the skewed writer replaced a live v5 with v4")
			}
			var got vrow
			if ok, _ := b.Get(ctx, "vrow", &got); ok && got.V != 5 {
				t.Fatalf("Get = %+v, want v5", got)
			}
		})
	}
}

// TestLoaderPanicIsAnError: every waiter of a panicking loader gets an
// error wrapping ErrPanic, with the value and a stack; the process lives.
func TestLoaderPanicIsAnError(t *testing.T) {
	for name, open := range modes(t) {
		t.Run(name, func(t *testing.T) {
			c := open(t, larder.Options{})
			release := make(chan struct{})
			load := func(context.Context) (int, error) { <-release; panic("boom") }
			const waiters = 8
			errs := make(chan error, waiters)
			for range waiters {
				go func() {
					_, err := larder.Fetch(context.Background(), c, "p", load)
					errs <- err
				}()
			}
			close(release)
			for range waiters {
				err := <-errs
				var pe *larder.PanicError
				if !errors.Is(err, larder.ErrPanic) || !errors.As(err, &pe) || pe.Value != "boom" || len(pe.Stack) == 0 {
					t.Fatalf("Fetch = %v; want a PanicError wrapping ErrPanic with the value and a stack", err)
				}
			}
		})
	}
}

// TestProgrammingErrorsAreTyped: bad destinations and options are errors
// at the call, not misses; an unencodable loaded value comes back with
// ErrEncode; NotFoundError is had on the first "not found" too.
func TestProgrammingErrorsAreTyped(t *testing.T) {
	ctx := context.Background()
	s := storetest.Memory(t, memstore.Options{})
	c := newCache(t, larder.Options{Store: s})
	load := func(context.Context) (int, error) { return 1, nil }
	var notPointer int
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"Get nil", func() error { _, err := c.Get(ctx, "k", nil); return err }(), larder.ErrInvalidDestination},
		{"Get non-pointer", func() error { _, err := c.Get(ctx, "k", notPointer); return err }(), larder.ErrInvalidDestination},
		{"TTL(-1s)", fetchErr(ctx, c, load, larder.TTL(-time.Second)), larder.ErrInvalidTTL},
		{"Jitter(5)", fetchErr(ctx, c, load, larder.Jitter(5)), larder.ErrInvalidOptions},
		{"Jitter(-1)", fetchErr(ctx, c, load, larder.Jitter(-1)), larder.ErrInvalidOptions},
		{"NegativeTTL(-1s)", fetchErr(ctx, c, load, larder.NegativeTTL(-time.Second)), larder.ErrInvalidOptions},
		{"LeaseTTL(-1s)", fetchErr(ctx, c, load, larder.LeaseTTL(-time.Second)), larder.ErrInvalidOptions},
		{"LeaseWait(-1s)", fetchErr(ctx, c, load, larder.LeaseWait(-time.Second)), larder.ErrInvalidOptions},
		{"StaleIfError(-1s)", fetchErr(ctx, c, load, larder.StaleIfError(-time.Second)), larder.ErrInvalidOptions},
		{"EarlyRefresh(-1)", fetchErr(ctx, c, load, larder.EarlyRefresh(-1)), larder.ErrInvalidOptions},
		{"nil option", fetchErr(ctx, c, load, nil), larder.ErrInvalidOptions},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.want) {
				t.Fatalf("err = %v, want %v", tc.err, tc.want)
			}
		})
	}
	t.Run("unencodable value", func(t *testing.T) {
		ch := make(chan int)
		v, err := larder.Fetch(ctx, c, "chan", func(context.Context) (chan int, error) { return ch, nil })
		if v != ch || !errors.Is(err, larder.ErrEncode) {
			t.Fatalf("Fetch = %v, %v; want the value and ErrEncode", v, err)
		}
	})
	t.Run("NotFoundError on the first not-found", func(t *testing.T) {
		missing := func(context.Context) (int, error) { return 0, larder.ErrNotFound }
		for i := range 2 {
			_, err := larder.Fetch(ctx, c, "missing", missing, larder.NegativeTTL(time.Minute))
			var nf *larder.NotFoundError
			if !errors.As(err, &nf) || nf.Key != "missing" {
				t.Fatalf("call %d: err = %v, want a *NotFoundError", i, err)
			}
		}
	})
}

func fetchErr(ctx context.Context, c *larder.Cache, load func(context.Context) (int, error), opt larder.FetchOption) error {
	_, err := larder.Fetch(ctx, c, "k", load, opt)
	return err
}

// TestBorrowedStoreStaysOpen: two namespaces share one store; closing one
// Cache leaves the store to its owner.
func TestBorrowedStoreStaysOpen(t *testing.T) {
	for name, open := range modes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			owner := open(t, larder.Options{Namespace: "one"})
			borrower, err := larder.New(larder.Options{Store: owner.Store(), Namespace: "two", BorrowStore: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := borrower.Set(ctx, "k", 2, 0); err != nil {
				t.Fatal(err)
			}
			if err := borrower.Close(); err != nil {
				t.Fatal(err)
			}
			if err := owner.Set(ctx, "k", 1, 0); err != nil {
				t.Fatal(err)
			}
			var v int
			if ok, _ := owner.Get(ctx, "k", &v); !ok || v != 1 {
				t.Fatalf("after the borrower closed, the owner's Get = %v, %d; want a hit", ok, v)
			}
		})
	}
}

// TestUncoveredTrackingIsNotClaimed: a hand-built redisstore gets the
// Cache's namespace tracked by New; Stats says "tracking" only then.
func TestUncoveredTrackingIsNotClaimed(t *testing.T) {
	srv := redistest.Shared(t)
	db := srv.FreshDB()
	s := storetest.Redis(t, redisstore.Options{Addr: srv.Addr(), DB: db})
	a := newCache(t, larder.Options{Store: s, Namespace: "hand"})
	waitFor(t, 10*time.Second, func() bool { return a.Stats().LocalCoherence == "tracking" })
	ctx := context.Background()
	if err := a.Set(ctx, "k", 1, 0); err != nil {
		t.Fatal(err)
	}
	var v int
	if ok, _ := a.Get(ctx, "k", &v); !ok {
		t.Fatal("Get missed")
	}
	// A write behind the tier's back, by another instance.
	s2 := storetest.Redis(t, redisstore.Options{Addr: srv.Addr(), DB: db})
	b := newCache(t, larder.Options{Store: s2, Namespace: "hand", LocalMaxBytes: -1})
	if err := b.Set(ctx, "k", 2, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, func() bool { ok, _ := a.Get(ctx, "k", &v); return ok && v == 2 })
}

// TestRefusedKeyDoesNotTripBreaker: a per-key refusal (WRONGTYPE) is the
// key's fault, not the server's: the breaker stays closed.
func TestRefusedKeyDoesNotTripBreaker(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Shared(t)
	s := storetest.Redis(t, redisstore.Options{Addr: srv.Addr(), DB: srv.FreshDB()})
	c := newCache(t, larder.Options{Store: s, LocalMaxBytes: -1, BreakerThreshold: 2})
	cl := s.Client()
	if err := cl.Do(ctx, cl.B().Rpush().Key(c.Key("list")).Element("x").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if v, err := larder.Fetch(ctx, c, "list", func(context.Context) (int, error) { return 7, nil }); err != nil || v != 7 {
			t.Fatalf("Fetch = %d, %v", v, err)
		}
	}
	if st := c.Stats(); st.Breaker != larder.BreakerClosed || st.Store.Errors == 0 {
		t.Fatalf("breaker %s with %d errors counted; want closed, errors counted", st.Breaker, st.Store.Errors)
	}
}

// TestOneCountingPath: Stats and the Recorder count the same things under
// the same names: a fill is a Set (not a lease), InvalidateTags is an
// invalidation (not a Delete), and reading a tag's generation is no miss.
func TestOneCountingPath(t *testing.T) {
	for name, open := range modes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			rec := &recorder{}
			c := open(t, larder.Options{Recorder: rec, LocalMaxBytes: -1})
			load := func(context.Context) (string, error) { return "page", nil }
			if _, err := larder.Fetch(ctx, c, "list:1", load, larder.Tags("lists")); err != nil {
				t.Fatal(err)
			}
			if err := c.InvalidateTags(ctx, "lists"); err != nil {
				t.Fatal(err)
			}
			st := c.Stats().Store
			if st.Misses != 1 || st.Sets != 1 || st.Deletes != 0 {
				t.Fatalf("Stats: %d misses, %d sets, %d deletes; want 1 miss (the entry), 1 set (the fill), 0 deletes", st.Misses, st.Sets, st.Deletes)
			}
			if n := rec.count(telemetry.OpSet, telemetry.OutcomeOK); n != 1 {
				t.Fatalf("Recorder: %d sets, want 1 (the fill)", n)
			}
			if n := rec.count(telemetry.OpGet, telemetry.OutcomeMiss); n != 1 {
				t.Fatalf("Recorder: %d get misses, want 1", n)
			}
			if rec.count(telemetry.OpDelete, telemetry.OutcomeOK) != 0 || rec.count(telemetry.OpInvalidate, telemetry.OutcomeOK) != 1 {
				t.Fatalf("Recorder: InvalidateTags counted as %d deletes and %d invalidations, want 0 and 1",
					rec.count(telemetry.OpDelete, telemetry.OutcomeOK), rec.count(telemetry.OpInvalidate, telemetry.OutcomeOK))
			}
		})
	}
}

// TestDeletedVersionStaysBehind: an older write-through that arrives after
// the newer entry was deleted (or expired) is refused: the newest version
// written outlives the entry. Without it the older value came back.
func TestDeletedVersionStaysBehind(t *testing.T) {
	for name, open := range modes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c := open(t, larder.Options{})
			if ok, _ := c.SetVersioned(ctx, "row", vrow{2, "two"}, 2, time.Minute); !ok {
				t.Fatal("SetVersioned(v2) refused")
			}
			if n, _ := c.Delete(ctx, "row"); n != 1 {
				t.Fatalf("Delete = %d", n)
			}
			if ok, _ := c.SetVersioned(ctx, "row", vrow{1, "one"}, 1, time.Minute); ok {
				t.Fatal("a late SetVersioned(v1) after v2 was deleted was stored")
			}
			var got vrow
			if ok, _ := c.Get(ctx, "row", &got); ok {
				t.Fatalf("Get = %+v, want a miss", got)
			}
			if ok, _ := c.SetVersioned(ctx, "row", vrow{3, "three"}, 3, time.Minute); !ok {
				t.Fatal("SetVersioned(v3) refused")
			}
		})
	}
}
