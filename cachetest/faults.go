package cachetest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/larderhq/larder/driver"
)

// ErrInjected is wrapped by every error that a Faults store makes up, so
// that a test can tell an injected failure from one of the store it wraps.
var ErrInjected = errors.New("cachetest: injected fault")

// DefaultMaxDelay is how long after its reported timeout a command may
// still run when FaultConfig.MaxDelay is zero: long enough to land after
// the caller's next few calls, short enough that a test waits little for
// it.
const DefaultMaxDelay = 20 * time.Millisecond

// lateBudget bounds a command that runs after its reported timeout. The
// caller's context no longer applies (the caller has gone), and a command
// must not keep Close waiting forever on a store that hangs.
const lateBudget = 5 * time.Second

// FaultKind names a kind of fault that Faults injects.
type FaultKind int

// The kinds of fault, as counted by Faults.Counts and reported to
// FaultConfig.Observe.
const (
	// FaultError fails a call at once with an error wrapping ErrInjected;
	// the command does not reach the store.
	FaultError FaultKind = iota + 1
	// FaultTimeout reports a call as timed out at once, with an error
	// wrapping ErrInjected and context.DeadlineExceeded, and runs the
	// command against the store later anyway, after a random delay, from
	// another goroutine, in no particular order with the caller's later
	// calls: what Redis does when a client gives up on a command that the
	// server has queued. The caller cannot know whether it took effect.
	FaultTimeout
	// FaultLatency delays a call before it runs. A call whose context
	// ends during the delay returns the context's error and does not run.
	FaultLatency
	// FaultLateRun is no fault but the moment a command reported as timed
	// out (FaultTimeout) actually runs; FaultEvent.Err is its result.
	FaultLateRun
)

// String returns the kind's name, as "error" or "timeout".
func (k FaultKind) String() string {
	switch k {
	case FaultError:
		return "error"
	case FaultTimeout:
		return "timeout"
	case FaultLatency:
		return "latency"
	case FaultLateRun:
		return "late-run"
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// FaultConfig says which share of calls gets which fault. Each call that
// Faults can fault (every method of driver.Store and of the optional
// interfaces that does I/O: not Close, OnInvalidate, Track, Tracking, Mode
// or Size) draws once for an error or a timeout and once for latency, from
// a random source seeded by NewFaults.
type FaultConfig struct {
	// ErrorRate is the share of calls, from 0 to 1, that fail at once
	// without running (FaultError).
	ErrorRate float64
	// TimeoutRate is the share of calls that are reported as timed out
	// and run later (FaultTimeout). ErrorRate + TimeoutRate must not
	// exceed 1.
	TimeoutRate float64
	// MaxDelay bounds how long after its reported timeout a command runs:
	// the delay is uniform in [0, MaxDelay]. Zero means DefaultMaxDelay.
	MaxDelay time.Duration
	// LatencyRate is the share of calls that wait before running
	// (FaultLatency), whatever else happens to them.
	LatencyRate float64
	// MaxLatency bounds that wait: uniform in [0, MaxLatency].
	MaxLatency time.Duration
	// Observe, when set, is told of every fault injected and of every
	// late run, so that a test can log them beside its own history. It
	// is called synchronously, from the goroutine of the call (or of the
	// late run), and must be safe for concurrent use.
	Observe func(FaultEvent)
}

func (c FaultConfig) validate() error {
	rate := func(r float64) bool { return r >= 0 && r <= 1 }
	switch {
	case !rate(c.ErrorRate) || !rate(c.TimeoutRate) || !rate(c.LatencyRate):
		return errors.New("cachetest: fault rates must be between 0 and 1")
	case c.ErrorRate+c.TimeoutRate > 1:
		return errors.New("cachetest: ErrorRate + TimeoutRate exceeds 1")
	case c.MaxDelay < 0 || c.MaxLatency < 0:
		return errors.New("cachetest: MaxDelay and MaxLatency must not be negative")
	}
	return nil
}

// FaultEvent is one fault injected, or one late run, as reported to
// FaultConfig.Observe.
type FaultEvent struct {
	Kind FaultKind
	// Op is the method, in lower case: "get", "set", "delete", "exists",
	// "clear", "ping", "setnx", "cas", "cad", "getmany", "setmany",
	// "count" or "info".
	Op string
	// Keys are the keys the call names, or its pattern for "clear" and
	// "count"; nil for "ping" and "info".
	Keys []string
	// Delay is the latency added (FaultLatency) or how long after its
	// reported timeout the command will run (FaultTimeout).
	Delay time.Duration
	// Err is the late command's own result (FaultLateRun only).
	Err error
}

// FaultCounts are the calls Faults saw and the faults it injected.
type FaultCounts struct {
	// Calls counts every call that could be faulted, enabled or not.
	Calls uint64
	// Errors, Timeouts and Latencies count the faults of each kind.
	Errors, Timeouts, Latencies uint64
	// LateRuns counts the timed-out commands that have since run.
	LateRuns uint64
}

// Faults wraps a driver.Store and injects faults into a seeded random
// share of its calls: errors, timeouts whose command still runs later,
// and latency (see FaultKind). It is meant for tests that must show a
// Cache, or code built on one, stays correct while its store misbehaves,
// the way a Redis server does when it stalls or the network drops.
//
// The store that Store returns has exactly the optional interfaces of the
// store it wraps (driver.ConditionalStore, driver.BatchStore,
// driver.InvalidationSource, driver.KeyCounter, driver.Infoer, driver.Sizer),
// and reports the wrapped store's Mode and, for an InvalidationSource,
// whether it reports its own writes (driver.SelfReporter). It never implements
// driver.InProcessStore: a Cache treats it as remote, with time budgets and a
// circuit breaker, even over memstore, since a store that can time out is
// not in-process in the sense that matters.
//
// Faults are on from NewFaults until Disable, and can be switched and
// reconfigured at any time, from any goroutine.
type Faults struct {
	inner driver.Store
	view  driver.Store
	cfg   atomic.Pointer[FaultConfig]
	on    atomic.Bool

	rngMu sync.Mutex
	rng   *rand.Rand

	// mu guards pending and closed: a late run is registered only while
	// the store is open, so that Wait and Close see every one.
	mu      sync.Mutex
	idle    *sync.Cond
	pending int
	closed  bool

	calls, errs, timeouts, latencies, lateRuns atomic.Uint64
}

// NewFaults wraps inner. Faults start on, with cfg; seed fixes the random
// choices, so that a failing test can be replayed (as far as the
// scheduling of concurrent callers allows).
func NewFaults(inner driver.Store, seed uint64, cfg FaultConfig) (*Faults, error) {
	if inner == nil {
		return nil, errors.New("cachetest: NewFaults of a nil store")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	f := &Faults{inner: inner, rng: rand.New(rand.NewPCG(seed, 0x6661756c7473))}
	f.idle = sync.NewCond(&f.mu)
	f.cfg.Store(&cfg)
	f.on.Store(true)
	f.view = faultyViews[optionalInterfaces(inner)](&faultyStore{f})
	return f, nil
}

// Store returns the faulty store, to be given to larder.New. Its Close
// waits for the late runs (see Wait) and then closes the wrapped store.
func (f *Faults) Store() driver.Store { return f.view }

// Enable switches faults on.
func (f *Faults) Enable() { f.on.Store(true) }

// Disable switches faults off: later calls reach the wrapped store as they
// are. Commands already reported as timed out still run.
func (f *Faults) Disable() { f.on.Store(false) }

// Enabled reports whether faults are on.
func (f *Faults) Enabled() bool { return f.on.Load() }

// Configure replaces the configuration; calls that start afterwards use
// the new one.
func (f *Faults) Configure(cfg FaultConfig) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	f.cfg.Store(&cfg)
	return nil
}

// Counts returns how many calls Faults saw and how many faults of each
// kind it injected so far.
func (f *Faults) Counts() FaultCounts {
	return FaultCounts{
		Calls: f.calls.Load(), Errors: f.errs.Load(), Timeouts: f.timeouts.Load(),
		Latencies: f.latencies.Load(), LateRuns: f.lateRuns.Load(),
	}
}

// Wait returns once every command reported as timed out so far has run.
func (f *Faults) Wait() {
	f.mu.Lock()
	for f.pending > 0 {
		f.idle.Wait()
	}
	f.mu.Unlock()
}

// decision is what happens to one call.
type decision struct {
	kind    FaultKind     // 0, FaultError or FaultTimeout
	delay   time.Duration // of a timed-out command's late run
	latency time.Duration
}

func (f *Faults) decide() decision {
	f.calls.Add(1)
	if !f.on.Load() {
		return decision{}
	}
	cfg := f.cfg.Load()
	f.rngMu.Lock()
	defer f.rngMu.Unlock()
	var d decision
	switch r := f.rng.Float64(); {
	case r < cfg.ErrorRate:
		d.kind = FaultError
	case r < cfg.ErrorRate+cfg.TimeoutRate:
		d.kind = FaultTimeout
		maxDelay := cfg.MaxDelay
		if maxDelay == 0 {
			maxDelay = DefaultMaxDelay
		}
		d.delay = time.Duration(f.rng.Int64N(int64(maxDelay) + 1))
	}
	if cfg.LatencyRate > 0 && f.rng.Float64() < cfg.LatencyRate {
		d.latency = time.Duration(f.rng.Int64N(int64(cfg.MaxLatency) + 1))
	}
	return d
}

func (f *Faults) observe(e FaultEvent) {
	if obs := f.cfg.Load().Observe; obs != nil {
		obs(e)
	}
}

// faultyCall runs one faultable call. run must not use memory the caller may
// change after the call returns: a timed-out command runs later.
func faultyCall[T any](ctx context.Context, f *Faults, op string, keys []string, run func(context.Context) (T, error)) (T, error) {
	var zero T
	d := f.decide()
	if d.latency > 0 {
		f.latencies.Add(1)
		f.observe(FaultEvent{Kind: FaultLatency, Op: op, Keys: keys, Delay: d.latency})
		t := time.NewTimer(d.latency)
		select {
		case <-ctx.Done():
			t.Stop()
			return zero, fmt.Errorf("cachetest: %s: %w", op, ctx.Err())
		case <-t.C:
		}
	}
	switch d.kind {
	case FaultError:
		f.errs.Add(1)
		f.observe(FaultEvent{Kind: FaultError, Op: op, Keys: keys})
		return zero, fmt.Errorf("%w: %s failed", ErrInjected, op)
	case FaultTimeout:
		f.mu.Lock()
		if f.closed {
			// Nobody would wait for the late run: fail plainly.
			f.mu.Unlock()
			return zero, fmt.Errorf("%w: %s failed", ErrInjected, op)
		}
		f.pending++
		f.mu.Unlock()
		f.timeouts.Add(1)
		f.observe(FaultEvent{Kind: FaultTimeout, Op: op, Keys: keys, Delay: d.delay})
		lateCtx := context.WithoutCancel(ctx)
		go func() {
			time.Sleep(d.delay)
			ctx, cancel := context.WithTimeout(lateCtx, lateBudget)
			_, err := run(ctx)
			cancel()
			f.lateRuns.Add(1)
			f.observe(FaultEvent{Kind: FaultLateRun, Op: op, Keys: keys, Err: err})
			f.mu.Lock()
			f.pending--
			if f.pending == 0 {
				f.idle.Broadcast()
			}
			f.mu.Unlock()
		}()
		return zero, fmt.Errorf("%w: %s timed out (it still runs later): %w", ErrInjected, op, context.DeadlineExceeded)
	}
	return run(ctx)
}

// faultyStore is the faulty driver.Store; the optional interfaces are added to
// it by embedding, in faultyViews.
type faultyStore struct{ f *Faults }

func (b *faultyStore) Get(ctx context.Context, key string) ([]byte, error) {
	return faultyCall(ctx, b.f, "get", []string{key}, func(ctx context.Context) ([]byte, error) {
		return b.f.inner.Get(ctx, key)
	})
}

func (b *faultyStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	value = slices.Clone(value)
	_, err := faultyCall(ctx, b.f, "set", []string{key}, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, b.f.inner.Set(ctx, key, value, ttl)
	})
	return err
}

func (b *faultyStore) Delete(ctx context.Context, keys ...string) (int, error) {
	keys = slices.Clone(keys)
	return faultyCall(ctx, b.f, "delete", keys, func(ctx context.Context) (int, error) {
		return b.f.inner.Delete(ctx, keys...)
	})
}

func (b *faultyStore) Exists(ctx context.Context, key string) (bool, error) {
	return faultyCall(ctx, b.f, "exists", []string{key}, func(ctx context.Context) (bool, error) {
		return b.f.inner.Exists(ctx, key)
	})
}

func (b *faultyStore) Clear(ctx context.Context, pattern string) (int, error) {
	return faultyCall(ctx, b.f, "clear", []string{pattern}, func(ctx context.Context) (int, error) {
		return b.f.inner.Clear(ctx, pattern)
	})
}

func (b *faultyStore) Ping(ctx context.Context) error {
	_, err := faultyCall(ctx, b.f, "ping", nil, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, b.f.inner.Ping(ctx)
	})
	return err
}

// Close waits for the late runs, then closes the wrapped store. Faults
// are off from then on, and later calls reach the wrapped store, which
// refuses them.
func (b *faultyStore) Close() error {
	f := b.f
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.on.Store(false)
	f.Wait()
	return f.inner.Close()
}

// Mode reports the wrapped store's Mode, or driver.ModeCustom for a store
// that does not report one, which is the mode a Cache gives it anyway.
func (b *faultyStore) Mode() driver.Mode {
	if m, ok := b.f.inner.(driver.ModeReporter); ok {
		return m.Mode()
	}
	return driver.ModeCustom
}

type faultyConditional struct{ b *faultyStore }

func (c faultyConditional) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	cs := c.b.f.inner.(driver.ConditionalStore)
	value = slices.Clone(value)
	return faultyCall(ctx, c.b.f, "setnx", []string{key}, func(ctx context.Context) (bool, error) {
		return cs.SetNX(ctx, key, value, ttl)
	})
}

func (c faultyConditional) CompareAndSwap(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	cs := c.b.f.inner.(driver.ConditionalStore)
	old, value = slices.Clone(old), slices.Clone(value)
	return faultyCall(ctx, c.b.f, "cas", []string{key}, func(ctx context.Context) (bool, error) {
		return cs.CompareAndSwap(ctx, key, old, value, ttl)
	})
}

func (c faultyConditional) CompareAndDelete(ctx context.Context, key string, old []byte) (bool, error) {
	cs := c.b.f.inner.(driver.ConditionalStore)
	old = slices.Clone(old)
	return faultyCall(ctx, c.b.f, "cad", []string{key}, func(ctx context.Context) (bool, error) {
		return cs.CompareAndDelete(ctx, key, old)
	})
}

type faultyBatch struct{ b *faultyStore }

func (s faultyBatch) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	bs := s.b.f.inner.(driver.BatchStore)
	keys = slices.Clone(keys)
	return faultyCall(ctx, s.b.f, "getmany", keys, func(ctx context.Context) ([][]byte, error) {
		return bs.GetMany(ctx, keys)
	})
}

func (s faultyBatch) SetMany(ctx context.Context, items []driver.Item) error {
	bs := s.b.f.inner.(driver.BatchStore)
	items = slices.Clone(items)
	keys := make([]string, len(items))
	for i := range items {
		items[i].Value = slices.Clone(items[i].Value)
		keys[i] = items[i].Key
	}
	_, err := faultyCall(ctx, s.b.f, "setmany", keys, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, bs.SetMany(ctx, items)
	})
	return err
}

// faultyInvalidation forwards driver.InvalidationSource as it is: the
// invalidation stream is the wrapped store's, and faults on its calls
// would be faults of the stream, which Faults does not model.
type faultyInvalidation struct{ b *faultyStore }

func (i faultyInvalidation) OnInvalidate(fn func(keys []string)) (cancel func()) {
	return i.b.f.inner.(driver.InvalidationSource).OnInvalidate(fn)
}

func (i faultyInvalidation) Track(prefix string) error {
	return i.b.f.inner.(driver.InvalidationSource).Track(prefix)
}

func (i faultyInvalidation) Tracking() bool {
	return i.b.f.inner.(driver.InvalidationSource).Tracking()
}

// ReportsOwnWrites forwards driver.SelfReporter. A source that lacks it
// reports false, which a Cache takes as it takes the interface missing,
// so it needs no view of its own.
func (i faultyInvalidation) ReportsOwnWrites() bool {
	sr, ok := i.b.f.inner.(driver.SelfReporter)
	return ok && sr.ReportsOwnWrites()
}

type faultyCounter struct{ b *faultyStore }

func (c faultyCounter) Count(ctx context.Context, pattern string) (int, error) {
	cs := c.b.f.inner.(driver.KeyCounter)
	return faultyCall(ctx, c.b.f, "count", []string{pattern}, func(ctx context.Context) (int, error) {
		return cs.Count(ctx, pattern)
	})
}

type faultyInfoer struct{ b *faultyStore }

func (i faultyInfoer) Info(ctx context.Context) (map[string]string, error) {
	is := i.b.f.inner.(driver.Infoer)
	return faultyCall(ctx, i.b.f, "info", nil, func(ctx context.Context) (map[string]string, error) {
		return is.Info(ctx)
	})
}

type faultySizer struct{ b *faultyStore }

func (s faultySizer) Size() (entries int, bytes uint64) { return s.b.f.inner.(driver.Sizer).Size() }

// optionalInterfaces returns the bit set of the optional interfaces s has, in the
// order of the embedded types in faultyViews.
func optionalInterfaces(s driver.Store) int {
	var mask int
	for i, ok := range []bool{
		has[driver.ConditionalStore](s), has[driver.BatchStore](s), has[driver.InvalidationSource](s),
		has[driver.KeyCounter](s), has[driver.Infoer](s), has[driver.Sizer](s),
	} {
		if ok {
			mask |= 1 << i
		}
	}
	return mask
}

func has[I any](s driver.Store) bool { _, ok := s.(I); return ok }

// faultyViews builds, for each set of optional interfaces (bit i: the i-th of
// driver.ConditionalStore, BatchStore, InvalidationSource, Counter, Infoer,
// Sizer), a store with
// exactly those: a Cache detects the interfaces by type assertion, so the
// wrapper must neither hide one the wrapped store has nor claim one it
// lacks. Go cannot add methods at run time, hence one type per set.
var faultyViews = [64]func(b *faultyStore) driver.Store{
	func(b *faultyStore) driver.Store { return b },
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
		}{b, faultyConditional{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyBatch
		}{b, faultyBatch{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyBatch
		}{b, faultyConditional{b}, faultyBatch{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyInvalidation
		}{b, faultyInvalidation{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyInvalidation
		}{b, faultyConditional{b}, faultyInvalidation{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyBatch
			faultyInvalidation
		}{b, faultyBatch{b}, faultyInvalidation{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyBatch
			faultyInvalidation
		}{b, faultyConditional{b}, faultyBatch{b}, faultyInvalidation{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyCounter
		}{b, faultyCounter{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyCounter
		}{b, faultyConditional{b}, faultyCounter{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyBatch
			faultyCounter
		}{b, faultyBatch{b}, faultyCounter{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyBatch
			faultyCounter
		}{b, faultyConditional{b}, faultyBatch{b}, faultyCounter{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyInvalidation
			faultyCounter
		}{b, faultyInvalidation{b}, faultyCounter{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyInvalidation
			faultyCounter
		}{b, faultyConditional{b}, faultyInvalidation{b}, faultyCounter{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyBatch
			faultyInvalidation
			faultyCounter
		}{b, faultyBatch{b}, faultyInvalidation{b}, faultyCounter{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyBatch
			faultyInvalidation
			faultyCounter
		}{b, faultyConditional{b}, faultyBatch{b}, faultyInvalidation{b}, faultyCounter{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyInfoer
		}{b, faultyInfoer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyInfoer
		}{b, faultyConditional{b}, faultyInfoer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyBatch
			faultyInfoer
		}{b, faultyBatch{b}, faultyInfoer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyBatch
			faultyInfoer
		}{b, faultyConditional{b}, faultyBatch{b}, faultyInfoer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyInvalidation
			faultyInfoer
		}{b, faultyInvalidation{b}, faultyInfoer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyInvalidation
			faultyInfoer
		}{b, faultyConditional{b}, faultyInvalidation{b}, faultyInfoer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyBatch
			faultyInvalidation
			faultyInfoer
		}{b, faultyBatch{b}, faultyInvalidation{b}, faultyInfoer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyBatch
			faultyInvalidation
			faultyInfoer
		}{b, faultyConditional{b}, faultyBatch{b}, faultyInvalidation{b}, faultyInfoer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyCounter
			faultyInfoer
		}{b, faultyCounter{b}, faultyInfoer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyCounter
			faultyInfoer
		}{b, faultyConditional{b}, faultyCounter{b}, faultyInfoer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyBatch
			faultyCounter
			faultyInfoer
		}{b, faultyBatch{b}, faultyCounter{b}, faultyInfoer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyBatch
			faultyCounter
			faultyInfoer
		}{b, faultyConditional{b}, faultyBatch{b}, faultyCounter{b}, faultyInfoer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyInvalidation
			faultyCounter
			faultyInfoer
		}{b, faultyInvalidation{b}, faultyCounter{b}, faultyInfoer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyInvalidation
			faultyCounter
			faultyInfoer
		}{b, faultyConditional{b}, faultyInvalidation{b}, faultyCounter{b}, faultyInfoer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyBatch
			faultyInvalidation
			faultyCounter
			faultyInfoer
		}{b, faultyBatch{b}, faultyInvalidation{b}, faultyCounter{b}, faultyInfoer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyBatch
			faultyInvalidation
			faultyCounter
			faultyInfoer
		}{b, faultyConditional{b}, faultyBatch{b}, faultyInvalidation{b}, faultyCounter{b}, faultyInfoer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultySizer
		}{b, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultySizer
		}{b, faultyConditional{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyBatch
			faultySizer
		}{b, faultyBatch{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyBatch
			faultySizer
		}{b, faultyConditional{b}, faultyBatch{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyInvalidation
			faultySizer
		}{b, faultyInvalidation{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyInvalidation
			faultySizer
		}{b, faultyConditional{b}, faultyInvalidation{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyBatch
			faultyInvalidation
			faultySizer
		}{b, faultyBatch{b}, faultyInvalidation{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyBatch
			faultyInvalidation
			faultySizer
		}{b, faultyConditional{b}, faultyBatch{b}, faultyInvalidation{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyCounter
			faultySizer
		}{b, faultyCounter{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyCounter
			faultySizer
		}{b, faultyConditional{b}, faultyCounter{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyBatch
			faultyCounter
			faultySizer
		}{b, faultyBatch{b}, faultyCounter{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyBatch
			faultyCounter
			faultySizer
		}{b, faultyConditional{b}, faultyBatch{b}, faultyCounter{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyInvalidation
			faultyCounter
			faultySizer
		}{b, faultyInvalidation{b}, faultyCounter{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyInvalidation
			faultyCounter
			faultySizer
		}{b, faultyConditional{b}, faultyInvalidation{b}, faultyCounter{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyBatch
			faultyInvalidation
			faultyCounter
			faultySizer
		}{b, faultyBatch{b}, faultyInvalidation{b}, faultyCounter{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyBatch
			faultyInvalidation
			faultyCounter
			faultySizer
		}{b, faultyConditional{b}, faultyBatch{b}, faultyInvalidation{b}, faultyCounter{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyInfoer
			faultySizer
		}{b, faultyInfoer{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyInfoer
			faultySizer
		}{b, faultyConditional{b}, faultyInfoer{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyBatch
			faultyInfoer
			faultySizer
		}{b, faultyBatch{b}, faultyInfoer{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyBatch
			faultyInfoer
			faultySizer
		}{b, faultyConditional{b}, faultyBatch{b}, faultyInfoer{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyInvalidation
			faultyInfoer
			faultySizer
		}{b, faultyInvalidation{b}, faultyInfoer{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyInvalidation
			faultyInfoer
			faultySizer
		}{b, faultyConditional{b}, faultyInvalidation{b}, faultyInfoer{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyBatch
			faultyInvalidation
			faultyInfoer
			faultySizer
		}{b, faultyBatch{b}, faultyInvalidation{b}, faultyInfoer{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyBatch
			faultyInvalidation
			faultyInfoer
			faultySizer
		}{b, faultyConditional{b}, faultyBatch{b}, faultyInvalidation{b}, faultyInfoer{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyCounter
			faultyInfoer
			faultySizer
		}{b, faultyCounter{b}, faultyInfoer{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyCounter
			faultyInfoer
			faultySizer
		}{b, faultyConditional{b}, faultyCounter{b}, faultyInfoer{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyBatch
			faultyCounter
			faultyInfoer
			faultySizer
		}{b, faultyBatch{b}, faultyCounter{b}, faultyInfoer{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyBatch
			faultyCounter
			faultyInfoer
			faultySizer
		}{b, faultyConditional{b}, faultyBatch{b}, faultyCounter{b}, faultyInfoer{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyInvalidation
			faultyCounter
			faultyInfoer
			faultySizer
		}{b, faultyInvalidation{b}, faultyCounter{b}, faultyInfoer{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyInvalidation
			faultyCounter
			faultyInfoer
			faultySizer
		}{b, faultyConditional{b}, faultyInvalidation{b}, faultyCounter{b}, faultyInfoer{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyBatch
			faultyInvalidation
			faultyCounter
			faultyInfoer
			faultySizer
		}{b, faultyBatch{b}, faultyInvalidation{b}, faultyCounter{b}, faultyInfoer{b}, faultySizer{b}}
	},
	func(b *faultyStore) driver.Store {
		return struct {
			*faultyStore
			faultyConditional
			faultyBatch
			faultyInvalidation
			faultyCounter
			faultyInfoer
			faultySizer
		}{b, faultyConditional{b}, faultyBatch{b}, faultyInvalidation{b}, faultyCounter{b}, faultyInfoer{b}, faultySizer{b}}
	},
}
