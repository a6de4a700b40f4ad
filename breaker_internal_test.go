package larder

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

func TestBreakerStates(t *testing.T) {
	const budget = 50 * time.Millisecond
	var probeFails atomic.Bool
	probe := func(context.Context) error {
		if probeFails.Load() {
			return errors.New("down")
		}
		return nil
	}
	t.Run("starved timeouts do not open it", func(t *testing.T) {
		b := newBreaker(5, time.Hour, budget, probe, slog.New(slog.DiscardHandler))
		defer b.stop()
		for range 100 {
			if b.countsAsFailure(true, 10*budget) {
				b.failure(true)
			} else {
				b.neutral()
			}
		}
		if b.stateName() != BreakerClosed {
			t.Fatalf("state %s after 100 starved timeouts, want closed", b.stateName())
		}
		for range 5 {
			if b.countsAsFailure(true, budget+time.Millisecond) {
				b.failure(true)
			}
		}
		if b.stateName() != BreakerClosed {
			t.Fatalf("state %s after 5 timeouts at once, want closed (no sustained outage)", b.stateName())
		}
		b.streakStart.Add(-int64(b.sustained())) // the streak began long ago
		if b.countsAsFailure(true, budget+time.Millisecond) {
			b.failure(true)
		}
		if b.stateName() != BreakerOpen {
			t.Fatalf("state %s after a sustained streak of timeouts at the budget, want open", b.stateName())
		}
	})
	t.Run("half-open lets trials through, then closes", func(t *testing.T) {
		b := newBreaker(1, time.Hour, budget, probe, slog.New(slog.DiscardHandler))
		defer b.stop()
		b.trip()
		if b.allow() {
			t.Fatal("open breaker allowed a call")
		}
		// What the probe does when the store answers.
		b.trialsOK.Store(0)
		b.trialsLeft.Store(breakerTrials)
		b.state.Store(stateHalfOpen)
		allowed := 0
		for range 3 * breakerTrials {
			if b.allow() {
				allowed++
			}
		}
		if allowed != breakerTrials || b.stateName() != BreakerHalfOpen {
			t.Fatalf("half-open allowed %d of %d calls (state %s), want %d", allowed, 3*breakerTrials, b.stateName(), breakerTrials)
		}
		for range breakerTrials {
			b.success()
		}
		if b.stateName() != BreakerClosed || !b.allow() {
			t.Fatalf("state %s after %d successful trials, want closed", b.stateName(), breakerTrials)
		}
	})
	t.Run("a failed trial opens it again", func(t *testing.T) {
		b := newBreaker(1, time.Hour, budget, probe, slog.New(slog.DiscardHandler))
		defer b.stop()
		b.trip()
		b.trialsLeft.Store(breakerTrials)
		b.state.Store(stateHalfOpen)
		b.success()
		b.failure(true)
		if b.stateName() != BreakerOpen {
			t.Fatalf("state %s after a failed trial, want open", b.stateName())
		}
	})
}
