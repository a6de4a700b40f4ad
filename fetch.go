package larder

import (
	"context"

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
	o, err := c.fill.options(opts)
	if err != nil {
		return zero, err
	}
	if load == nil {
		return zero, errOption("nil loader")
	}
	if c.call.store == nil {
		v, _, _, err := runLoad(ctx, c.fill, key, load, false)
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
			c.fill.stats.negative.Add(1)
			return zero, notFound(key, nil)
		case env.fresh(now):
			var v T
			if c.decode(key, env.value, &v, cur.d) {
				c.call.count(telemetry.TierStore, telemetry.OpGet, telemetry.OutcomeHit, cur.d)
				if o.beta > 0 && xfetch(now, &env, o.beta) {
					refresh(c.fill, key, full, cur.raw, gens, load, o)
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
				c.fill.stats.stale.Add(1)
				refresh(c.fill, key, full, cur.raw, gens, load, o)
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
	v, _, _, err := runLoad(ctx, c.fill, key, load, true)
	return v, err
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
