package larder

import (
	"context"
	"time"

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
	o, err := c.startFetch(ctx, key, load == nil, opts)
	if err != nil {
		return zero, err
	}
	if !c.Enabled() {
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
		if v, ok := fromTier[T](c, key); ok {
			return v, nil
		}
		snap = c.tierMiss(key)
	}
	j := fetchJob[T]{c: c, key: key, full: c.prefix + key, load: load, o: o, useTier: useTier, snap: snap}
	if c.pend.blocks(key, o.tags) {
		// An invalidation of this key has not reached the store yet:
		// what the store holds may be what it meant to remove.
		return j.direct(ctx)
	}
	cur, gens, ok, err := c.tags.read(ctx, j.full, o.tags)
	switch {
	case err != nil:
		return zero, err
	case !ok:
		// Without the tags' generations no entry can be trusted.
		return j.direct(ctx)
	}
	if v, ok, err := j.fromStore(cur, gens); ok {
		return v, err
	}
	if cur.state == slotEntry {
		c.call.count(telemetry.TierStore, telemetry.OpGet, telemetry.OutcomeMiss, cur.d)
	}
	return j.fill(ctx, cur, gens)
}

// startFetch validates a Fetch's key, loader and options, and returns the
// options' settings.
func (c *Cache) startFetch(ctx context.Context, key string, noLoader bool, opts []FetchOption) (fetchOptions, error) {
	if err := c.check(ctx, key); err != nil {
		return fetchOptions{}, err
	}
	o, err := c.fill.options(opts)
	if err != nil {
		return o, err
	}
	if noLoader {
		return o, errOption("nil loader")
	}
	return o, nil
}

// fromTier returns key's value from the local tier if the tier may answer
// now and holds a T, counting the hit.
func fromTier[T any](c *Cache, key string) (T, bool) {
	if v, ok := c.tier.answer(key); ok {
		if tv, ok := v.(T); ok {
			c.call.count(telemetry.TierLocal, telemetry.OpGet, telemetry.OutcomeHit, 0)
			return tv, true
		}
	}
	var zero T
	return zero, false
}

// fetchJob is one Fetch past the local tier: what it fetches, how, and
// the local tier's snapshot for putting what it finds there.
type fetchJob[T any] struct {
	c         *Cache
	key, full string
	load      func(context.Context) (T, error)
	o         fetchOptions
	useTier   bool // the value may go into the local tier
	snap      localSnapshot
}

// fromStore answers from what the store holds, if it can: a fresh value
// (maybe refreshing it early), a fresh negative entry, or a stale value
// within StaleWhileRevalidate while one refresh reloads it. ok is false
// when the Fetch must fill.
func (j fetchJob[T]) fromStore(cur slot, gens []tagGen) (v T, ok bool, err error) {
	if cur.state != slotEntry || cur.env.lease() || !sameTags(cur.env.tags, gens) {
		return v, false, nil
	}
	env := cur.env
	now := j.c.opts.Clock.Now()
	switch {
	case env.fresh(now) && env.negative():
		j.c.call.count(telemetry.TierStore, telemetry.OpGet, telemetry.OutcomeHit, cur.d)
		j.c.fill.stats.negative.Add(1)
		return v, true, notFound(j.key, nil)
	case env.fresh(now):
		return j.fresh(cur, gens, now)
	case !env.negative() && env.usable(now) && now.UnixMilli() < env.soft+j.o.swr.Milliseconds():
		return j.stale(cur, gens)
	}
	return v, false, nil
}

// fresh serves a fresh value, refreshing it early when XFetch says so, and
// keeps it in the local tier.
func (j fetchJob[T]) fresh(cur slot, gens []tagGen, now time.Time) (v T, ok bool, err error) {
	if !j.c.decode(j.key, cur.env.value, &v, cur.d) {
		return v, false, nil
	}
	j.c.call.count(telemetry.TierStore, telemetry.OpGet, telemetry.OutcomeHit, cur.d)
	if j.o.beta > 0 && xfetch(now, &cur.env, j.o.beta) {
		refresh(j.c.fill, j.key, j.full, cur.raw, gens, j.load, j.o)
	}
	if j.useTier {
		soft := cur.env.soft
		if j.o.beta > 0 {
			// Leave the last stretch before expiry to the store, where
			// early refresh is decided.
			soft -= int64(4*j.o.beta*float64(cur.env.delta)) / 1000
		}
		j.c.tier.keep(j.key, v, soft, j.snap)
	}
	return v, true, nil
}

// stale serves a stale value (stale-while-revalidate) and refreshes it in
// the background.
func (j fetchJob[T]) stale(cur slot, gens []tagGen) (v T, ok bool, err error) {
	if !j.c.decode(j.key, cur.env.value, &v, cur.d) {
		return v, false, nil
	}
	j.c.call.count(telemetry.TierStore, telemetry.OpGet, telemetry.OutcomeHit, cur.d)
	j.c.fill.stats.stale.Add(1)
	refresh(j.c.fill, j.key, j.full, cur.raw, gens, j.load, j.o)
	return v, true, nil
}

// direct loads without the cache: for a key whose invalidation is pending,
// or whose tags' generations cannot be read.
func (j fetchJob[T]) direct(ctx context.Context) (T, error) {
	v, _, _, err := runLoad(ctx, j.c.fill, j.key, j.load, true)
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
