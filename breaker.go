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
	// background probe closes it again when the store answers.
	BreakerOpen BreakerState = "open"
	// BreakerNone is reported by caches that have no remote store.
	BreakerNone BreakerState = "none"
)

// breaker is a consecutive-failure circuit breaker. While open, calls are
// refused without touching the store, so a dead Redis costs callers nothing
// but a branch, and one goroutine probes the store until it answers. The
// fast path (allow, success) is two atomic loads.
type breaker struct {
	threshold int32
	interval  time.Duration
	budget    time.Duration
	probe     func(context.Context) error
	logger    *slog.Logger

	failures atomic.Int32
	open     atomic.Bool

	mu      sync.Mutex
	stopped bool
	done    chan struct{}
	wg      sync.WaitGroup
}

func newBreaker(threshold int, interval, budget time.Duration, probe func(context.Context) error, logger *slog.Logger) *breaker {
	// A probe is a single round trip, but right after a restart it also pays
	// for the reconnect, so it gets more room than an ordinary call.
	budget = max(budget, 200*time.Millisecond)
	return &breaker{
		threshold: int32(threshold),
		interval:  interval,
		budget:    budget,
		probe:     probe,
		logger:    logger,
		done:      make(chan struct{}),
	}
}

func (b *breaker) allow() bool { return !b.open.Load() }

func (b *breaker) state() BreakerState {
	if b.open.Load() {
		return BreakerOpen
	}
	return BreakerClosed
}

func (b *breaker) success() {
	// Loading first keeps the common path free of writes to a shared line.
	if b.failures.Load() != 0 {
		b.failures.Store(0)
	}
}

func (b *breaker) failure() {
	if b.failures.Add(1) >= b.threshold {
		b.trip()
	}
}

func (b *breaker) trip() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped || b.open.Load() {
		return
	}
	b.open.Store(true)
	b.logger.Warn("larder: circuit breaker open; cache calls fail open until the store answers",
		"failures", b.failures.Load(), "probe_interval", b.interval)
	b.wg.Add(1)
	go b.probeLoop()
}

func (b *breaker) probeLoop() {
	defer b.wg.Done()
	t := time.NewTicker(b.interval)
	defer t.Stop()
	for {
		select {
		case <-b.done:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), b.budget)
		err := b.probe(ctx)
		cancel()
		if err == nil {
			b.failures.Store(0)
			b.open.Store(false)
			b.logger.Info("larder: store answers again; circuit breaker closed")
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
