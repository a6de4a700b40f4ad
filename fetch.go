package larder

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"time"
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
//     conditionally (ConditionalStore: Redis, memstore): the filler holds a
//     lease, a placeholder written only if the key is absent, and replaces
//     it with the value by compare-and-swap. A Delete, a Clear or an
//     InvalidateTags in between removes or orphans the lease, so a value
//     loaded before the invalidation never reaches the cache. The others
//     wait for the fill (LeaseWait), then load by themselves without
//     writing. A filler that dies blocks the key for at most LeaseTTL.
//   - Stale serving, early refresh, negative caching, jitter and tags as
//     the FetchOptions say.
//
// A loader error wrapping ErrNotFound is "not found": cached for
// NegativeTTL when set, and returned wrapped. With StaleIfError, a failing
// loader's error comes back wrapped in ErrStale beside the last value. The
// store failing never fails Fetch: it loads and answers.
//
// In redis mode, untagged values are also kept decoded in the in-process
// tier (Options.LocalMaxBytes), which answers without a round trip until
// the key changes anywhere: reads there are coherent within the time the
// store takes to report a change (milliseconds), not linearizable across
// instances; within one instance its own writes are seen at once.
//
// Values handed to concurrent callers of one flight, and values from the
// in-process tier, are shared: do not mutate what Fetch returns (see
// Options.LocalClone). Several types must not share one key.
func Fetch[T any](ctx context.Context, c *Cache, key string, load func(context.Context) (T, error), opts ...FetchOption) (T, error) {
	var zero T
	if err := c.check(ctx, key); err != nil {
		return zero, err
	}
	if c.store == nil {
		return load(ctx)
	}
	o := c.fetchOptions(opts)
	// The in-process tier holds untagged keys only: a tagged entry's key
	// changes with its tags' generations, which the tier cannot see. It is
	// asked before the full key is built, so that its hits allocate
	// nothing.
	near := c.near != nil && len(o.tags) == 0
	var snap nearSnapshot
	if near {
		if v, ok := c.near.get(key); ok {
			if tv, ok := v.(T); ok {
				c.count(TierLocal, OpGet, OutcomeHit, 0)
				return tv, nil
			}
		}
		c.count(TierLocal, OpGet, OutcomeMiss, 0)
		snap = c.near.snapshot(key)
	}
	full, ok := c.taggedKey(ctx, key, o.tags)
	if !ok {
		// Without the tags' generations no key is safe to use.
		return load(ctx)
	}
	env, raw, d, err := c.read(ctx, full)
	if err != nil {
		return zero, err
	}
	if env != nil && !env.lease() {
		now := c.opts.Clock.Now()
		switch {
		case env.fresh(now) && env.negative():
			c.count(TierStore, OpGet, OutcomeHit, d)
			c.fetch.negative.Add(1)
			return zero, notFound(key)
		case env.fresh(now):
			var v T
			if c.decode(key, env.value, &v, d) {
				c.count(TierStore, OpGet, OutcomeHit, d)
				if o.beta > 0 && xfetch(now, env, o.beta) {
					refresh(c, full, raw, load, o)
				}
				if near {
					soft := env.soft
					if o.beta > 0 {
						// Leave the last stretch before expiry to the
						// store, where early refresh is decided.
						soft -= int64(4*o.beta*float64(env.delta)) / 1000
					}
					c.near.put(key, v, sizeOf(v), soft, c.nearTTL(), snap)
				}
				return v, nil
			}
		case !env.negative() && env.usable(now) && now.UnixMilli() < env.soft+o.swr.Milliseconds():
			var v T
			if c.decode(key, env.value, &v, d) {
				c.count(TierStore, OpGet, OutcomeHit, d)
				c.fetch.stale.Add(1)
				refresh(c, full, raw, load, o)
				return v, nil
			}
		}
		c.count(TierStore, OpGet, OutcomeMiss, d)
	}
	if env != nil && env.lease() {
		// Another filler's lease is no old value to swap out: taking it
		// over would let two loads race to fill. Wait for it instead.
		env, raw = nil, nil
	}
	return fill(ctx, c, key, full, env, raw, load, o)
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
// round, usually a cache read of what the first flight filled. Errors
// other than "not found" are shared as they are: they are no value.
func fill[T any](ctx context.Context, c *Cache, key, full string, cur *envelope, curRaw []byte, load func(context.Context) (T, error), o fetchOptions) (T, error) {
	arrived := c.flightSeq.Add(1)
	for {
		ch := c.flights.DoChan(full, func() (any, error) {
			start := c.flightSeq.Add(1)
			v, err := fillOnce(context.WithoutCancel(ctx), c, key, full, cur, curRaw, load, o)
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
				return load(ctx)
			}
			if res.start < arrived && (res.err == nil || errors.Is(res.err, ErrNotFound)) {
				continue // a flight from before this caller arrived
			}
			return res.v, res.err
		}
	}
}

// fillOnce takes the key's lease, loads, and swaps the lease for the value.
func fillOnce[T any](ctx context.Context, c *Cache, key, full string, cur *envelope, curRaw []byte, load func(context.Context) (T, error), o fetchOptions) (T, error) {
	var zero T
	cs, conditional := c.store.(ConditionalStore)
	if !conditional {
		v, data, delta, err := runLoad(ctx, c, load)
		if err == nil && data != nil {
			c.write(ctx, full, c.valueEnvelope(data, delta, o))
		}
		return v, err
	}
	lease := envelope{flags: flagLease, hard: c.opts.Clock.Now().Add(o.leaseTTL).UnixMilli(), value: token()}.encode()
	waitUntil := c.opts.Clock.Now().Add(o.wait)
	pause := 2 * time.Millisecond
	for {
		var won, ok bool
		if curRaw == nil {
			won, ok = c.cond(ctx, full, func(ctx context.Context) (bool, error) {
				return cs.SetNX(ctx, full, lease, o.leaseTTL)
			})
		} else {
			won, ok = c.cond(ctx, full, func(ctx context.Context) (bool, error) {
				return cs.CompareAndSwap(ctx, full, curRaw, lease, o.leaseTTL)
			})
		}
		if !ok {
			// The store is failing: answer from the loader, write nothing.
			v, _, _, err := runLoad(ctx, c, load)
			return v, err
		}
		if won {
			break
		}
		env, raw, _, err := c.read(ctx, full)
		if err != nil {
			return zero, err
		}
		now := c.opts.Clock.Now()
		switch {
		case env == nil:
			cur, curRaw = nil, nil // gone (invalidated, expired): race for it again
			continue
		case env.lease():
			if now.After(waitUntil) {
				v, _, _, err := runLoad(ctx, c, load)
				return v, err
			}
			if pause == 2*time.Millisecond {
				c.fetch.waits.Add(1)
			}
			time.Sleep(pause)
			pause = min(pause*2, 20*time.Millisecond)
			continue
		case env.fresh(now) && env.negative():
			c.fetch.negative.Add(1)
			return zero, notFound(key)
		case env.fresh(now):
			var v T
			if c.decode(key, env.value, &v, 0) {
				return v, nil
			}
		}
		cur, curRaw = env, raw // an old or undecodable value: swap it out
	}

	v, data, delta, err := runLoad(ctx, c, load)
	now := c.opts.Clock.Now()
	switch {
	case err == nil && data != nil:
		if c.fillHook != nil {
			c.fillHook(full)
		}
		env := c.valueEnvelope(data, delta, o)
		c.swap(ctx, cs, full, lease, env)
		return v, nil
	case err == nil:
		c.release(ctx, cs, full, lease) // the value did not encode
		return v, nil
	case errors.Is(err, ErrNotFound) && o.negTTL > 0:
		exp := now.Add(o.negTTL).UnixMilli()
		c.swap(ctx, cs, full, lease, envelope{flags: flagNegativ, soft: exp, hard: exp, delta: delta.Microseconds()})
		return zero, err
	case cur != nil && !cur.negative() && !cur.lease() && cur.usable(now) && now.UnixMilli() < cur.soft+o.sie.Milliseconds():
		var sv T
		if c.decode(key, cur.value, &sv, 0) {
			// Put the old value back, so other instances serve it too.
			c.swapRaw(ctx, cs, full, lease, curRaw, time.UnixMilli(cur.hard).Sub(now))
			c.fetch.staleOnError.Add(1)
			return sv, fmt.Errorf("%w: %w", ErrStale, err)
		}
	}
	c.release(ctx, cs, full, lease)
	return zero, err
}

// runLoad runs the loader and encodes its value; data is nil when the
// value does not encode (logged), err is the loader's.
func runLoad[T any](ctx context.Context, c *Cache, load func(context.Context) (T, error)) (T, []byte, time.Duration, error) {
	start := c.opts.Clock.Now()
	c.fetch.loads.Add(1)
	v, err := load(ctx)
	delta := c.opts.Clock.Now().Sub(start)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			c.fetch.loadErrors.Add(1)
		}
		return v, nil, delta, err
	}
	data, merr := c.opts.Codec.Marshal(v)
	if merr != nil {
		c.opts.Logger.Warn("larder: loaded value does not encode; not cached", "err", merr)
		return v, nil, delta, nil
	}
	return v, data, delta, nil
}

// valueEnvelope wraps freshly loaded data with its expiries.
func (c *Cache) valueEnvelope(data []byte, delta time.Duration, o fetchOptions) envelope {
	ttl := o.ttl
	if o.jitter > 0 {
		ttl = time.Duration(float64(ttl) * (1 + o.jitter*(2*mrand.Float64()-1)))
	}
	soft := c.opts.Clock.Now().Add(max(ttl, time.Millisecond)).UnixMilli()
	return envelope{soft: soft, hard: soft + max(o.swr, o.sie).Milliseconds(), delta: delta.Microseconds(), value: data}
}

// swap replaces the lease with env, counting a refused swap as a dropped
// (stale) fill.
func (c *Cache) swap(ctx context.Context, cs ConditionalStore, full string, lease []byte, env envelope) {
	ttl := time.UnixMilli(env.hard).Sub(c.opts.Clock.Now())
	c.swapRaw(ctx, cs, full, lease, env.encode(), ttl)
}

func (c *Cache) swapRaw(ctx context.Context, cs ConditionalStore, full string, lease, raw []byte, ttl time.Duration) {
	if ttl < time.Millisecond {
		c.release(ctx, cs, full, lease)
		return
	}
	swapped, ok := c.cond(ctx, full, func(ctx context.Context) (bool, error) {
		return cs.CompareAndSwap(ctx, full, lease, raw, ttl)
	})
	switch {
	case swapped:
		c.fetch.fills.Add(1)
		c.counters[TierStore].add(OpSet, OutcomeOK, 1)
	case ok:
		c.fetch.dropped.Add(1)
	}
}

func (c *Cache) release(ctx context.Context, cs ConditionalStore, full string, lease []byte) {
	c.cond(ctx, full, func(ctx context.Context) (bool, error) {
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
	if ok, _, _ := c.do(ctx, OpSet, full, func(ctx context.Context) error {
		return c.store.Set(ctx, full, raw, ttl)
	}); ok {
		c.fetch.fills.Add(1)
	}
}

// cond runs a conditional store call under the budget and breaker; ok is
// false when the store failed.
func (c *Cache) cond(ctx context.Context, full string, call func(context.Context) (bool, error)) (done, ok bool) {
	ok, _, _ = c.do(ctx, OpLease, full, func(ctx context.Context) error {
		var err error
		done, err = call(ctx)
		return err
	})
	return done, ok
}

// xfetch decides an early refresh: now − Δ·β·ln(rand) ≥ expiry.
func xfetch(now time.Time, env *envelope, beta float64) bool {
	gap := float64(env.delta) * beta * -math.Log(1-mrand.Float64()) // µs
	return float64(now.UnixMicro())+gap >= float64(env.soft)*1000
}

// refresh reloads full in the background, once per key and process, and
// across processes once per key while its refresh lock lives. The new value
// replaces exactly the one that was read (compare-and-swap), so a refresh
// that raced with an invalidation is dropped.
func refresh[T any](c *Cache, full string, raw []byte, load func(context.Context) (T, error), o fetchOptions) {
	if _, running := c.refreshing.LoadOrStore(full, struct{}{}); running {
		return
	}
	c.bgMu.Lock()
	if c.bgCtx.Err() != nil {
		c.bgMu.Unlock()
		c.refreshing.Delete(full)
		return
	}
	c.bg.Add(1)
	c.bgMu.Unlock()
	go func() {
		defer c.bg.Done()
		defer c.refreshing.Delete(full)
		ctx := c.bgCtx
		cs, conditional := c.store.(ConditionalStore)
		if !conditional {
			if _, data, delta, err := runLoad(ctx, c, load); err == nil && data != nil {
				c.fetch.refreshes.Add(1)
				c.write(ctx, full, c.valueEnvelope(data, delta, o))
			}
			return
		}
		lockKey := full + refreshSuffix
		lock := token()
		won, _ := c.cond(ctx, lockKey, func(ctx context.Context) (bool, error) {
			return cs.SetNX(ctx, lockKey, lock, o.leaseTTL)
		})
		if !won {
			return // another process refreshes it
		}
		defer c.cond(ctx, lockKey, func(ctx context.Context) (bool, error) {
			return cs.CompareAndDelete(ctx, lockKey, lock)
		})
		c.fetch.refreshes.Add(1)
		_, data, delta, err := runLoad(ctx, c, load)
		if err != nil || data == nil {
			return // the old value serves on until it expires
		}
		if c.fillHook != nil {
			c.fillHook(full)
		}
		c.swap(ctx, cs, full, raw, c.valueEnvelope(data, delta, o))
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
// found" (possibly cached). It wraps ErrNotFound.
type NotFoundError struct{ Key string }

func (e *NotFoundError) Error() string { return "larder: " + e.Key + ": not found" }

// Unwrap makes errors.Is(err, ErrNotFound) hold.
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

func notFound(key string) error { return &NotFoundError{Key: key} }
