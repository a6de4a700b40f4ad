package larder_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/cachetest"
	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/telemetry"
	"go.uber.org/goleak"
)

type user struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

func newCache(t *testing.T, o larder.Options) *larder.Cache {
	t.Helper()
	c, err := larder.New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestOffMode(t *testing.T) {
	ctx := context.Background()
	c := newCache(t, larder.Options{})
	if c.Enabled() || c.Mode() != driver.ModeOff {
		t.Fatalf("Enabled=%v Mode=%q, want false, off", c.Enabled(), c.Mode())
	}
	if err := c.Set(ctx, "k", user{1, "a"}, 0); err != nil {
		t.Fatalf("Set: %v", err)
	}
	var u user
	if ok, err := c.Get(ctx, "k", &u); ok || err != nil {
		t.Fatalf("Get = %v, %v; want miss", ok, err)
	}
	if ok, err := c.Exists(ctx, "k"); ok || err != nil {
		t.Fatalf("Exists = %v, %v; want false", ok, err)
	}
	if n, err := c.Delete(ctx, "k"); n != 0 || err != nil {
		t.Fatalf("Delete = %d, %v", n, err)
	}
	if n, err := c.Clear(ctx, "*"); n != 0 || err != nil {
		t.Fatalf("Clear = %d, %v", n, err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	// Unencodable values fail in development too, so the bug shows early.
	if err := c.Set(ctx, "k", make(chan int), 0); !errors.Is(err, larder.ErrEncode) {
		t.Fatalf("Set(chan) = %v, want ErrEncode", err)
	}
	if s := c.Stats(); s.Breaker != larder.BreakerNone || s.Mode != driver.ModeOff {
		t.Fatalf("Stats = %+v", s)
	}
}

func TestNamespaceAndRoundTrip(t *testing.T) {
	ctx := context.Background()
	f := newFakeStore()
	c := newCache(t, larder.Options{Store: f, Namespace: "app"})
	if err := c.Set(ctx, "user:1", user{1, "Ada"}, 0); err != nil {
		t.Fatal(err)
	}
	if got := f.keys(); len(got) != 1 || got[0] != "app:user:1" {
		t.Fatalf("store keys = %q, want [app:user:1]", got)
	}
	if f.ttl("app:user:1") != larder.DefaultTTL {
		t.Fatalf("ttl = %v, want default %v", f.ttl("app:user:1"), larder.DefaultTTL)
	}
	var u user
	if ok, err := c.Get(ctx, "user:1", &u); !ok || err != nil || u != (user{1, "Ada"}) {
		t.Fatalf("Get = %v, %v, %+v", ok, err, u)
	}
	if ok, _ := c.Exists(ctx, "user:1"); !ok {
		t.Fatal("Exists = false after Set")
	}
	if n, _ := c.Delete(ctx, "user:1", "user:2"); n != 1 {
		t.Fatalf("Delete = %d, want 1", n)
	}
	if c.Key("x") != "app:x" || c.Namespace() != "app" || c.Mode() != driver.ModeCustom {
		t.Fatalf("Key=%q Namespace=%q Mode=%q", c.Key("x"), c.Namespace(), c.Mode())
	}
	s := c.Stats().Store
	if s.Hits != 1 || s.Sets != 1 || s.Deletes != 1 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestClearPatternIsConfinedAndEscaped(t *testing.T) {
	ctx := context.Background()
	f := newFakeStore()
	c := newCache(t, larder.Options{Store: f, Namespace: "v[1]*"})
	if _, err := c.Clear(ctx, "user:*"); err != nil {
		t.Fatal(err)
	}
	if want := `v\[1\]\*:user:*`; f.last != want {
		t.Fatalf("pattern sent = %q, want %q", f.last, want)
	}
	if _, err := c.Clear(ctx, ""); !errors.Is(err, larder.ErrInvalidPattern) {
		t.Fatalf("Clear(\"\") = %v, want ErrInvalidPattern", err)
	}
}

func TestEscapeGlob(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"a*b", `a\*b`},
		{"a?b", `a\?b`},
		{"[x]", `\[x\]`},
		{`back\slash`, `back\\slash`},
		{"", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := larder.EscapeGlob(tc.in); got != tc.want {
				t.Fatalf("EscapeGlob(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestInvalidInput(t *testing.T) {
	ctx := context.Background()
	c := newCache(t, larder.Options{Store: newFakeStore()})
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"empty key", c.Set(ctx, "", 1, 0), larder.ErrInvalidKey},
		{"long key", c.Set(ctx, strings.Repeat("k", larder.MaxKeyLen+1), 1, 0), larder.ErrInvalidKey},
		{"negative ttl", c.Set(ctx, "k", 1, -time.Second), larder.ErrInvalidTTL},
		{"NaN", c.Set(ctx, "k", math.NaN(), 0), larder.ErrEncode},
		{"func", c.Set(ctx, "k", func() {}, 0), larder.ErrEncode},
		{"get empty key", func() error { _, err := c.Get(ctx, "", new(int)); return err }(), larder.ErrInvalidKey},
		{"delete empty key", func() error { _, err := c.Delete(ctx, "a", ""); return err }(), larder.ErrInvalidKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.want) {
				t.Fatalf("err = %v, want %v", tc.err, tc.want)
			}
		})
	}
	if ok, _ := c.Exists(ctx, "k"); ok {
		t.Fatal("a failed Set stored something")
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    larder.Options
	}{
		{"negative ttl", larder.Options{DefaultTTL: -1}},
		{"negative timeout", larder.Options{Timeout: -1}},
		{"space in namespace", larder.Options{Namespace: "a b"}},
		{"negative threshold", larder.Options{BreakerThreshold: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := larder.New(tc.o); !errors.Is(err, larder.ErrInvalidOptions) {
				t.Fatalf("New = %v, want ErrInvalidOptions", err)
			}
		})
	}
}

func TestSubMillisecondTTLRoundsUp(t *testing.T) {
	f := newFakeStore()
	c := newCache(t, larder.Options{Store: f})
	if err := c.Set(context.Background(), "k", 1, time.Microsecond); err != nil {
		t.Fatal(err)
	}
	if got := f.ttl("larder:k"); got != time.Millisecond {
		t.Fatalf("ttl = %v, want 1ms", got)
	}
}

func TestDecodeErrorIsMiss(t *testing.T) {
	ctx := context.Background()
	c := newCache(t, larder.Options{Store: newFakeStore()})
	if err := c.Set(ctx, "k", "a string", 0); err != nil {
		t.Fatal(err)
	}
	var u user
	ok, err := c.Get(ctx, "k", &u)
	if ok || err != nil {
		t.Fatalf("Get = %v, %v; want a miss without error", ok, err)
	}
	if s := c.Stats().Store; s.DecodeErrors != 1 || s.Misses != 1 || s.Hits != 0 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestFailOpenAndBreaker(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ctx := context.Background()
	f := newFakeStore()
	rec := &recorder{}
	c, err := larder.New(larder.Options{
		Store: f, BreakerThreshold: 3, ProbeInterval: 10 * time.Millisecond, Recorder: rec,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Set(ctx, "k", 1, 0); err != nil {
		t.Fatal(err)
	}
	f.fail.Store(true)
	for i := range 3 {
		var v int
		if ok, err := c.Get(ctx, "k", &v); ok || err != nil {
			t.Fatalf("Get #%d = %v, %v; want miss without error", i, ok, err)
		}
	}
	if got := c.Stats().Breaker; got != larder.BreakerOpen {
		t.Fatalf("breaker = %q after 3 failures, want open", got)
	}
	before := f.calls.Load()
	if err := c.Set(ctx, "k", 2, 0); err != nil {
		t.Fatalf("Set with open breaker = %v", err)
	}
	if n, err := c.Delete(ctx, "k"); n != 0 || err != nil {
		t.Fatalf("Delete = %d, %v", n, err)
	}
	if _, err := c.Clear(ctx, "*"); !errors.Is(err, larder.ErrUnavailable) {
		t.Fatalf("Clear with open breaker = %v, want ErrUnavailable", err)
	}
	// Only the probe may have called the store while the breaker was open.
	if probes := f.calls.Load() - before; probes > 10 {
		t.Fatalf("%d store calls while open; the breaker let traffic through", probes)
	}
	s := c.Stats().Store
	if s.Errors != 3 || s.Rejected != 3 || s.Misses != 3 {
		t.Fatalf("stats = %+v, want 3 errors, 3 rejected, 3 misses", s)
	}
	if rec.count(telemetry.OpGet, telemetry.OutcomeError) != 3 {
		t.Fatalf("recorder saw %d get errors, want 3", rec.count(telemetry.OpGet, telemetry.OutcomeError))
	}
	f.fail.Store(false)
	waitFor(t, time.Second, func() bool { return c.Stats().Breaker == larder.BreakerClosed })
	if err := c.Set(ctx, "k", 3, 0); err != nil {
		t.Fatal(err)
	}
	var v int
	if ok, _ := c.Get(ctx, "k", &v); !ok || v != 3 {
		t.Fatalf("after recovery Get = %v, %d; want hit 3", ok, v)
	}
}

// TestTimeoutBudget: against a store that never answers, every call
// returns, fails open and is counted as a timeout: the budget ended it.
// How close to the budget it returns is BenchmarkTimeoutBudget's figure.
func TestTimeoutBudget(t *testing.T) {
	ctx := context.Background()
	f := newFakeStore()
	budget := 30 * time.Millisecond
	c := newCache(t, larder.Options{Store: f, Timeout: budget, BreakerThreshold: 100})
	f.block.Store(true)
	calls := map[string]func() error{
		// A key each: a write that timed out leaves its key pending, and
		// reads of a pending key do not ask the store.
		"get":    func() error { _, err := c.Get(ctx, "k1", new(int)); return err },
		"set":    func() error { return c.Set(ctx, "k2", 1, 0) },
		"delete": func() error { _, err := c.Delete(ctx, "k3"); return err },
		"exists": func() error { _, err := c.Exists(ctx, "k4"); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			before := c.Stats().Store.Timeouts
			// The store blocks until the call's context ends, and the
			// caller's has no deadline: only the budget can end it.
			if err := returns(t, call); err != nil {
				t.Fatalf("err = %v, want nil (fail open)", err)
			}
			if n := c.Stats().Store.Timeouts - before; n != 1 {
				t.Fatalf("%d timeouts counted for the call, want 1", n)
			}
		})
	}
	if s := c.Stats().Store; s.Timeouts != 4 {
		t.Fatalf("timeouts = %d, want 4", s.Timeouts)
	}
}

// returnWait bounds the wait for a call that must return by itself (its
// budget ends it): far above any budget, only so that a call that never
// returns fails the test instead of hanging it.
const returnWait = 10 * time.Second

// returns runs call and returns its error, failing t if it has not
// returned within returnWait.
func returns(t testing.TB, call func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-time.After(returnWait):
		t.Fatalf("the call has not returned after %v", returnWait)
		return nil
	}
}

// BenchmarkTimeoutBudget is TestTimeoutBudget for its precision: each op
// is one Get against a store that never answers, with a 30 ms budget; it
// reports how long the calls took (p50, p99, max) and the p99 over the
// budget (p99/budget, ideally just over 1).
func BenchmarkTimeoutBudget(b *testing.B) {
	ctx := context.Background()
	f := newFakeStore()
	budget := 30 * time.Millisecond
	c, err := larder.New(larder.Options{Store: f, Timeout: budget, BreakerThreshold: math.MaxInt32, LocalMaxBytes: -1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	f.block.Store(true)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		_, _ = c.Get(ctx, "k", new(int))
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportBudget(b, lat, budget)
}

// reportBudget reports the p50, p99 and max of lat and the p99 and max
// as multiples of budget.
func reportBudget(b *testing.B, lat []time.Duration, budget time.Duration) {
	p50, p99, worst := percentile(lat, 0.5), percentile(lat, 0.99), percentile(lat, 1)
	b.ReportMetric(float64(p50.Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(p99.Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(worst.Nanoseconds()), "max-ns")
	b.ReportMetric(float64(p99)/float64(budget), "p99/budget")
	b.ReportMetric(float64(worst)/float64(budget), "max/budget")
}

func TestCallerCancellationIsNotAStoreFailure(t *testing.T) {
	f := newFakeStore()
	c := newCache(t, larder.Options{Store: f})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Get(ctx, "k", new(int)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get = %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	f.block.Store(true)
	if err := c.Set(ctx, "k", 1, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Set = %v, want the caller's deadline", err)
	}
	if s := c.Stats(); s.Store.Errors != 0 || s.Store.Timeouts != 0 {
		t.Fatalf("caller cancellation counted against the store: %+v", s.Store)
	}
}

func TestClosed(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	c, err := larder.New(larder.Options{Store: newFakeStore()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	ctx := context.Background()
	if err := c.Set(ctx, "k", 1, 0); !errors.Is(err, larder.ErrClosed) {
		t.Fatalf("Set after Close = %v", err)
	}
	if _, err := c.Get(ctx, "k", new(int)); !errors.Is(err, larder.ErrClosed) {
		t.Fatalf("Get after Close = %v", err)
	}
	if err := c.Ping(ctx); !errors.Is(err, larder.ErrClosed) {
		t.Fatalf("Ping after Close = %v", err)
	}
}

func TestFailureLogsAreRateLimited(t *testing.T) {
	f := newFakeStore()
	f.fail.Store(true)
	var logs countingHandler
	clock := cachetest.NewClock(time.Unix(0, 0))
	c := newCache(t, larder.Options{
		Store: f, BreakerThreshold: 1000, LogInterval: time.Minute,
		Logger: newLogger(&logs), Clock: clock, LocalMaxBytes: -1,
	})
	for range 50 {
		_, _ = c.Get(context.Background(), "k", new(int))
	}
	if n := logs.n.Load(); n != 1 {
		t.Fatalf("%d log records for 50 failures in one interval, want 1", n)
	}
	clock.Advance(time.Minute)
	_, _ = c.Get(context.Background(), "k", new(int))
	if n := logs.n.Load(); n != 2 {
		t.Fatalf("%d log records after the interval, want 2", n)
	}
}

func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
