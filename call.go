package larder

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/telemetry"
)

// pastBreaker marks the retrier's context: kept invalidations go to the
// store as soon as it answers, before the breaker lets other calls through
// again (other instances may be serving what they remove).
type pastBreaker struct{}

// callResult is how one fail-open store call ended.
type callResult uint8

const (
	// callOK: the store did what was asked.
	callOK callResult = iota
	// callAbsent: the store answered ErrNotFound.
	callAbsent
	// callFailed: the store erred, timed out or the breaker refused the
	// call. After an error or a timeout the call may still have taken
	// effect, or may take effect later: its outcome is unknown.
	callFailed
)

// do runs one fail-open store call under the time budget and the breaker.
// Its error is only ever the caller's own context error. d is how long the
// call took (zero without a Recorder). A successful read is counted by the
// caller, after decoding.
func (c *Cache) do(ctx context.Context, op telemetry.Op, key string, call func(context.Context) error) (callResult, time.Duration, error) {
	var err error
	var d, took time.Duration
	switch {
	case c.inProcess:
		err = call(ctx)
	case !c.breaker.allow() && ctx.Value(pastBreaker{}) == nil:
		c.count(telemetry.TierStore, op, telemetry.OutcomeRejected, 0)
		if op == telemetry.OpGet {
			c.counters[telemetry.TierStore].add(op, telemetry.OutcomeMiss, 1)
		}
		return callFailed, 0, ctx.Err()
	default:
		// The real clock too: the breaker tells a slow store from a
		// starved machine by how late a call came back.
		start, cstart := time.Now(), c.opts.Clock.Now()
		cctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
		err = call(cctx)
		cancel()
		took, d = time.Since(start), c.opts.Clock.Now().Sub(cstart)
	}
	switch {
	case err == nil:
		if c.breaker != nil {
			c.breaker.success()
		}
		if op != telemetry.OpGet {
			c.count(telemetry.TierStore, op, telemetry.OutcomeOK, d)
		}
		return callOK, d, nil
	case errors.Is(err, ErrNotFound):
		if c.breaker != nil {
			c.breaker.success()
		}
		c.count(telemetry.TierStore, op, telemetry.OutcomeMiss, d)
		return callAbsent, d, nil
	}
	return callFailed, d, c.failed(ctx, op, key, err, d, took)
}

// failed accounts for a store failure and returns the caller's own context
// error, if any: that is the only failure a fail-open call reports.
// d is the call's duration on Options.Clock (for the Recorder), took on
// the real clock (for the breaker).
func (c *Cache) failed(ctx context.Context, op telemetry.Op, key string, err error, d, took time.Duration) error {
	if cerr := ctx.Err(); cerr != nil {
		// The caller gave up; that says nothing about the store's health.
		if c.breaker != nil {
			c.breaker.neutral()
		}
		return cerr
	}
	o := telemetry.OutcomeError
	timeout := errors.Is(err, context.DeadlineExceeded)
	if timeout {
		o = telemetry.OutcomeTimeout
		err = fmt.Errorf("%w after %v: %w", ErrTimeout, c.opts.Timeout, err)
	}
	c.count(telemetry.TierStore, op, o, d)
	if op == telemetry.OpGet {
		c.counters[telemetry.TierStore].add(op, telemetry.OutcomeMiss, 1)
	}
	if c.breaker != nil {
		if !errors.Is(err, driver.ErrRefused) && c.breaker.countsAsFailure(timeout, took) {
			c.breaker.failure(timeout)
		} else {
			c.breaker.neutral()
		}
	}
	c.logs.failure(op, o, key, err)
	return nil
}

// cond runs a conditional store call under the budget and breaker; ok is
// false when the store failed (the outcome may then be unknown).
func (c *Cache) cond(ctx context.Context, op telemetry.Op, full string, call func(context.Context) (bool, error)) (done, ok bool) {
	r, _, _ := c.do(ctx, op, full, func(ctx context.Context) error {
		var err error
		done, err = call(ctx)
		return err
	})
	return done, r == callOK
}

// admin runs a call that reports store failures instead of failing open.
func (c *Cache) admin(ctx context.Context, op telemetry.Op, call func(context.Context) (int, error)) (int, error) {
	if c.breaker != nil && !c.breaker.allow() {
		c.count(telemetry.TierStore, op, telemetry.OutcomeRejected, 0)
		return 0, fmt.Errorf("%w: circuit breaker open", ErrUnavailable)
	}
	n, err := call(ctx)
	if err != nil {
		if errors.Is(err, ErrInvalidPattern) {
			return 0, err
		}
		if cerr := ctx.Err(); cerr == nil {
			c.count(telemetry.TierStore, op, telemetry.OutcomeError, 0)
		}
		return n, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	c.count(telemetry.TierStore, op, telemetry.OutcomeOK, 0)
	return n, nil
}

func (c *Cache) count(t telemetry.Tier, op telemetry.Op, o telemetry.Outcome, d time.Duration) {
	c.counters[t].add(op, o, 1)
	c.opts.Recorder.Record(telemetry.Event{Tier: t, Op: op, Outcome: o, Duration: d})
}
