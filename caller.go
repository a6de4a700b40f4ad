package larder

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/telemetry"
)

// caller makes a Cache's store calls fail open: each runs under the time
// budget and the circuit breaker, and a failure is counted, logged (rate
// limited) and fed to the breaker instead of being returned. It also keeps
// the counters, and count is the one way anything is counted: Stats and
// the Recorder then cannot drift apart.
type caller struct {
	store     driver.Store // nil in off mode
	mode      driver.Mode  // fixed at New
	inProcess bool         // store never blocks: no budget, no breaker
	timeout   time.Duration
	clock     driver.Clock
	breaker   *breaker // nil when off or in process
	logs      logLimiter
	recorder  telemetry.Recorder
	counters  [telemetry.NumTiers]tierCounters
}

// newCaller returns the caller for o.Store (nil: off mode).
func newCaller(o Options) *caller {
	c := &caller{
		store:    o.Store,
		timeout:  o.Timeout,
		clock:    o.Clock,
		logs:     logLimiter{logger: o.Logger, clock: o.Clock, interval: o.LogInterval},
		recorder: o.Recorder,
	}
	switch s := o.Store.(type) {
	case nil:
		c.mode = driver.ModeOff
	case driver.ModeReporter:
		c.mode = s.Mode()
	default:
		c.mode = driver.ModeCustom
	}
	if ls, ok := o.Store.(driver.InProcessStore); ok && ls.InProcess() {
		c.inProcess = true
	}
	if c.store != nil && !c.inProcess {
		c.breaker = newBreaker(o.BreakerThreshold, o.ProbeInterval, o.Timeout, c.store.Ping, o.Logger)
	}
	return c
}

// pastBreaker marks the retrier's context: kept invalidations go to the
// store as soon as it answers, before the breaker lets other calls through
// again (other instances may be serving what they remove).
type pastBreaker struct{}

// bypassBreaker returns ctx marked so that calls made with it are not
// refused by an open breaker (see pastBreaker).
func bypassBreaker(ctx context.Context) context.Context {
	return context.WithValue(ctx, pastBreaker{}, true)
}

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
func (c *caller) do(ctx context.Context, op telemetry.Op, key string, call func(context.Context) error) (callResult, time.Duration, error) {
	var err error
	var d, took time.Duration
	switch {
	case c.inProcess:
		err = call(ctx)
	case !c.breaker.allow() && ctx.Value(pastBreaker{}) == nil:
		c.count(telemetry.TierStore, op, telemetry.OutcomeRejected, 0)
		return callFailed, 0, ctx.Err()
	default:
		// The real clock too: the breaker tells a slow store from a
		// starved machine by how late a call came back.
		start, cstart := time.Now(), c.clock.Now()
		cctx, cancel := context.WithTimeout(ctx, c.timeout)
		err = call(cctx)
		cancel()
		took, d = time.Since(start), c.clock.Now().Sub(cstart)
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
func (c *caller) failed(ctx context.Context, op telemetry.Op, key string, err error, d, took time.Duration) error {
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
		err = fmt.Errorf("%w after %v: %w", ErrTimeout, c.timeout, err)
	}
	c.count(telemetry.TierStore, op, o, d)
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
func (c *caller) cond(ctx context.Context, op telemetry.Op, full string, call func(context.Context) (bool, error)) (done, ok bool) {
	r, _, _ := c.do(ctx, op, full, func(ctx context.Context) error {
		var err error
		done, err = call(ctx)
		return err
	})
	return done, r == callOK
}

// admin runs a call that reports store failures instead of failing open.
func (c *caller) admin(ctx context.Context, op telemetry.Op, call func(context.Context) (int, error)) (int, error) {
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

// budget bounds one store round trip by Options.Timeout (none for a store
// that never blocks).
func (c *caller) budget(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.inProcess {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.timeout)
}

// reachable pings the store within the budget before a call that takes
// many round trips (Clear, Count), so that a store that does not answer
// costs an administrative call the budget, not its whole context.
func (c *caller) reachable(ctx context.Context) error {
	if c.inProcess {
		return nil
	}
	ctx, cancel := c.budget(ctx)
	defer cancel()
	return c.store.Ping(ctx)
}

// ping asks the store within Options.Timeout, whatever the breaker says,
// so that health checks tell the truth.
func (c *caller) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if err := c.store.Ping(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// outcomeBlocked is a read that did not go to the store because an
// invalidation of its key is pending. Stats counts it as a miss; there is
// no Outcome for it, so the Recorder is not told.
const outcomeBlocked = telemetry.Outcome(telemetry.NumOutcomes)

// count is the one place where outcomes are counted: in the Stats counters
// and, as an Event, for the Recorder.
func (c *caller) count(t telemetry.Tier, op telemetry.Op, o telemetry.Outcome, d time.Duration) {
	c.counters[t].add(op, o)
	if o != outcomeBlocked {
		c.recorder.Record(telemetry.Event{Tier: t, Op: op, Outcome: o, Duration: d})
	}
}

// breakerState reports the breaker's state for Stats.
func (c *caller) breakerState() BreakerState {
	if c.breaker == nil {
		return BreakerNone
	}
	return c.breaker.stateName()
}

// close stops the breaker's probe and closes the store unless the Cache
// only borrows it.
func (c *caller) close(borrowed bool) error {
	if c.breaker != nil {
		c.breaker.stop()
	}
	if c.store != nil && !borrowed {
		return c.store.Close()
	}
	return nil
}
