package larder

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// BreakerState is the state of a Cache's circuit breaker, as reported in
// Stats.
type BreakerState string

// The breaker states.
const (
	// BreakerClosed lets calls through to the store: the normal state.
	BreakerClosed BreakerState = "closed"
	// BreakerOpen stops calls to a store that failed repeatedly; a
	// background probe moves it to half-open when the store answers.
	BreakerOpen BreakerState = "open"
	// BreakerHalfOpen lets a few trial calls through after the probe
	// succeeded: their success closes the breaker, a failure opens it
	// again.
	BreakerHalfOpen BreakerState = "half-open"
	// BreakerNone is reported by caches that have no remote store.
	BreakerNone BreakerState = "none"
)

const (
	stateClosed int32 = iota
	stateOpen
	stateHalfOpen
)

// breakerTrials is how many calls a half-open breaker lets through, and
// how many of them must succeed before it closes.
const breakerTrials = 8

// breaker is a consecutive-failure circuit breaker with a half-open state.
// While open, calls are refused without touching the store, so a dead
// Redis costs callers nothing but a branch, and one goroutine probes the
// store until it answers; then a few trial calls go through before full
// traffic does. The fast path (allow, success while closed) is atomic
// loads only.
//
// It opens after BreakerThreshold consecutive failures; when they are
// timeouts, only once they span at least sustained(): a short stall does
// not refuse every call for a whole probe interval. It counts store failures and budget overruns, but not a timeout that
// says more about this machine than about the store: a call that came back
// far later than its budget was starved of CPU (its timer fired on time,
// its goroutine ran late), which a burst on a busy machine does to many
// calls at once while the store answers promptly. See countsAsFailure.
type breaker struct {
	threshold int32
	interval  time.Duration
	budget    time.Duration
	probe     func(context.Context) error
	logger    *slog.Logger

	failures    atomic.Int32
	streakStart atomic.Int64 // Unix ns of the first failure of the current streak
	state       atomic.Int32
	trialsLeft  atomic.Int32 // half-open: calls still allowed through
	trialsOK    atomic.Int32 // half-open: successes so far

	mu      sync.Mutex
	stopped bool
	done    chan struct{}
	wg      sync.WaitGroup
}

func newBreaker(threshold int, interval, budget time.Duration, probe func(context.Context) error, logger *slog.Logger) *breaker {
	return &breaker{
		threshold: int32(threshold),
		interval:  interval,
		budget:    budget,
		probe:     probe,
		logger:    logger,
		done:      make(chan struct{}),
	}
}

func (b *breaker) allow() bool {
	switch b.state.Load() {
	case stateClosed:
		return true
	case stateHalfOpen:
		return b.trialsLeft.Add(-1) >= 0
	}
	return false
}

func (b *breaker) stateName() BreakerState {
	switch b.state.Load() {
	case stateOpen:
		return BreakerOpen
	case stateHalfOpen:
		return BreakerHalfOpen
	}
	return BreakerClosed
}

func (b *breaker) success() {
	switch b.state.Load() {
	case stateClosed:
		// Loading first keeps the common path free of writes to a shared line.
		if b.failures.Load() != 0 {
			b.failures.Store(0)
		}
	case stateHalfOpen:
		if b.trialsOK.Add(1) >= breakerTrials && b.state.CompareAndSwap(stateHalfOpen, stateClosed) {
			b.failures.Store(0)
			b.logger.Info("larder: store answers again; circuit breaker closed")
		}
	}
}

// neutral returns a half-open trial that ended without telling anything
// (the caller's context ended, the machine was starved).
func (b *breaker) neutral() {
	if b.state.Load() == stateHalfOpen {
		b.trialsLeft.Add(1)
	}
}

// sustained is how long failures must go on before the breaker opens: a
// store that stalls for less (a fork, a short pause, a burst) costs the
// calls that hit it their budget, not a second of refused calls for all.
func (b *breaker) sustained() time.Duration { return max(4*b.budget, 200*time.Millisecond) }

// failure counts a failed call; slow is true for a budget overrun, false
// for an error (a refused connection, a dead server), which needs no
// sustained streak: such a store is not about to answer.
func (b *breaker) failure(slow bool) {
	switch b.state.Load() {
	case stateClosed:
		now := time.Now().UnixNano()
		n := b.failures.Add(1)
		if n == 1 {
			b.streakStart.Store(now)
		}
		if n >= b.threshold && (!slow || time.Duration(now-b.streakStart.Load()) >= b.sustained()) {
			b.trip()
		}
	case stateHalfOpen:
		b.trip()
	}
}

// countsAsFailure tells a timeout of a slow store from one of a starved
// machine: a call abandoned at its budget comes back about then when the
// store is slow; it comes back long after when this process could not
// run (the timer fired, the goroutine waited for a CPU).
func (b *breaker) countsAsFailure(timeout bool, took time.Duration) bool {
	return !timeout || took < b.budget+b.budget/4+5*time.Millisecond
}

func (b *breaker) trip() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped || b.state.Load() == stateOpen {
		return
	}
	wasHalfOpen := b.state.Load() == stateHalfOpen
	b.state.Store(stateOpen)
	if wasHalfOpen {
		return // the probe loop still runs
	}
	b.logger.Warn("larder: circuit breaker open; cache calls fail open until the store answers",
		"failures", b.failures.Load(), "probe_interval", b.interval)
	b.wg.Add(1)
	go b.probeLoop()
}

func (b *breaker) probeLoop() {
	defer b.wg.Done()
	// A probe is a single round trip, but right after a restart it also
	// pays for the reconnect, so it gets more room than an ordinary call.
	budget := max(b.budget, 200*time.Millisecond)
	wait := b.interval
	for {
		t := time.NewTimer(wait)
		select {
		case <-b.done:
			t.Stop()
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), budget)
		err := b.probe(ctx)
		cancel()
		b.mu.Lock()
		switch {
		case err != nil && b.state.Load() == stateHalfOpen:
			b.state.Store(stateOpen) // a trial failed: open again
			wait = b.interval
		case err != nil:
			wait = b.interval
		case b.state.Load() == stateOpen:
			b.trialsOK.Store(0)
			b.trialsLeft.Store(breakerTrials)
			b.state.Store(stateHalfOpen)
			b.logger.Info("larder: store answers again; circuit breaker half-open", "trials", breakerTrials)
			// Without traffic the probe runs the trials itself, quickly.
			wait = max(b.interval/breakerTrials, time.Millisecond)
		}
		b.mu.Unlock()
		if err == nil && b.state.Load() == stateHalfOpen {
			b.success()
		}
		if b.state.Load() == stateClosed {
			return
		}
	}
}

// stop ends the probe goroutine, if any, and waits for it.
func (b *breaker) stop() {
	b.mu.Lock()
	if !b.stopped {
		b.stopped = true
		close(b.done)
	}
	b.mu.Unlock()
	b.wg.Wait()
}
