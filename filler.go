package larder

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/telemetry"
	"golang.org/x/sync/singleflight"
)

// filler is the machinery behind Fetch: it runs loaders (recovering their
// panics), shares one load per key in the process (single-flight), fills
// the store under a lease, refreshes values in the background, and counts
// what it did (Stats.Fetch). Its store calls go through the caller.
type filler struct {
	call       *caller
	tier       *localTier // nil if none: nothing to forget
	bg         *background
	clock      driver.Clock
	codec      Codec
	defaultTTL time.Duration
	defaults   fetchOptions // what Fetch uses when given no options

	flights      singleflight.Group // one fill per key in this process
	flightSeq    atomic.Uint64      // orders callers' arrival against flights' start (fill)
	refreshing   sync.Map           // full keys with a background refresh running
	refreshSlots chan struct{}      // bounds background refreshes
	hook         func(full string)  // tests: runs between a load and its fill
	stats        fetchCounters
}

func newFiller(o Options, call *caller, tier *localTier, bg *background) *filler {
	f := &filler{
		call:         call,
		tier:         tier,
		bg:           bg,
		clock:        o.Clock,
		codec:        o.Codec,
		defaultTTL:   o.DefaultTTL,
		refreshSlots: make(chan struct{}, o.MaxRefreshes),
	}
	f.defaults, _ = f.finishOptions(fetchOptions{jitter: DefaultJitter, leaseTTL: DefaultLeaseTTL, wait: DefaultLeaseWait})
	return f
}

type result[T any] struct {
	v     T
	err   error
	start uint64 // filler.flightSeq when the flight began
}

// fill runs one load for the key in this process and shares it.
//
// A caller shares the result of a flight only if the flight began after
// the caller arrived. A flight already under way may have loaded (or read)
// before an invalidation that completed before this caller arrived: its
// value is then older than a write the caller must see, and sharing it
// would be a stale read that no lease can catch, since it never goes
// through the cache. Such a caller waits for that flight to end and runs
// (or joins) the next one, which starts after it arrived: at most one more
// round, usually a cache read of what the first flight filled. That holds
// for every result that carries a value (a stale one too); errors are
// shared as they are.
func (j fetchJob[T]) fill(ctx context.Context, cur slot, gens []tagGen) (T, error) {
	f := j.c.fill
	arrived := f.flightSeq.Add(1)
	for {
		ch := f.flights.DoChan(j.full, func() (any, error) {
			return j.flight(ctx, cur, gens), nil
		})
		select {
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		case r := <-ch:
			res, ok := r.Val.(result[T])
			if !ok {
				// Another type shares this key; do not hand its value over.
				return j.direct(ctx)
			}
			if res.start < arrived && carriesValue(res.err) {
				// A flight from before this caller arrived: the next one
				// reads the store again, since what this one read may
				// predate an invalidation.
				cur = slot{state: slotUnknown}
				continue
			}
			return res.v, res.err
		}
	}
}

// flight is the body of one flight: a fill that the caller's end does not
// cancel, whose panic becomes every waiting caller's error.
func (j fetchJob[T]) flight(ctx context.Context, cur slot, gens []tagGen) (r result[T]) {
	start := j.c.fill.flightSeq.Add(1)
	defer func() {
		// A panic here would be re-raised on a goroutine of
		// singleflight's, where nobody can recover it.
		if p := recover(); p != nil {
			r = result[T]{err: &PanicError{Key: j.key, Value: p, Stack: debug.Stack()}, start: start}
		}
	}()
	v, err := j.fillOnce(context.WithoutCancel(ctx), cur, gens)
	return result[T]{v, err, start}
}

// carriesValue reports whether a flight's result is (or stands for) a
// value read at some moment, which a caller arriving later must not take.
func carriesValue(err error) bool {
	return err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrStale) || errors.Is(err, ErrEncode)
}

// fillValue swaps the lease for the loaded value. When the lease was
// replaced by a versioned write-through (SetVersioned) older than what
// was loaded, the loaded value replaces that in turn: the version says it
// is newer. Without a version (Version option) the other write wins.
func (f *filler) fillValue(ctx context.Context, cs driver.ConditionalStore, key, full string, lease []byte, env envelope, o fetchOptions) {
	raw := env.encode()
	ttl := time.UnixMilli(env.hard).Sub(f.clock.Now())
	if f.swapRaw(ctx, cs, full, lease, raw, ttl) || o.version == nil || env.version <= 0 {
		return
	}
	for range 4 {
		cur, err := f.call.readAs(ctx, telemetry.OpLease, full)
		if err != nil || !cur.value() || cur.env.version <= 0 || cur.env.version >= env.version {
			return
		}
		swapped, ok := f.call.cond(ctx, telemetry.OpSet, full, func(ctx context.Context) (bool, error) {
			return cs.CompareAndSwap(ctx, full, cur.raw, raw, ttl)
		})
		if swapped {
			f.stats.fills.Add(1)
			f.tier.forget(key)
			return
		}
		if !ok {
			return
		}
	}
}

// versionOf reads a loaded value's version through the Version option.
func versionOf(v any, o fetchOptions) int64 {
	if o.version == nil {
		return 0
	}
	ver, _ := o.version(v)
	return ver
}

// runLoad runs the loader and encodes its value; data is nil when the
// value does not encode (unless encode is false: then it is not tried),
// err is the loader's: a *NotFoundError for "not found", a *PanicError for
// a panic.
func runLoad[T any](ctx context.Context, f *filler, key string, load func(context.Context) (T, error), encode bool) (v T, data []byte, delta time.Duration, err error) {
	start := f.clock.Now()
	f.stats.loads.Add(1)
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = &PanicError{Key: key, Value: p, Stack: debug.Stack()}
			}
		}()
		v, err = load(ctx)
	}()
	delta = f.clock.Now().Sub(start)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			var nf *NotFoundError
			if !errors.As(err, &nf) {
				err = notFound(key, err)
			}
		} else {
			f.stats.loadErrors.Add(1)
		}
		var zero T
		return zero, nil, delta, err
	}
	if !encode {
		return v, nil, delta, nil
	}
	data, merr := f.codec.Marshal(v)
	if merr != nil {
		f.call.logs.failure(telemetry.OpSet, telemetry.OutcomeError, key, fmt.Errorf("%w: %w", ErrEncode, merr))
		return v, nil, delta, nil
	}
	return v, data, delta, nil
}

// encodeErr reports a loaded value that did not encode.
func encodeErr[T any](key string, v T, data []byte, err error) error {
	if err != nil || data != nil {
		return err
	}
	return fmt.Errorf("%w: key %q: the loaded %T is not cached", ErrEncode, key, v)
}

// valueEnvelope wraps freshly loaded data with its expiries, the tags'
// generations read before the load, and its version.
func (f *filler) valueEnvelope(data []byte, delta time.Duration, o fetchOptions, gens []tagGen, version int64) envelope {
	ttl := o.ttl
	if o.jitter > 0 {
		ttl = time.Duration(float64(ttl) * (1 + o.jitter*(2*mrand.Float64()-1)))
	}
	soft := f.clock.Now().Add(max(ttl, time.Millisecond)).UnixMilli()
	return envelope{soft: soft, hard: soft + max(o.swr, o.sie).Milliseconds(), delta: delta.Microseconds(), version: version, tags: gens, value: data}
}

// swap replaces the lease with env, counting a refused swap as a dropped
// (stale) fill.
func (f *filler) swap(ctx context.Context, cs driver.ConditionalStore, full string, lease []byte, env envelope) {
	ttl := time.UnixMilli(env.hard).Sub(f.clock.Now())
	f.swapRaw(ctx, cs, full, lease, env.encode(), ttl)
}

// swapRaw replaces the lease with raw and reports whether it did.
func (f *filler) swapRaw(ctx context.Context, cs driver.ConditionalStore, full string, lease, raw []byte, ttl time.Duration) bool {
	if ttl < time.Millisecond {
		f.release(ctx, cs, full, lease)
		return false
	}
	swapped, ok := f.call.cond(ctx, telemetry.OpSet, full, func(ctx context.Context) (bool, error) {
		return cs.CompareAndSwap(ctx, full, lease, raw, ttl)
	})
	switch {
	case swapped:
		f.stats.fills.Add(1)
	case ok:
		f.stats.dropped.Add(1)
	}
	return swapped
}

func (f *filler) release(ctx context.Context, cs driver.ConditionalStore, full string, lease []byte) {
	f.call.cond(ctx, telemetry.OpLease, full, func(ctx context.Context) (bool, error) {
		return cs.CompareAndDelete(ctx, full, lease)
	})
}

// write stores an envelope unconditionally (stores without conditional
// writes).
func (f *filler) write(ctx context.Context, full string, env envelope) {
	ttl := time.UnixMilli(env.hard).Sub(f.clock.Now())
	if ttl < time.Millisecond {
		return
	}
	raw := env.encode()
	if r, _, _ := f.call.do(ctx, telemetry.OpSet, full, func(ctx context.Context) error {
		return f.call.store.Set(ctx, full, raw, ttl)
	}); r == callOK {
		f.stats.fills.Add(1)
	}
}

// xfetch decides an early refresh: now − Δ·β·ln(rand) ≥ expiry.
func xfetch(now time.Time, env *envelope, beta float64) bool {
	gap := float64(env.delta) * beta * -math.Log(1-mrand.Float64()) // µs
	return float64(now.UnixMicro())+gap >= float64(env.soft)*1000
}

// refresh reloads full in the background, once per key and process, at
// most Options.MaxRefreshes at once in all, and across processes once per
// key while its refresh lock lives. The new value replaces exactly the one
// that was read (compare-and-swap), so a refresh that raced with an
// invalidation is dropped.
func refresh[T any](f *filler, key, full string, raw []byte, gens []tagGen, load func(context.Context) (T, error), o fetchOptions) {
	if !f.claimRefresh(full) {
		return
	}
	if !f.bg.enter() {
		f.endRefresh(full) // closed meanwhile
		return
	}
	// Started here, so that a goroutine dump names refresh as its creator.
	go func() {
		defer f.bg.exit()
		defer f.endRefresh(full)
		reload(f.bg.ctx, f, key, full, raw, gens, load, o)
	}()
}

// claimRefresh reserves a refresh of full, unless one runs already or
// enough refreshes run (a later hit then tries again).
func (f *filler) claimRefresh(full string) bool {
	if _, running := f.refreshing.LoadOrStore(full, struct{}{}); running {
		return false
	}
	select {
	case f.refreshSlots <- struct{}{}:
		return true
	default:
		f.refreshing.Delete(full)
		return false
	}
}

// endRefresh gives back what claimRefresh reserved.
func (f *filler) endRefresh(full string) {
	f.refreshing.Delete(full)
	<-f.refreshSlots
}

// reload is the body of a background refresh: it loads and replaces raw,
// the bytes that were read, with the new value.
func reload[T any](ctx context.Context, f *filler, key, full string, raw []byte, gens []tagGen, load func(context.Context) (T, error), o fetchOptions) {
	cs, conditional := f.call.store.(driver.ConditionalStore)
	if !conditional {
		if v, data, delta, err := runLoad(ctx, f, key, load, true); err == nil && data != nil {
			f.stats.refreshes.Add(1)
			f.write(ctx, full, f.valueEnvelope(data, delta, o, gens, versionOf(v, o)))
		}
		return
	}
	unlock, ok := f.refreshLock(ctx, cs, full, o.leaseTTL)
	if !ok {
		return // another process refreshes it
	}
	defer unlock()
	f.stats.refreshes.Add(1)
	v, data, delta, err := runLoad(ctx, f, key, load, true)
	if err != nil || data == nil {
		return // the old value serves on until it expires
	}
	if f.hook != nil {
		f.hook(full)
	}
	env := f.valueEnvelope(data, delta, o, gens, versionOf(v, o))
	if f.swapRaw(ctx, cs, full, raw, env.encode(), time.UnixMilli(env.hard).Sub(f.clock.Now())) {
		f.tier.forget(key)
	}
}

// refreshLock takes full's refresh lock across processes, for ttl at most.
func (f *filler) refreshLock(ctx context.Context, cs driver.ConditionalStore, full string, ttl time.Duration) (unlock func(), ok bool) {
	lockKey := full + refreshSuffix
	lock := token()
	won, _ := f.call.cond(ctx, telemetry.OpLease, lockKey, func(ctx context.Context) (bool, error) {
		return cs.SetNX(ctx, lockKey, lock, ttl)
	})
	if !won {
		return nil, false
	}
	return func() {
		f.call.cond(ctx, telemetry.OpLease, lockKey, func(ctx context.Context) (bool, error) {
			return cs.CompareAndDelete(ctx, lockKey, lock)
		})
	}, true
}

// refreshSuffix names a key's background-refresh lock.
const refreshSuffix = "\x00refresh"

func token() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return b
}
