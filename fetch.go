package larder

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"runtime/debug"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/telemetry"
)

// Fetch returns the value of key, from the cache or, on a miss, from load,
// whose result it caches: cache-aside without its traps.
//
//   - One load per key at a time in this process (single-flight): the
//     callers that arrived before it began share its result; those that
//     arrive while it runs wait for it and then take the next round,
//     usually a cache read of what it filled, since a load that began
//     before them may predate an invalidation they must see. A caller whose
//     context ends stops waiting without cancelling the load for the others
//     (the loader runs with a context that is never cancelled; bound it
//     yourself if it can hang).
//   - One load per key across processes when the store can write
//     conditionally (driver.ConditionalStore: Redis, memstore): the filler holds a
//     lease, a placeholder written only if the key is absent (or by
//     compare-and-swap over the old value), and replaces it with the value
//     by compare-and-swap. A Delete, a Clear or a write in between removes
//     or replaces the lease, so a value loaded before the invalidation never
//     reaches the cache. The others wait for the fill (LeaseWait), then load
//     by themselves without writing. A filler that dies blocks the key for
//     at most LeaseTTL. Bytes under the key that are not a larder entry (a
//     value written by hand, a corrupt or future-format entry) are replaced
//     the same way, with a bounded number of attempts.
//   - Stale serving, early refresh, negative caching, jitter, tags and
//     versions as the FetchOptions say.
//
// A loader error wrapping ErrNotFound is "not found": cached for
// NegativeTTL when set, and returned as a *NotFoundError (which wraps both
// ErrNotFound and the loader's error). With StaleIfError, a failing
// loader's error comes back wrapped in ErrStale beside the last value. A
// loader that panics makes every caller waiting for it get a *PanicError
// (wrapping ErrPanic); the process goes on. A loaded value that the codec
// cannot encode is returned with an error wrapping ErrEncode, and is not
// cached. Invalid options return an error wrapping ErrInvalidOptions (or
// ErrInvalidTTL) without loading. The store failing never fails Fetch: it
// loads and answers.
//
// In redis mode, untagged values are also kept decoded in the local
// tier (Options.LocalMaxBytes), which answers without a round trip until
// the key changes anywhere: reads there are coherent within the time the
// store takes to report a change (milliseconds), not linearizable across
// instances; within one instance its own writes are seen at once.
//
// Values handed to concurrent callers of one flight, and values from the
// local tier, are shared: do not mutate what Fetch returns (see
// Options.LocalClone). Several types must not share one key.
func Fetch[T any](ctx context.Context, c *Cache, key string, load func(context.Context) (T, error), opts ...FetchOption) (T, error) {
	var zero T
	if err := c.check(ctx, key); err != nil {
		return zero, err
	}
	o, err := c.fetchOptions(opts)
	if err != nil {
		return zero, err
	}
	if load == nil {
		return zero, errOption("nil loader")
	}
	if c.call.store == nil {
		v, _, _, err := runLoad(ctx, c, key, load, false)
		return v, err
	}
	// The local tier holds untagged keys only: a tagged entry is
	// current only while its tags' generations are, which the tier cannot
	// see. It is asked before anything else, so that its hits allocate
	// nothing.
	useTier := c.tier != nil && len(o.tags) == 0
	var snap localSnapshot
	if useTier {
		if c.trusted.Load() {
			if v, ok := c.tier.get(key); ok {
				if tv, ok := v.(T); ok {
					c.call.count(telemetry.TierLocal, telemetry.OpGet, telemetry.OutcomeHit, 0)
					return tv, nil
				}
			}
		}
		c.call.count(telemetry.TierLocal, telemetry.OpGet, telemetry.OutcomeMiss, 0)
		snap = c.tier.snapshot(key)
	}
	if c.pend.blocks(key, o.tags) {
		// An invalidation of this key has not reached the store yet:
		// what the store holds may be what it meant to remove.
		return direct(ctx, c, key, load)
	}
	full := c.prefix + key
	cur, gens, ok, err := c.readTagged(ctx, full, o.tags)
	if err == nil && !ok {
		// Without the tags' generations no entry can be trusted.
		return direct(ctx, c, key, load)
	}
	if err != nil {
		return zero, err
	}
	if cur.state == slotEntry && !cur.env.lease() && sameTags(cur.env.tags, gens) {
		env := cur.env
		now := c.opts.Clock.Now()
		switch {
		case env.fresh(now) && env.negative():
			c.call.count(telemetry.TierStore, telemetry.OpGet, telemetry.OutcomeHit, cur.d)
			c.fetch.negative.Add(1)
			return zero, notFound(key, nil)
		case env.fresh(now):
			var v T
			if c.decode(key, env.value, &v, cur.d) {
				c.call.count(telemetry.TierStore, telemetry.OpGet, telemetry.OutcomeHit, cur.d)
				if o.beta > 0 && xfetch(now, &env, o.beta) {
					refresh(c, key, full, cur.raw, gens, load, o)
				}
				if useTier {
					soft := env.soft
					if o.beta > 0 {
						// Leave the last stretch before expiry to the
						// store, where early refresh is decided.
						soft -= int64(4*o.beta*float64(env.delta)) / 1000
					}
					c.tier.put(key, v, sizeOf(v), soft, c.localTTL(), snap)
				}
				return v, nil
			}
		case !env.negative() && env.usable(now) && now.UnixMilli() < env.soft+o.swr.Milliseconds():
			var v T
			if c.decode(key, env.value, &v, cur.d) {
				c.call.count(telemetry.TierStore, telemetry.OpGet, telemetry.OutcomeHit, cur.d)
				c.fetch.stale.Add(1)
				refresh(c, key, full, cur.raw, gens, load, o)
				return v, nil
			}
		}
	}
	if cur.state == slotEntry {
		c.call.count(telemetry.TierStore, telemetry.OpGet, telemetry.OutcomeMiss, cur.d)
	}
	return fill(ctx, c, key, full, cur, gens, load, o)
}

// direct loads without the cache: for a key whose invalidation is pending,
// or whose tags' generations cannot be read.
func direct[T any](ctx context.Context, c *Cache, key string, load func(context.Context) (T, error)) (T, error) {
	v, _, _, err := runLoad(ctx, c, key, load, true)
	return v, err
}

type result[T any] struct {
	v     T
	err   error
	start uint64 // Cache.flightSeq when the flight began
}

// fill runs one load for full in this process and shares it.
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
func fill[T any](ctx context.Context, c *Cache, key, full string, cur slot, gens []tagGen, load func(context.Context) (T, error), o fetchOptions) (T, error) {
	arrived := c.flightSeq.Add(1)
	for {
		ch := c.flights.DoChan(full, func() (r any, err error) {
			start := c.flightSeq.Add(1)
			defer func() {
				// A panic here would be re-raised on a goroutine of
				// singleflight's, where nobody can recover it.
				if p := recover(); p != nil {
					var zero T
					r = result[T]{zero, &PanicError{Key: key, Value: p, Stack: debug.Stack()}, start}
				}
			}()
			v, err := fillOnce(context.WithoutCancel(ctx), c, key, full, cur, gens, load, o)
			return result[T]{v, err, start}, nil
		})
		select {
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		case r := <-ch:
			res, ok := r.Val.(result[T])
			if !ok {
				// Another type shares this key; do not hand its value over.
				return direct(ctx, c, key, load)
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

// carriesValue reports whether a flight's result is (or stands for) a
// value read at some moment, which a caller arriving later must not take.
func carriesValue(err error) bool {
	return err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrStale) || errors.Is(err, ErrEncode)
}

// servable decodes a fresh, current value from a slot.
func servable[T any](c *Cache, key string, s slot, gens []tagGen) (T, bool) {
	var v T
	if !s.value() || !sameTags(s.env.tags, gens) || !s.env.fresh(c.opts.Clock.Now()) {
		return v, false
	}
	if !c.decode(key, s.env.value, &v, s.d) {
		return v, false
	}
	c.call.count(telemetry.TierStore, telemetry.OpGet, telemetry.OutcomeHit, s.d)
	return v, true
}

// Bounds of one fill's attempts at the store.
const (
	fillAttempts = 8                     // writes tried (lease, or swap over an old value)
	fillPause    = 2 * time.Millisecond  // first pause between attempts and lease polls
	fillMaxPause = 20 * time.Millisecond // longest pause
)

// fillOnce takes the key's lease (over what cur holds), loads, and swaps
// the lease for the value. It makes a bounded number of attempts at the
// store and waits for another filler no longer than LeaseWait; past either
// it loads without writing.
func fillOnce[T any](ctx context.Context, c *Cache, key, full string, cur slot, gens []tagGen, load func(context.Context) (T, error), o fetchOptions) (T, error) {
	var zero T
	cs, conditional := c.call.store.(driver.ConditionalStore)
	if !conditional {
		v, data, delta, err := runLoad(ctx, c, key, load, true)
		if err == nil && data != nil {
			c.write(ctx, full, c.valueEnvelope(data, delta, o, gens, c.versionOf(v, o)))
		}
		return v, encodeErr(key, v, data, err)
	}
	lease := newLease()
	waitUntil := c.opts.Clock.Now().Add(o.wait)
	polls := int(o.wait/fillPause) + 1
	pause := fillPause
	var old slot // what the lease replaced
	if cur.state == slotUnknown {
		var err error
		var ok bool
		cur, gens, ok, err = c.readTagged(ctx, full, o.tags)
		if err == nil && !ok {
			return direct(ctx, c, key, load)
		}
		if err != nil {
			return zero, err
		}
	}
	for attempt := 0; ; {
		if attempt >= fillAttempts || polls <= 0 {
			return direct(ctx, c, key, load)
		}
		var won, ok bool
		switch {
		case cur.state == slotFailed:
			// The store is failing: answer from the loader, write nothing.
			return direct(ctx, c, key, load)
		case cur.state == slotEntry && cur.env.lease():
			// Another filler's lease is no old value to swap out: taking
			// it over would let two loads race to fill. Wait for it.
			if c.opts.Clock.Now().After(waitUntil) {
				return direct(ctx, c, key, load)
			}
			if polls == int(o.wait/fillPause)+1 {
				c.fetch.waits.Add(1)
			}
			polls--
			time.Sleep(pause)
			pause = min(2*pause, fillMaxPause)
		case cur.state == slotEntry:
			if v, ok := servable[T](c, key, cur, gens); ok {
				return v, nil
			}
			if cur.env.negative() && sameTags(cur.env.tags, gens) && cur.env.fresh(c.opts.Clock.Now()) {
				c.fetch.negative.Add(1)
				return zero, notFound(key, nil)
			}
			fallthrough
		default: // absent, foreign, or an old, invalidated or undecodable entry
			attempt++
			if attempt > 2 {
				time.Sleep(pause)
				pause = min(2*pause, fillMaxPause)
			}
			if cur.state == slotAbsent {
				won, ok = c.call.cond(ctx, telemetry.OpLease, full, func(ctx context.Context) (bool, error) {
					return cs.SetNX(ctx, full, lease, o.leaseTTL)
				})
			} else {
				prev := cur.raw
				won, ok = c.call.cond(ctx, telemetry.OpLease, full, func(ctx context.Context) (bool, error) {
					return cs.CompareAndSwap(ctx, full, prev, lease, o.leaseTTL)
				})
			}
			if !ok {
				// The lease may still land and make every reader wait for
				// a filler that gave up: have it removed.
				c.pend.addLease(full, lease, o.leaseTTL)
				return direct(ctx, c, key, load)
			}
			if won {
				old = cur
			}
		}
		if won {
			break
		}
		var err error
		if cur, err = c.read(ctx, full); err != nil {
			return zero, err
		}
	}

	v, data, delta, err := runLoad(ctx, c, key, load, true)
	now := c.opts.Clock.Now()
	switch {
	case err == nil && data != nil:
		if c.fillHook != nil {
			c.fillHook(full)
		}
		c.fillValue(ctx, cs, key, full, lease, c.valueEnvelope(data, delta, o, gens, c.versionOf(v, o)), o)
		return v, nil
	case err == nil:
		c.release(ctx, cs, full, lease)
		return v, encodeErr(key, v, data, nil)
	case errors.Is(err, ErrNotFound) && o.negTTL > 0:
		exp := now.Add(o.negTTL).UnixMilli()
		c.swap(ctx, cs, full, lease, envelope{flags: flagNegative, soft: exp, hard: exp, delta: delta.Microseconds(), tags: gens})
		return zero, err
	case o.sie > 0 && old.value() && sameTags(old.env.tags, gens) && old.env.usable(now) && now.UnixMilli() < old.env.soft+o.sie.Milliseconds():
		var sv T
		if c.decode(key, old.env.value, &sv, 0) {
			// Put the old value back, so other instances serve it too;
			// if the lease is gone, an invalidation came and the value
			// must not return.
			c.swapRaw(ctx, cs, full, lease, old.raw, time.UnixMilli(old.env.hard).Sub(now))
			c.fetch.staleOnError.Add(1)
			return sv, fmt.Errorf("%w: %w", ErrStale, err)
		}
	}
	c.release(ctx, cs, full, lease)
	return zero, err
}

// fillValue swaps the lease for the loaded value. When the lease was
// replaced by a versioned write-through (SetVersioned) older than what
// was loaded, the loaded value replaces that in turn: the version says it
// is newer. Without a version (Version option) the other write wins.
func (c *Cache) fillValue(ctx context.Context, cs driver.ConditionalStore, key, full string, lease []byte, env envelope, o fetchOptions) {
	raw := env.encode()
	ttl := time.UnixMilli(env.hard).Sub(c.opts.Clock.Now())
	if c.swapRaw(ctx, cs, full, lease, raw, ttl) || o.version == nil || env.version <= 0 {
		return
	}
	for range 4 {
		cur, err := c.readAs(ctx, telemetry.OpLease, full)
		if err != nil || !cur.value() || cur.env.version <= 0 || cur.env.version >= env.version {
			return
		}
		swapped, ok := c.call.cond(ctx, telemetry.OpSet, full, func(ctx context.Context) (bool, error) {
			return cs.CompareAndSwap(ctx, full, cur.raw, raw, ttl)
		})
		if swapped {
			c.fetch.fills.Add(1)
			c.forget(key)
			return
		}
		if !ok {
			return
		}
	}
}

// versionOf reads a loaded value's version through the Version option.
func (c *Cache) versionOf(v any, o fetchOptions) int64 {
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
func runLoad[T any](ctx context.Context, c *Cache, key string, load func(context.Context) (T, error), encode bool) (v T, data []byte, delta time.Duration, err error) {
	start := c.opts.Clock.Now()
	c.fetch.loads.Add(1)
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = &PanicError{Key: key, Value: p, Stack: debug.Stack()}
			}
		}()
		v, err = load(ctx)
	}()
	delta = c.opts.Clock.Now().Sub(start)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			var nf *NotFoundError
			if !errors.As(err, &nf) {
				err = notFound(key, err)
			}
		} else {
			c.fetch.loadErrors.Add(1)
		}
		var zero T
		return zero, nil, delta, err
	}
	if !encode {
		return v, nil, delta, nil
	}
	data, merr := c.opts.Codec.Marshal(v)
	if merr != nil {
		c.call.logs.failure(telemetry.OpSet, telemetry.OutcomeError, key, fmt.Errorf("%w: %w", ErrEncode, merr))
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
func (c *Cache) valueEnvelope(data []byte, delta time.Duration, o fetchOptions, gens []tagGen, version int64) envelope {
	ttl := o.ttl
	if o.jitter > 0 {
		ttl = time.Duration(float64(ttl) * (1 + o.jitter*(2*mrand.Float64()-1)))
	}
	soft := c.opts.Clock.Now().Add(max(ttl, time.Millisecond)).UnixMilli()
	return envelope{soft: soft, hard: soft + max(o.swr, o.sie).Milliseconds(), delta: delta.Microseconds(), version: version, tags: gens, value: data}
}

// swap replaces the lease with env, counting a refused swap as a dropped
// (stale) fill.
func (c *Cache) swap(ctx context.Context, cs driver.ConditionalStore, full string, lease []byte, env envelope) {
	ttl := time.UnixMilli(env.hard).Sub(c.opts.Clock.Now())
	c.swapRaw(ctx, cs, full, lease, env.encode(), ttl)
}

// swapRaw replaces the lease with raw and reports whether it did.
func (c *Cache) swapRaw(ctx context.Context, cs driver.ConditionalStore, full string, lease, raw []byte, ttl time.Duration) bool {
	if ttl < time.Millisecond {
		c.release(ctx, cs, full, lease)
		return false
	}
	swapped, ok := c.call.cond(ctx, telemetry.OpSet, full, func(ctx context.Context) (bool, error) {
		return cs.CompareAndSwap(ctx, full, lease, raw, ttl)
	})
	switch {
	case swapped:
		c.fetch.fills.Add(1)
	case ok:
		c.fetch.dropped.Add(1)
	}
	return swapped
}

func (c *Cache) release(ctx context.Context, cs driver.ConditionalStore, full string, lease []byte) {
	c.call.cond(ctx, telemetry.OpLease, full, func(ctx context.Context) (bool, error) {
		return cs.CompareAndDelete(ctx, full, lease)
	})
}

// write stores an envelope unconditionally (stores without conditional
// writes).
func (c *Cache) write(ctx context.Context, full string, env envelope) {
	ttl := time.UnixMilli(env.hard).Sub(c.opts.Clock.Now())
	if ttl < time.Millisecond {
		return
	}
	raw := env.encode()
	if r, _, _ := c.call.do(ctx, telemetry.OpSet, full, func(ctx context.Context) error {
		return c.call.store.Set(ctx, full, raw, ttl)
	}); r == callOK {
		c.fetch.fills.Add(1)
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
func refresh[T any](c *Cache, key, full string, raw []byte, gens []tagGen, load func(context.Context) (T, error), o fetchOptions) {
	if _, running := c.refreshing.LoadOrStore(full, struct{}{}); running {
		return
	}
	select {
	case c.refreshSlots <- struct{}{}:
	default:
		c.refreshing.Delete(full)
		return // enough refreshes run; a later hit tries again
	}
	c.bgMu.Lock()
	if c.bgCtx.Err() != nil {
		c.bgMu.Unlock()
		<-c.refreshSlots
		c.refreshing.Delete(full)
		return
	}
	c.bg.Add(1)
	c.bgMu.Unlock()
	go func() {
		defer c.bg.Done()
		defer func() { <-c.refreshSlots }()
		defer c.refreshing.Delete(full)
		ctx := c.bgCtx
		cs, conditional := c.call.store.(driver.ConditionalStore)
		if !conditional {
			if v, data, delta, err := runLoad(ctx, c, key, load, true); err == nil && data != nil {
				c.fetch.refreshes.Add(1)
				c.write(ctx, full, c.valueEnvelope(data, delta, o, gens, c.versionOf(v, o)))
			}
			return
		}
		lockKey := full + refreshSuffix
		lock := token()
		won, _ := c.call.cond(ctx, telemetry.OpLease, lockKey, func(ctx context.Context) (bool, error) {
			return cs.SetNX(ctx, lockKey, lock, o.leaseTTL)
		})
		if !won {
			return // another process refreshes it
		}
		defer c.call.cond(ctx, telemetry.OpLease, lockKey, func(ctx context.Context) (bool, error) {
			return cs.CompareAndDelete(ctx, lockKey, lock)
		})
		c.fetch.refreshes.Add(1)
		v, data, delta, err := runLoad(ctx, c, key, load, true)
		if err != nil || data == nil {
			return // the old value serves on until it expires
		}
		if c.fillHook != nil {
			c.fillHook(full)
		}
		env := c.valueEnvelope(data, delta, o, gens, c.versionOf(v, o))
		if c.swapRaw(ctx, cs, full, raw, env.encode(), time.UnixMilli(env.hard).Sub(c.opts.Clock.Now())) {
			c.forget(key)
		}
	}()
}

// refreshSuffix names a key's background-refresh lock.
const refreshSuffix = "\x00refresh"

func token() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return b
}

// NotFoundError is what Fetch returns for a key whose loader said "not
// found", whether the loader ran or the answer came from the negative
// cache. It wraps ErrNotFound, and the loader's own error when it ran.
type NotFoundError struct {
	Key string
	Err error // the loader's error; nil when served from the negative cache
}

func (e *NotFoundError) Error() string {
	if e.Err != nil {
		return "larder: " + e.Key + ": not found: " + e.Err.Error()
	}
	return "larder: " + e.Key + ": not found"
}

// Unwrap makes errors.Is(err, ErrNotFound) hold, and errors.Is and
// errors.As reach the loader's error.
func (e *NotFoundError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrNotFound, e.Err}
	}
	return []error{ErrNotFound}
}

func notFound(key string, err error) error { return &NotFoundError{Key: key, Err: err} }
