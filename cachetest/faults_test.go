package cachetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/storetest"
	"github.com/larderhq/larder/memstore"
)

func newFaults(t *testing.T, inner driver.Store, cfg FaultConfig) *Faults {
	t.Helper()
	f, err := NewFaults(inner, 1, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestFaultsViews: for every set of optional interfaces the wrapper has a
// view with exactly that set, and none of them claims to be in-process.
func TestFaultsViews(t *testing.T) {
	for mask, view := range faultyViews {
		s := view(&faultyStore{})
		if got := optionalInterfaces(s); got != mask {
			t.Errorf("view %06b has the interfaces %06b", mask, got)
		}
		if _, ok := s.(driver.InProcessStore); ok {
			t.Errorf("view %06b is a InProcessStore", mask)
		}
		if _, ok := s.(driver.ModeReporter); !ok {
			t.Errorf("view %06b reports no Mode", mask)
		}
	}
}

// TestFaultsContract: with faults off, a wrapped memstore passes the
// whole contract suite, so the wrapper forwards every call faithfully,
// optional interfaces included.
func TestFaultsContract(t *testing.T) {
	Run(t, func(t *testing.T) driver.Store {
		f := newFaults(t, storetest.Memory(t, memstore.Options{}), FaultConfig{})
		f.Disable()
		return f.Store()
	})
}

// trackingStore is a memstore that also claims to be an
// InvalidationSource, recording what it is asked.
type trackingStore struct {
	*memstore.Store
	mu      sync.Mutex
	tracked []string
	fns     int
}

func (s *trackingStore) OnInvalidate(func([]string)) func() {
	s.mu.Lock()
	s.fns++
	s.mu.Unlock()
	return func() {}
}

func (s *trackingStore) Track(prefix string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tracked = append(s.tracked, prefix)
	if prefix == "refused:" {
		return errors.New("not covered")
	}
	return nil
}

func (s *trackingStore) Tracking() bool { return true }

// echoStore is a trackingStore that reports its own writes.
type echoStore struct{ trackingStore }

func (s *echoStore) ReportsOwnWrites() bool { return true }

// TestFaultsForwardsInterfaces: the wrapped store's optional interfaces
// are forwarded and nothing more; its Mode is reported; a Cache treats
// the wrapper as remote (a breaker, not BreakerNone) even over memstore.
func TestFaultsForwardsInterfaces(t *testing.T) {
	mem := storetest.Memory(t, memstore.Options{})
	f := newFaults(t, mem, FaultConfig{})
	s := f.Store()
	for name, ok := range map[string]bool{
		"ConditionalStore": has[driver.ConditionalStore](s),
		"BatchStore":       has[driver.BatchStore](s),
		"Counter":          has[driver.KeyCounter](s),
		"Sizer":            has[driver.Sizer](s),
	} {
		if !ok {
			t.Errorf("a wrapped memstore is no %s", name)
		}
	}
	if has[driver.InvalidationSource](s) || has[driver.Infoer](s) || has[driver.InProcessStore](s) {
		t.Errorf("a wrapped memstore claims an interface memstore lacks, or InProcessStore")
	}
	if m := s.(driver.ModeReporter).Mode(); m != driver.ModeMemory {
		t.Errorf("Mode = %q, want %q", m, driver.ModeMemory)
	}
	c, err := larder.New(larder.Options{Store: s, BorrowStore: true})
	if err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Breaker == larder.BreakerNone {
		t.Errorf("a Cache over the wrapper has no breaker: it took the wrapper for in-process")
	}
	_ = c.Close()

	ts := &trackingStore{Store: storetest.Memory(t, memstore.Options{})}
	src, ok := newFaults(t, ts, FaultConfig{}).Store().(driver.InvalidationSource)
	if !ok {
		t.Fatal("a wrapped InvalidationSource is none")
	}
	src.OnInvalidate(func([]string) {})
	if err := src.Track("ns:"); err != nil {
		t.Errorf("Track(ns:) = %v", err)
	}
	if err := src.Track("refused:"); err == nil {
		t.Errorf("Track(refused:) = nil, want the wrapped store's error")
	}
	if !src.Tracking() || ts.fns != 1 || !slices.Equal(ts.tracked, []string{"ns:", "refused:"}) {
		t.Errorf("Tracking %v, %d functions, tracked %q", src.Tracking(), ts.fns, ts.tracked)
	}
	if sr, ok := src.(driver.SelfReporter); !ok || sr.ReportsOwnWrites() {
		t.Errorf("a source that does not report its own writes says it does")
	}
	echo := &echoStore{trackingStore: trackingStore{Store: storetest.Memory(t, memstore.Options{})}}
	if sr, ok := newFaults(t, echo, FaultConfig{}).Store().(driver.SelfReporter); !ok || !sr.ReportsOwnWrites() {
		t.Errorf("a source that reports its own writes is not said to")
	}
}

// TestFaultsErrors: an injected error does not reach the store.
func TestFaultsErrors(t *testing.T) {
	ctx := context.Background()
	mem := storetest.Memory(t, memstore.Options{})
	f := newFaults(t, mem, FaultConfig{ErrorRate: 1})
	s := f.Store()
	if err := s.Set(ctx, "k", []byte("v"), time.Minute); !errors.Is(err, ErrInjected) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Set = %v, want an injected error that is no timeout", err)
	}
	if _, err := mem.Get(ctx, "k"); !errors.Is(err, driver.ErrNotFound) {
		t.Fatalf("the failed Set reached the store: Get = %v", err)
	}
	cs := s.(driver.ConditionalStore)
	if _, err := cs.SetNX(ctx, "k", []byte("v"), time.Minute); !errors.Is(err, ErrInjected) {
		t.Fatalf("SetNX = %v", err)
	}
	f.Disable()
	if err := s.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatalf("Set with faults off = %v", err)
	}
	f.Enable()
	if n, err := s.Delete(ctx, "k"); n != 0 || !errors.Is(err, ErrInjected) {
		t.Fatalf("Delete = %d, %v", n, err)
	}
	if got, err := mem.Get(ctx, "k"); err != nil || string(got) != "v" {
		t.Fatalf("the failed Delete reached the store: Get = %q, %v", got, err)
	}
	if c := f.Counts(); c.Calls != 4 || c.Errors != 3 || c.Timeouts != 0 || c.LateRuns != 0 {
		t.Fatalf("Counts = %+v, want 4 calls, 3 errors", c)
	}
}

// gatedStore is a memstore whose Set and Delete wait for a gate, and which
// records the order in which its calls complete.
type gatedStore struct {
	*memstore.Store
	gate chan struct{}
	mu   sync.Mutex
	done []string
}

func (s *gatedStore) note(what string) {
	s.mu.Lock()
	s.done = append(s.done, what)
	s.mu.Unlock()
}

func (s *gatedStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	<-s.gate
	err := s.Store.Set(ctx, key, value, ttl)
	s.note("set " + key)
	return err
}

func (s *gatedStore) Delete(ctx context.Context, keys ...string) (int, error) {
	<-s.gate
	n, err := s.Store.Delete(ctx, keys...)
	s.note("delete")
	return n, err
}

func (s *gatedStore) Close() error {
	s.note("close")
	return s.Store.Close()
}

// TestFaultsTimeouts: a timed-out call returns at once with an error
// wrapping context.DeadlineExceeded, before its command has run; the
// command runs later with a copy of the caller's bytes, even though the
// caller's context has ended; Close waits for it.
func TestFaultsTimeouts(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	mem, err := memstore.New(memstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedStore{Store: mem, gate: make(chan struct{})}
	var mu sync.Mutex
	var events []FaultEvent
	f := newFaults(t, g, FaultConfig{TimeoutRate: 1, Observe: func(e FaultEvent) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}})
	s := f.Store()
	value := []byte("v1")
	// The gate is shut: the command cannot have run when Set returns.
	if err := s.Set(ctx, "k", value, time.Minute); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrInjected) {
		t.Fatalf("Set = %v, want an injected timeout", err)
	}
	copy(value, "XX") // the caller may reuse its slice once Set returned
	cancel()          // and its context may end
	if got := f.Counts(); got.Timeouts != 1 || got.LateRuns != 0 {
		t.Fatalf("Counts = %+v before the late run", got)
	}
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	close(g.gate)
	if err := <-closed; err != nil {
		t.Fatalf("Close = %v", err)
	}
	g.mu.Lock()
	order := slices.Clone(g.done)
	g.mu.Unlock()
	if !slices.Equal(order, []string{"set k", "close"}) {
		t.Fatalf("the wrapped store saw %q, want the late Set, then Close", order)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 || events[0].Kind != FaultTimeout || events[1].Kind != FaultLateRun ||
		events[1].Op != "set" || !slices.Equal(events[1].Keys, []string{"k"}) || events[1].Err != nil {
		t.Fatalf("events = %+v", events)
	}
	if got := f.Counts(); got.Timeouts != 1 || got.LateRuns != 1 {
		t.Fatalf("Counts = %+v", got)
	}
}

// TestFaultsLateRunValue: what a timed-out Set stores later is what the
// caller gave it, not what the caller's slice holds by then.
func TestFaultsLateRunValue(t *testing.T) {
	ctx := context.Background()
	mem := storetest.Memory(t, memstore.Options{})
	g := &gatedStore{Store: mem, gate: make(chan struct{})}
	f := newFaults(t, g, FaultConfig{TimeoutRate: 1})
	value := []byte("v1")
	if err := f.Store().Set(ctx, "k", value, time.Minute); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Set = %v", err)
	}
	copy(value, "XX")
	close(g.gate)
	f.Wait()
	if got, err := mem.Get(ctx, "k"); err != nil || string(got) != "v1" {
		t.Fatalf("after the late run Get = %q, %v; want v1", got, err)
	}
}

// TestFaultsLatency: a call whose context ends during its injected latency
// returns the context's error and does not run.
func TestFaultsLatency(t *testing.T) {
	mem := storetest.Memory(t, memstore.Options{})
	f := newFaults(t, mem, FaultConfig{LatencyRate: 1, MaxLatency: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Store().Set(ctx, "k", []byte("v"), time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("Set = %v, want context.Canceled", err)
	}
	if _, err := mem.Get(context.Background(), "k"); !errors.Is(err, driver.ErrNotFound) {
		t.Fatalf("the delayed Set ran: Get = %v", err)
	}
	if err := f.Configure(FaultConfig{LatencyRate: 1, MaxLatency: time.Microsecond}); err != nil {
		t.Fatal(err)
	}
	if err := f.Store().Set(context.Background(), "k", []byte("v"), time.Minute); err != nil {
		t.Fatalf("Set after a short latency = %v", err)
	}
	if c := f.Counts(); c.Latencies != 2 || c.Errors+c.Timeouts != 0 {
		t.Fatalf("Counts = %+v", c)
	}
}

// TestFaultsSeeded: the same seed makes the same choices, and the rates
// are roughly honoured.
func TestFaultsSeeded(t *testing.T) {
	ctx := context.Background()
	pattern := func(seed uint64) []string {
		f, err := NewFaults(storetest.Memory(t, memstore.Options{}), seed, FaultConfig{ErrorRate: 0.2, TimeoutRate: 0.2, MaxDelay: time.Microsecond})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for range 500 {
			err := f.Store().Ping(ctx)
			switch {
			case err == nil:
				got = append(got, "ok")
			case errors.Is(err, context.DeadlineExceeded):
				got = append(got, "timeout")
			default:
				got = append(got, "error")
			}
		}
		_ = f.Store().Close()
		return got
	}
	a, b := pattern(7), pattern(7)
	if !slices.Equal(a, b) {
		t.Fatal("one seed made two patterns of faults")
	}
	if slices.Equal(a, pattern(8)) {
		t.Fatal("two seeds made one pattern of faults")
	}
	var errs, timeouts int
	for _, k := range a {
		switch k {
		case "error":
			errs++
		case "timeout":
			timeouts++
		}
	}
	// 500 draws at 20 %: 100 expected, far outside [50, 150] by chance
	// with probability below 1e-7.
	if errs < 50 || errs > 150 || timeouts < 50 || timeouts > 150 {
		t.Fatalf("%d errors and %d timeouts in 500 calls at 20 %% each", errs, timeouts)
	}
}

// TestFaultsConfig: bad rates are refused.
func TestFaultsConfig(t *testing.T) {
	mem := storetest.Memory(t, memstore.Options{})
	for _, cfg := range []FaultConfig{
		{ErrorRate: -0.1}, {TimeoutRate: 1.5}, {ErrorRate: 0.6, TimeoutRate: 0.6}, {MaxDelay: -1}, {LatencyRate: 2},
	} {
		if _, err := NewFaults(mem, 1, cfg); err == nil {
			t.Errorf("NewFaults(%+v) accepted", cfg)
		}
	}
	if _, err := NewFaults(nil, 1, FaultConfig{}); err == nil {
		t.Error("NewFaults(nil) accepted")
	}
}
