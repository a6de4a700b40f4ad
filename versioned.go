package larder

import (
	"context"
	"time"
)

// SetVersioned is write-through that cannot go backwards: it stores v under
// key with the given version (an updated_at in microseconds, a row
// version…) unless the cache already holds the same or a newer version, and
// reports whether it stored it. Two writers racing with the same row at two
// versions leave the newer one, whatever order their writes arrive in. A
// fill in progress (a Fetch's lease) is replaced, which drops that fill,
// since what it loaded can only be older. Entries filled by Fetch carry
// version 0.
//
// Like Set it fails open: a store failure reports false and no error. On a
// store without conditional writes it is a plain Set.
func (c *Cache) SetVersioned(ctx context.Context, key string, v any, version int64, ttl time.Duration) (bool, error) {
	raw, ttl, err := c.entry(ctx, key, v, ttl, version)
	if err != nil || raw == nil {
		return false, err
	}
	cs, ok := c.store.(ConditionalStore)
	if !ok {
		return c.put(ctx, key, raw, ttl)
	}
	full := c.prefix + key
	// Optimistic concurrency: read, decide, compare-and-swap, and start
	// over when someone wrote in between. Each round trip is one key, so
	// contention is that of one row's writers.
	for range 16 {
		cur, curRaw, _, err := c.read(ctx, full)
		if err != nil {
			return false, err
		}
		var done, ok bool
		switch {
		case cur == nil:
			done, ok = c.cond(ctx, full, func(ctx context.Context) (bool, error) {
				return cs.SetNX(ctx, full, raw, ttl)
			})
		case !cur.lease() && !cur.negative() && cur.version >= version && cur.usable(c.opts.Clock.Now()):
			return false, nil
		default:
			done, ok = c.cond(ctx, full, func(ctx context.Context) (bool, error) {
				return cs.CompareAndSwap(ctx, full, curRaw, raw, ttl)
			})
		}
		if !ok {
			return false, ctx.Err()
		}
		if done {
			c.counters[TierStore].add(OpSet, OutcomeOK, 1)
			c.forget(key)
			return true, nil
		}
	}
	return false, nil
}
