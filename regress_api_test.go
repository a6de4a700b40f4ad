package larder_test

// Regression tests for issue 8, items 7 to 10 (see regress_test.go).

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/redistest"
	"github.com/larderhq/larder/internal/storetest"
	"github.com/larderhq/larder/memstore"
	"github.com/larderhq/larder/redisstore"
)

// panicChildEnv carries the store of TestRegressLoaderPanicChild:
// "memory", or "redis <addr> <db>".
const panicChildEnv = "LARDER_REGRESS_PANIC_CHILD"

// TestRegressLoaderPanic is issue 8, item 7: a loader that panics comes
// back to every waiter of its Fetch as an error wrapping ErrPanic, and
// the process keeps running. It runs in a child process, since today the
// panic kills the process it happens in, which would hide every other
// test of this binary.
func TestRegressLoaderPanic(t *testing.T) {
	for _, mode := range regressModes {
		t.Run(mode, func(t *testing.T) {
			env := mode
			if mode == "redis" {
				srv := redistest.Shared(t)
				env = fmt.Sprintf("redis %s %d", srv.Addr(), srv.FreshDB())
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestRegressLoaderPanicChild$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), panicChildEnv+"="+env)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "--- PASS: TestRegressLoaderPanicChild") {
				t.Fatalf("the child process: %v\n%s", err, tail(out, 40))
			}
		})
	}
}

func tail(b []byte, lines int) string {
	l := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}

// TestRegressLoaderPanicChild is the body of TestRegressLoaderPanic, run
// in a child process; it is skipped when run otherwise.
func TestRegressLoaderPanicChild(t *testing.T) {
	spec := os.Getenv(panicChildEnv)
	if spec == "" {
		t.Skip("runs as the child process of TestRegressLoaderPanic")
	}
	var s driver.Store
	var err error
	if f := strings.Fields(spec); f[0] == "redis" {
		db, _ := strconv.Atoi(f[2])
		s, err = redisstore.New(redisstore.Options{Addr: f[1], DB: db})
	} else {
		s, err = memstore.New(memstore.Options{})
	}
	if err != nil {
		t.Fatal(err)
	}
	c := newCache(t, larder.Options{Store: s, Timeout: 5 * time.Second})
	ctx := context.Background()

	release := make(chan struct{})
	var loads atomic.Int64
	load := func(context.Context) (string, error) {
		loads.Add(1)
		<-release
		panic("kaboom")
	}
	const waiters = 8
	errs := make([]error, waiters)
	ids := make(chan int64, waiters)
	var wg sync.WaitGroup
	for i := range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids <- goid()
			_, errs[i] = larder.Fetch(ctx, c, "boom:1", load)
		}()
	}
	for range waiters {
		waitParked(t, <-ids, func() bool { return false })
	}
	close(release)
	wg.Wait()
	for i, err := range errs {
		var pe *larder.PanicError
		switch {
		case !errors.Is(err, larder.ErrPanic):
			t.Errorf("waiter %d: Fetch error %v; want one wrapping ErrPanic", i, err)
		case !errors.As(err, &pe):
			t.Errorf("waiter %d: Fetch error %v is no *PanicError", i, err)
		case pe.Value != "kaboom" || len(pe.Stack) == 0:
			t.Errorf("waiter %d: PanicError value %v, %d bytes of stack; want kaboom and a stack", i, pe.Value, len(pe.Stack))
		}
	}
	t.Logf("%d loads for %d waiters", loads.Load(), waiters)
	// Still running, and the key is usable.
	if v, err := larder.Fetch(ctx, c, "boom:1", func(context.Context) (string, error) { return "ok", nil }); err != nil || v != "ok" {
		t.Errorf("Fetch after the panic = %q, %v", v, err)
	}
}

// refusingTracker is a redisstore that cannot widen its tracking.
type refusingTracker struct{ *redisstore.Store }

func (refusingTracker) Track(prefix string) error {
	return errors.New("cannot track " + prefix)
}

// trackRecorder is a redisstore that records the prefixes a Cache asks it
// to track.
type trackRecorder struct {
	*redisstore.Store
	mu       sync.Mutex
	prefixes []string
}

func (r *trackRecorder) Track(prefix string) error {
	r.mu.Lock()
	r.prefixes = append(r.prefixes, prefix)
	r.mu.Unlock()
	return r.Store.Track(prefix)
}

func (r *trackRecorder) tracked() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.prefixes...)
}

// TestRegressTrackingCoverage is issue 8, item 8: a hand-built redisstore
// whose tracking prefixes do not cover the Cache's namespace served stale
// data for LocalTTL while Stats said "tracking". New now registers the
// namespace with Track: a store that can widen its tracking covers it
// (and a write elsewhere reaches the tier); one that cannot must not be
// called "tracking", and a write made elsewhere must be seen once
// LocalFallbackTTL (not LocalTTL) has passed.
func TestRegressTrackingCoverage(t *testing.T) {
	for _, tc := range []struct {
		name     string
		prefixes []string
		refuse   bool // Track fails: the store cannot cover the namespace
	}{
		{"other prefix", []string{"other:"}, false},
		{"no prefixes", nil, false},
		{"track refused", []string{"other:"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			srv := redistest.Shared(t)
			db := srv.FreshDB()
			rs := storetest.Redis(t, redisstore.Options{Addr: srv.Addr(), DB: db, TrackingPrefixes: tc.prefixes})
			var s driver.Store = rs
			if tc.refuse {
				s = &refusingTracker{rs}
			}
			clk := newFakeClock()
			a := newCache(t, larder.Options{Store: s, Namespace: "cov", Clock: clk, Timeout: 5 * time.Second,
				LocalTTL: time.Minute, LocalFallbackTTL: time.Second})
			if tc.refuse {
				if lc := a.Stats().LocalCoherence; lc == "tracking" {
					t.Errorf("LocalCoherence = %q though Track was refused", lc)
				}
			} else {
				waitFor(t, 10*time.Second, func() bool { return a.Stats().LocalCoherence == "tracking" })
			}
			if err := a.Set(ctx, "k", "v1", time.Hour); err != nil {
				t.Fatal(err)
			}
			var got string
			if ok, _ := a.Get(ctx, "k", &got); !ok || got != "v1" {
				t.Fatalf("Get = %v, %q", ok, got)
			}
			// Another instance writes behind a's back.
			other := storetest.Redis(t, redisstore.Options{Addr: srv.Addr(), DB: db})
			b := newCache(t, larder.Options{Store: other, Namespace: "cov", Clock: clk, LocalMaxBytes: -1, Timeout: 5 * time.Second})
			if err := b.Set(ctx, "k", "v2", time.Hour); err != nil {
				t.Fatal(err)
			}
			if tc.refuse {
				clk.Advance(time.Second + time.Millisecond)
				if ok, _ := a.Get(ctx, "k", &got); !ok || got != "v2" {
					t.Errorf("past LocalFallbackTTL a serves %q (hit %v); want v2, written elsewhere", got, ok)
				}
				return
			}
			waitFor(t, 10*time.Second, func() bool { ok, _ := a.Get(ctx, "k", &got); return ok && got == "v2" })
		})
	}
	t.Run("covered", func(t *testing.T) {
		srv := redistest.Shared(t)
		s := storetest.Redis(t, redisstore.Options{Addr: srv.Addr(), DB: srv.FreshDB(), TrackingPrefixes: []string{"cov:"}})
		r := &trackRecorder{Store: s}
		c := newCache(t, larder.Options{Store: r, Namespace: "cov", Timeout: 5 * time.Second})
		// The namespace first; then the prefix of the Cache's heartbeats,
		// which live beside the namespace (see Options.LocalLag).
		if got := r.tracked(); len(got) == 0 || got[0] != "cov:" || len(got) > 2 || (len(got) == 2 && got[1] != "_larder_hb:cov:") {
			t.Errorf("New called Track with %q; want [cov: _larder_hb:cov:]", got)
		}
		if err := c.Set(context.Background(), "k", 1, 0); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, func() bool { return c.Stats().LocalCoherence == "tracking" })
	})
}

type withFunc struct {
	Name string
	F    func() `json:"f"`
}

// TestRegressProgrammingErrors is issue 8, item 9: bad destinations and
// bad options are typed errors at the call, an unencodable loader result
// comes back beside an error wrapping ErrEncode, and a first "not found"
// is a *NotFoundError as a negative-cache hit is.
func TestRegressProgrammingErrors(t *testing.T) {
	for _, mode := range regressModes {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			c := newRegressRig(t, mode, larder.Options{}).c
			if err := c.Set(ctx, "k", "v", time.Minute); err != nil {
				t.Fatal(err)
			}
			t.Run("destination", func(t *testing.T) {
				var s string
				for _, key := range []string{"k", "absent"} {
					for _, d := range []struct {
						what string
						dst  any
					}{{"nil", nil}, {"a non-pointer", s}, {"a nil pointer", (*string)(nil)}} {
						if ok, err := c.Get(ctx, key, d.dst); ok || !errors.Is(err, larder.ErrInvalidDestination) {
							t.Errorf("Get(%s, %s) = %v, %v; want ErrInvalidDestination", key, d.what, ok, err)
						}
					}
				}
			})
			load := func(context.Context) (string, error) { return "v", nil }
			t.Run("ttl", func(t *testing.T) {
				if _, err := larder.Fetch(ctx, c, "opt", load, larder.TTL(-time.Second)); !errors.Is(err, larder.ErrInvalidTTL) {
					t.Errorf("Fetch with TTL(-1s) = %v; want ErrInvalidTTL", err)
				}
			})
			t.Run("options", func(t *testing.T) {
				for _, o := range []struct {
					what string
					opt  larder.FetchOption
				}{
					{"Jitter(5)", larder.Jitter(5)},
					{"Jitter(-1)", larder.Jitter(-1)},
					{"NegativeTTL(-1s)", larder.NegativeTTL(-time.Second)},
					{"LeaseTTL(-1s)", larder.LeaseTTL(-time.Second)},
					{"LeaseWait(-1s)", larder.LeaseWait(-time.Second)},
					{"StaleIfError(-1s)", larder.StaleIfError(-time.Second)},
					{"StaleWhileRevalidate(-1s)", larder.StaleWhileRevalidate(-time.Second)},
					{"EarlyRefresh(-1)", larder.EarlyRefresh(-1)},
					{"Version(nil)", larder.Version[string](nil)},
					{"a nil FetchOption", nil},
				} {
					what, opt := o.what, o.opt
					func() {
						defer func() {
							if p := recover(); p != nil {
								t.Errorf("Fetch with %s panicked: %v", what, p)
							}
						}()
						if _, err := larder.Fetch(ctx, c, "opt", load, larder.Jitter(0.1), opt); !errors.Is(err, larder.ErrInvalidOptions) {
							t.Errorf("Fetch with %s = %v; want ErrInvalidOptions", what, err)
						}
					}()
				}
			})
			t.Run("unencodable", func(t *testing.T) {
				ch := make(chan int)
				if v, err := larder.Fetch(ctx, c, "enc:chan", func(context.Context) (chan int, error) { return ch, nil }); v != ch || !errors.Is(err, larder.ErrEncode) {
					t.Errorf("Fetch of a chan = %v, %v; want the value and ErrEncode", v, err)
				}
				if v, err := larder.Fetch(ctx, c, "enc:func", func(context.Context) (withFunc, error) { return withFunc{"f", func() {}}, nil }); v.F == nil || !errors.Is(err, larder.ErrEncode) {
					t.Errorf("Fetch of a func field = %+v, %v; want the value and ErrEncode", v, err)
				}
				if v, err := larder.Fetch(ctx, c, "enc:inf", func(context.Context) (float64, error) { return math.Inf(1), nil }); !math.IsInf(v, 1) || !errors.Is(err, larder.ErrEncode) {
					t.Errorf("Fetch of +Inf = %v, %v; want the value and ErrEncode", v, err)
				}
			})
			t.Run("not found", func(t *testing.T) {
				var loads atomic.Int64
				missing := func(context.Context) (user, error) {
					loads.Add(1)
					return user{}, fmt.Errorf("user 9: %w", larder.ErrNotFound)
				}
				for i, from := range []string{"the loader", "the negative cache"} {
					_, err := larder.Fetch(ctx, c, "user:9", missing, larder.NegativeTTL(time.Minute))
					var nf *larder.NotFoundError
					if !errors.Is(err, larder.ErrNotFound) || !errors.As(err, &nf) {
						t.Errorf("not found from %s: %v (%T); want a *NotFoundError", from, err, err)
					}
					if loads.Load() != 1 {
						t.Errorf("after Fetch %d: %d loads; want 1", i+1, loads.Load())
					}
				}
			})
		})
	}
}

// TestRegressBorrowedStore is issue 8, item 10: Caches that borrow a
// store leave it open when they close, so several namespaces can share one;
// a Cache that owns its store still closes it.
func TestRegressBorrowedStore(t *testing.T) {
	for _, mode := range regressModes {
		t.Run(mode, func(t *testing.T) {
			ctx := context.Background()
			s := newRegressRig(t, mode, larder.Options{}).s.inner
			a, err := larder.New(larder.Options{Store: s, Namespace: "a", BorrowStore: true})
			if err != nil {
				t.Fatal(err)
			}
			b := newCache(t, larder.Options{Store: s, Namespace: "b", BorrowStore: true, Timeout: 5 * time.Second})
			if err := a.Set(ctx, "k", "a", 0); err != nil {
				t.Fatal(err)
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			if err := s.Ping(ctx); err != nil {
				t.Errorf("the store after a borrower closed: Ping = %v; want it open", err)
			}
			if err := b.Set(ctx, "k", "b", 0); err != nil {
				t.Fatal(err)
			}
			var got string
			if ok, err := b.Get(ctx, "k", &got); !ok || err != nil || got != "b" {
				t.Errorf("the other namespace's Get after a borrower closed = %v, %v, %q; want a hit", ok, err, got)
			}
			owner, err := larder.New(larder.Options{Store: s, Namespace: "owner"})
			if err != nil {
				t.Fatal(err)
			}
			if err := owner.Close(); err != nil {
				t.Fatal(err)
			}
			if err := s.Ping(ctx); !errors.Is(err, larder.ErrClosed) {
				t.Errorf("Ping after the owner closed = %v; want ErrClosed", err)
			}
		})
	}
}
