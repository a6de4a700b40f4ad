package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/internal/redistest"
)

// The cache gives every store call this budget and requires the call back
// within budget+slack, whatever the server does.
const (
	budget = 50 * time.Millisecond
	slack  = 10 * time.Millisecond
	// loadedMax bounds the slowest of thousands of calls made by hundreds
	// of goroutines on two cores under the race detector, where a woken
	// goroutine may wait for a processor; rueidis alone would take 10 s.
	loadedMax = 500 * time.Millisecond
)

// storeCall is one store method called with a fixed key.
type storeCall struct {
	name string
	call func(ctx context.Context, s *Store) error
}

func allStoreCalls() []storeCall {
	return []storeCall{
		{"Get", func(ctx context.Context, s *Store) error { _, err := s.Get(ctx, "k"); return err }},
		{"Set", func(ctx context.Context, s *Store) error { return s.Set(ctx, "k", []byte("v"), time.Minute) }},
		{"Delete", func(ctx context.Context, s *Store) error { _, err := s.Delete(ctx, "k", "k2"); return err }},
		{"Exists", func(ctx context.Context, s *Store) error { _, err := s.Exists(ctx, "k"); return err }},
		{"Ping", func(ctx context.Context, s *Store) error { return s.Ping(ctx) }},
		{"Clear", func(ctx context.Context, s *Store) error { _, err := s.Clear(ctx, "x:*"); return err }},
		{"Count", func(ctx context.Context, s *Store) error { _, err := s.Count(ctx, "x:*"); return err }},
		{"Info", func(ctx context.Context, s *Store) error { _, err := s.Info(ctx); return err }},
		{"SetNX", func(ctx context.Context, s *Store) error {
			_, err := s.SetNX(ctx, "n", []byte("v"), time.Minute)
			return err
		}},
		{"CompareAndSwap", func(ctx context.Context, s *Store) error {
			_, err := s.CompareAndSwap(ctx, "k", []byte("v"), []byte("w"), time.Minute)
			return err
		}},
		{"CompareAndDelete", func(ctx context.Context, s *Store) error {
			_, err := s.CompareAndDelete(ctx, "k", []byte("v"))
			return err
		}},
		{"GetMany", func(ctx context.Context, s *Store) error { _, err := s.GetMany(ctx, []string{"k", "k2"}); return err }},
		{"SetMany", func(ctx context.Context, s *Store) error {
			return s.SetMany(ctx, []larder.Item{{Key: "k", Value: []byte("v"), TTL: time.Minute}})
		}},
	}
}

// timedCall runs c with a fresh budget and returns its error and duration.
func timedCall(s *Store, c storeCall) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), budget)
	defer cancel()
	start := time.Now()
	err := c.call(ctx, s)
	return time.Since(start), err
}

// waitUsable polls until every call succeeds, or fails t.
func waitUsable(t *testing.T, s *Store, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, func() error {
		for _, c := range allStoreCalls() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := c.call(ctx, s)
			cancel()
			if err != nil && !errors.Is(err, larder.ErrNotFound) {
				return err
			}
		}
		return nil
	})
}

// TestHungServer pauses the server (SIGSTOP): connections stay open and
// nothing is answered. Every call must still return within its budget.
// These tests are not parallel, because they measure latency.
func TestHungServer(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, Options{Addr: srv.Addr()})
	waitUsable(t, s, 5*time.Second)

	srv.Pause()
	resumed := false
	defer func() {
		if !resumed {
			srv.Resume() // let abandoned calls finish before the leak check
		}
	}()

	t.Run("each call", func(t *testing.T) {
		for _, c := range allStoreCalls() {
			t.Run(c.name, func(t *testing.T) {
				underStallWatch(t, slack, func() error {
					took, err := timedCall(s, c)
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Fatalf("error = %v, want one wrapping context.DeadlineExceeded", err)
					}
					if took > budget+slack {
						return fmt.Errorf("took %v, want at most %v", took, budget+slack)
					}
					return nil
				})
			})
		}
	})

	// Under load, rueidis alone blocks callers for up to ConnWriteTimeout
	// (10 s) once a connection's queue of 1,024 pending commands is full,
	// whatever their deadlines; 256 callers with a 50 ms budget send
	// thousands of commands in a second. Most calls must still end within
	// budget+slack; on two cores under the race detector the bursts of
	// goroutines that rueidis wakes when it drops a connection delay a few
	// past it, so the slowest has a looser bound that still rules out
	// blocking.
	t.Run("under load", func(t *testing.T) {
		underStallWatch(t, loadedMax/2, func() error { return hammer(t, s) })
	})

	srv.Resume()
	resumed = true
	waitUsable(t, s, 15*time.Second)
}

// hammer calls s from 256 goroutines for a second and checks the latency
// of the calls, which must all fail.
func hammer(t *testing.T, s *Store) error {
	const callers = 256
	var (
		mu    sync.Mutex
		times []time.Duration
	)
	stop := time.Now().Add(time.Second)
	var wg sync.WaitGroup
	for i := range callers {
		c := allStoreCalls()[i%4] // Get, Set, Delete, Exists
		wg.Go(func() {
			for time.Now().Before(stop) {
				took, err := timedCall(s, c)
				mu.Lock()
				times = append(times, took)
				mu.Unlock()
				if err == nil {
					t.Errorf("%s succeeded against a paused server", c.name)
					return
				}
			}
		})
	}
	wg.Wait()
	slices.Sort(times)
	p50, p99, slowest := times[len(times)/2], times[len(times)*99/100], times[len(times)-1]
	t.Logf("%d calls against the paused server: p50 %v, p99 %v, slowest %v", len(times), p50, p99, slowest)
	switch {
	case len(times) < 2*1024:
		return fmt.Errorf("only %d calls: too few to fill rueidis's queues", len(times))
	case p50 > budget+slack:
		return fmt.Errorf("p50 %v, want at most %v", p50, budget+slack)
	case slowest > loadedMax:
		return fmt.Errorf("slowest call took %v, want at most %v", slowest, loadedMax)
	}
	return nil
}

// TestKilledServer kills the server (connections reset, new ones refused):
// calls must fail at once, as unavailable, and the same store must work
// again once the server is back.
func TestKilledServer(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, Options{Addr: srv.Addr()})
	waitUsable(t, s, 5*time.Second)

	srv.Kill()
	for round := range 2 { // the first round meets broken connections, the second refused ones
		for _, c := range allStoreCalls() {
			underStallWatch(t, slack, func() error {
				took, err := timedCall(s, c)
				if !errors.Is(err, larder.ErrUnavailable) {
					t.Fatalf("round %d: %s: error = %v, want one wrapping ErrUnavailable", round, c.name, err)
				}
				if took > budget/2 {
					return fmt.Errorf("round %d: %s took %v, want a fast failure", round, c.name, took)
				}
				return nil
			})
		}
	}

	srv.Restart()
	waitUsable(t, s, 10*time.Second)
	ctx := ctxFor(t, time.Second)
	if err := s.Set(ctx, "after", []byte("restart"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "after"); err != nil || string(got) != "restart" {
		t.Fatalf("Get after restart = %q, %v", got, err)
	}
}

// TestStartWhileUnreachable starts the store before its server exists.
func TestStartWhileUnreachable(t *testing.T) {
	port := redistest.FreePort(t)
	var logs logBuffer
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s, err := New(Options{Addr: addr, Password: "pw-never-logged", Logger: newLogger(&logs)})
	if err != nil {
		t.Fatalf("New with an unreachable server: %v, want a store", err)
	}
	t.Cleanup(func() { _ = s.Close() })

	if n := logs.count("WARN"); n != 1 {
		t.Errorf("%d warnings logged, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), addr) {
		t.Errorf("the warning does not name %s:\n%s", addr, logs.String())
	}
	if s.Client() != nil {
		t.Error("Client() is not nil before connecting")
	}
	for _, c := range allStoreCalls() {
		underStallWatch(t, slack, func() error {
			took, err := timedCall(s, c)
			if !errors.Is(err, larder.ErrUnavailable) {
				t.Fatalf("%s: error = %v, want one wrapping ErrUnavailable", c.name, err)
			}
			if took > 5*time.Millisecond {
				return fmt.Errorf("%s took %v, want an immediate failure", c.name, took)
			}
			return nil
		})
	}

	redistest.Start(t, redistest.WithPort(port), redistest.WithPassword("pw-never-logged"))
	waitUsable(t, s, 10*time.Second)
	if s.Client() == nil {
		t.Error("Client() is nil after connecting")
	}
	if !strings.Contains(logs.String(), "connected") {
		t.Errorf("no record of the connection:\n%s", logs.String())
	}
	if n := logs.count("WARN"); n != 1 {
		t.Errorf("%d warnings logged, want 1:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "pw-never-logged") {
		t.Errorf("the password was logged:\n%s", logs.String())
	}
}

// TestCloseDuringHandshake closes a store whose background connector is in
// the middle of a handshake with a hung server: Close must not wait for
// DialTimeout.
func TestCloseDuringHandshake(t *testing.T) {
	srv := redistest.Start(t)
	srv.Pause()
	defer srv.Resume()
	const dialTimeout = 2 * time.Second

	start := time.Now()
	s, err := New(Options{Addr: srv.Addr(), DialTimeout: dialTimeout})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if took := time.Since(start); took > dialTimeout+time.Second {
		t.Errorf("New took %v, want about DialTimeout", took)
	}
	time.Sleep(200 * time.Millisecond) // the connector's next attempt is now hanging
	start = time.Now()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 200*time.Millisecond {
		t.Errorf("Close took %v, want it not to wait for the handshake", took)
	}
}

// TestCanceledContext checks the error a call returns when its context is
// already done: the context's own, not an outage.
func TestCanceledContext(t *testing.T) {
	t.Parallel()
	s, _, _ := sharedStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range allStoreCalls() {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(ctx, s); !errors.Is(err, context.Canceled) || errors.Is(err, larder.ErrUnavailable) {
				t.Errorf("error = %v, want one wrapping context.Canceled only", err)
			}
		})
	}
}

// TestInFlightBound checks that calls waiting on a hung server are bounded:
// past the bound, calls fail at once as unavailable instead of adding a
// goroutine each.
func TestInFlightBound(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, Options{Addr: srv.Addr()})
	waitUsable(t, s, 5*time.Second)
	s.maxInFlight = 8
	if n := s.inFlight.Load(); n != 0 {
		t.Fatalf("%d calls in flight on an idle store", n)
	}
	// Healthy calls take the direct path and never count here.
	if _, err := s.Get(ctxFor(t, time.Second), "k"); err != nil && !errors.Is(err, larder.ErrNotFound) {
		t.Fatal(err)
	}
	if s.suspectUntil.Load() != 0 {
		t.Fatal("a miss made the store suspect")
	}
	// A failure sends calls through the bounded goroutines, as here.
	s.observe(errors.New("dial tcp: connection reset"))
	if time.Now().UnixNano() >= s.suspectUntil.Load() {
		t.Fatal("a network failure did not make the store suspect")
	}

	srv.Pause()
	// Eight calls wait for the paused server until their long deadline.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := s.Get(ctxFor(t, 2*time.Second), "k"); err == nil {
				t.Error("Get against the paused server succeeded")
			}
		})
	}
	eventually(t, time.Second, func() error {
		if n := s.inFlight.Load(); n != 8 {
			return fmt.Errorf("%d calls in flight, want 8", n)
		}
		return nil
	})
	start := time.Now()
	_, err := s.Get(ctxFor(t, time.Second), "k")
	if !errors.Is(err, larder.ErrUnavailable) || !errors.Is(err, errSaturated) {
		t.Fatalf("Get past the bound: %v, want ErrUnavailable and errSaturated", err)
	}
	if took := time.Since(start); took > 5*time.Millisecond {
		t.Errorf("Get past the bound took %v, want an immediate failure", took)
	}
	wg.Wait()

	srv.Resume()
	eventually(t, 15*time.Second, func() error {
		if n := s.inFlight.Load(); n != 0 {
			return fmt.Errorf("%d calls still in flight", n)
		}
		return nil
	})
	waitUsable(t, s, 5*time.Second)
}
