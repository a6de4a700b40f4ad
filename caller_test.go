package larder

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/telemetry"
)

// stubStore is a Store whose every call returns err after delay; it counts
// the calls that reached it.
type stubStore struct {
	mu        sync.Mutex
	err       error
	delay     time.Duration
	calls     int
	deadline  bool // the last call's context had a deadline
	inProcess bool
}

func (s *stubStore) call(ctx context.Context) error {
	s.mu.Lock()
	s.calls++
	_, s.deadline = ctx.Deadline()
	err, delay := s.err, s.delay
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

func (s *stubStore) Get(ctx context.Context, _ string) ([]byte, error) {
	return nil, s.call(ctx)
}

func (s *stubStore) Set(ctx context.Context, _ string, _ []byte, _ time.Duration) error {
	return s.call(ctx)
}

func (s *stubStore) Delete(ctx context.Context, keys ...string) (int, error) {
	return len(keys), s.call(ctx)
}

func (s *stubStore) Exists(ctx context.Context, _ string) (bool, error) { return false, s.call(ctx) }
func (s *stubStore) Clear(ctx context.Context, _ string) (int, error)   { return 0, s.call(ctx) }
func (s *stubStore) Ping(ctx context.Context) error                     { return s.call(ctx) }
func (s *stubStore) Close() error                                       { return nil }
func (s *stubStore) InProcess() bool                                    { return s.inProcess }

func (s *stubStore) set(err error, delay time.Duration) {
	s.mu.Lock()
	s.err, s.delay = err, delay
	s.mu.Unlock()
}

func (s *stubStore) reached() (calls int, deadline bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, s.deadline
}

// eventLog is a Recorder that keeps every Event.
type eventLog struct {
	mu     sync.Mutex
	events []telemetry.Event
}

func (l *eventLog) Record(e telemetry.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) take() []telemetry.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.events
	l.events = nil
	return e
}

// newTestCaller returns a caller over store whose breaker opens after
// threshold failures.
func newTestCaller(t *testing.T, store driver.Store, rec telemetry.Recorder, threshold int) *caller {
	t.Helper()
	o, err := Options{Store: store, Recorder: rec, Timeout: 20 * time.Millisecond, BreakerThreshold: threshold, ProbeInterval: time.Hour}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	c := newCaller(o)
	t.Cleanup(func() { _ = c.close(true) })
	return c
}

// TestCallerCountsEachOutcomeOnce: every way a call ends is one Event for
// the Recorder and the matching counts in Stats, both from count alone.
// A failed read is a miss in Stats besides its failure.
func TestCallerCountsEachOutcomeOnce(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name  string
		op    telemetry.Op
		err   error
		delay time.Duration
		want  telemetry.Outcome
		stats TierStats
	}{
		{"set ok", telemetry.OpSet, nil, 0, telemetry.OutcomeOK, TierStats{Sets: 1}},
		{"delete ok", telemetry.OpDelete, nil, 0, telemetry.OutcomeOK, TierStats{Deletes: 1}},
		{"get absent", telemetry.OpGet, ErrNotFound, 0, telemetry.OutcomeMiss, TierStats{Misses: 1}},
		{"lease absent", telemetry.OpLease, ErrNotFound, 0, telemetry.OutcomeMiss, TierStats{}},
		{"get error", telemetry.OpGet, boom, 0, telemetry.OutcomeError, TierStats{Errors: 1, Misses: 1}},
		{"set error", telemetry.OpSet, boom, 0, telemetry.OutcomeError, TierStats{Errors: 1}},
		{"get timeout", telemetry.OpGet, nil, time.Second, telemetry.OutcomeTimeout, TierStats{Timeouts: 1, Misses: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			store := &stubStore{}
			store.set(tc.err, tc.delay)
			rec := &eventLog{}
			c := newTestCaller(t, store, rec, 100)
			r, _, err := c.do(context.Background(), tc.op, "k", func(ctx context.Context) error {
				_, err := store.Get(ctx, "k")
				return err
			})
			if err != nil {
				t.Fatalf("do returned %v; a fail-open call returns only the caller's own context error", err)
			}
			if tc.op == telemetry.OpGet && tc.err == nil && tc.delay == 0 {
				t.Fatal("bad case: a successful read is counted after decoding")
			}
			if (r == callFailed) != (tc.want == telemetry.OutcomeError || tc.want == telemetry.OutcomeTimeout) {
				t.Fatalf("result %d for outcome %s", r, tc.want)
			}
			events := rec.take()
			if len(events) != 1 || events[0] != (telemetry.Event{Tier: telemetry.TierStore, Op: tc.op, Outcome: tc.want, Duration: events[0].Duration}) {
				t.Fatalf("Recorder got %+v, want one %s %s event", events, tc.op, tc.want)
			}
			if got := c.counters[telemetry.TierStore].snapshot(); got != tc.stats {
				t.Fatalf("Stats %+v, want %+v", got, tc.stats)
			}
		})
	}
	t.Run("hits and local reads", func(t *testing.T) {
		rec := &eventLog{}
		c := newTestCaller(t, &stubStore{}, rec, 100)
		c.count(telemetry.TierStore, telemetry.OpGet, telemetry.OutcomeHit, time.Millisecond)
		c.count(telemetry.TierLocal, telemetry.OpGet, telemetry.OutcomeHit, 0)
		c.count(telemetry.TierLocal, telemetry.OpGet, telemetry.OutcomeMiss, 0)
		c.count(telemetry.TierStore, telemetry.OpGet, telemetry.OutcomeDecodeError, 0)
		if n := len(rec.take()); n != 4 {
			t.Fatalf("Recorder got %d events for 4 outcomes", n)
		}
		if st := c.counters[telemetry.TierStore].snapshot(); st != (TierStats{Hits: 1, Misses: 1, DecodeErrors: 1}) {
			t.Fatalf("store Stats %+v", st)
		}
		if lt := c.counters[telemetry.TierLocal].snapshot(); lt != (TierStats{Hits: 1, Misses: 1}) {
			t.Fatalf("local Stats %+v", lt)
		}
	})
	t.Run("a read blocked by a pending invalidation", func(t *testing.T) {
		rec := &eventLog{}
		c := newTestCaller(t, &stubStore{}, rec, 100)
		c.count(telemetry.TierStore, telemetry.OpGet, outcomeBlocked, 0)
		if events := rec.take(); len(events) != 0 {
			t.Fatalf("Recorder got %+v; a blocked read has no Outcome of its own", events)
		}
		if st := c.counters[telemetry.TierStore].snapshot(); st != (TierStats{Misses: 1}) {
			t.Fatalf("Stats %+v, want one miss", st)
		}
	})
}

// TestCallerAdmin: administrative calls return store failures, and are
// counted once either way.
func TestCallerAdmin(t *testing.T) {
	store := &stubStore{}
	rec := &eventLog{}
	c := newTestCaller(t, store, rec, 100)
	call := func(ctx context.Context) (int, error) { return 3, store.Ping(ctx) }
	if n, err := c.admin(context.Background(), telemetry.OpClear, call); n != 3 || err != nil {
		t.Fatalf("admin = %d, %v", n, err)
	}
	store.set(errors.New("boom"), 0)
	if _, err := c.admin(context.Background(), telemetry.OpClear, call); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("admin error %v, want ErrUnavailable", err)
	}
	events := rec.take()
	if len(events) != 2 || events[0].Outcome != telemetry.OutcomeOK || events[1].Outcome != telemetry.OutcomeError {
		t.Fatalf("Recorder got %+v, want one ok and one error", events)
	}
	if st := c.counters[telemetry.TierStore].snapshot(); st != (TierStats{Errors: 1}) {
		t.Fatalf("Stats %+v", st)
	}
}

// TestCallerBreaker: an open breaker refuses calls without reaching the
// store, counting each as rejected (and a refused read as a miss), except
// those of the retrier's context, which go to the store at once.
func TestCallerBreaker(t *testing.T) {
	store := &stubStore{}
	rec := &eventLog{}
	c := newTestCaller(t, store, rec, 1)
	get := func(ctx context.Context) error { _, err := store.Get(ctx, "k"); return err }
	ctx := context.Background()

	store.set(errors.New("refused"), 0)
	c.do(ctx, telemetry.OpGet, "k", get) // threshold 1: opens
	if c.breakerState() != BreakerOpen {
		t.Fatalf("breaker %s after a failure at threshold 1, want open", c.breakerState())
	}
	rec.take()
	before, _ := store.reached()

	if r, _, err := c.do(ctx, telemetry.OpGet, "k", get); r != callFailed || err != nil {
		t.Fatalf("do through an open breaker = %d, %v; want callFailed, nil", r, err)
	}
	if n, _ := store.reached(); n != before {
		t.Fatal("an open breaker let a call reach the store")
	}
	if events := rec.take(); len(events) != 1 || events[0].Outcome != telemetry.OutcomeRejected {
		t.Fatalf("Recorder got %+v, want one rejected", events)
	}
	if st := c.counters[telemetry.TierStore].snapshot(); st.Rejected != 1 || st.Misses != 2 || st.Errors != 1 {
		t.Fatalf("Stats %+v, want 1 rejected, 1 error and 2 misses", st)
	}
	if _, err := c.admin(ctx, telemetry.OpCount, func(context.Context) (int, error) { return 0, nil }); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("admin through an open breaker: %v, want ErrUnavailable", err)
	}

	store.set(nil, 0)
	if r, _, _ := c.do(bypassBreaker(ctx), telemetry.OpDelete, "k", get); r != callOK {
		t.Fatalf("the retrier's call through an open breaker = %d, want callOK", r)
	}
	if n, _ := store.reached(); n != before+1 {
		t.Fatal("the retrier's call did not reach the store")
	}
	if err := c.ping(ctx); err != nil {
		t.Fatalf("ping through an open breaker: %v", err)
	}
}

// TestCallerInProcess: a store that never blocks is called with neither
// budget nor breaker.
func TestCallerInProcess(t *testing.T) {
	store := &stubStore{inProcess: true, err: errors.New("boom")}
	c := newTestCaller(t, store, nil, 1)
	if c.breaker != nil {
		t.Fatal("an in-process store got a breaker")
	}
	get := func(ctx context.Context) error { _, err := store.Get(ctx, "k"); return err }
	for range 3 {
		c.do(context.Background(), telemetry.OpGet, "k", get)
	}
	if n, deadline := store.reached(); n != 3 || deadline {
		t.Fatalf("%d calls reached the store (deadline %v), want 3 without a deadline", n, deadline)
	}
	if st := c.counters[telemetry.TierStore].snapshot(); st.Errors != 3 {
		t.Fatalf("Stats %+v, want 3 errors", st)
	}
}

// TestCallerCallersContext: a call whose own context ended returns that
// error, counts nothing and leaves the breaker alone.
func TestCallerCallersContext(t *testing.T) {
	store := &stubStore{}
	store.set(nil, time.Second)
	rec := &eventLog{}
	c := newTestCaller(t, store, rec, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, _, err := c.do(ctx, telemetry.OpGet, "k", func(ctx context.Context) error { _, err := store.Get(ctx, "k"); return err })
	if r != callFailed || !errors.Is(err, context.Canceled) {
		t.Fatalf("do = %d, %v; want callFailed, context.Canceled", r, err)
	}
	if events := rec.take(); len(events) != 0 {
		t.Fatalf("Recorder got %+v for the caller's own cancellation", events)
	}
	if c.breakerState() != BreakerClosed {
		t.Fatalf("breaker %s after a cancelled call, want closed", c.breakerState())
	}
}
