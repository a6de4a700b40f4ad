package larder

import (
	"context"
	"time"
)

// SetVersioned is write-through that cannot go backwards: it stores v under
// key with the given version (a row version that the database increments
// in the UPDATE, in commit order) unless the cache already holds the same
// or a newer version, and reports whether it stored it. Two writers racing
// with the same row at two versions leave the newer one, whatever order
// their writes arrive in, and so does a delayed write racing with a
// reader's fill when the reader's Fetch says how to read a version from
// the value (the Version option): fills then carry the version they
// loaded. A fill without a version carries version 0, which any
// SetVersioned replaces; a fill in progress (a Fetch's lease) is replaced
// too, and that filler compares versions before giving up its value.
//
// What is under the key is compared whatever its expiry says: the store's
// own TTL decides when an entry is gone, so instances whose clocks
// disagree still agree on what is newer.
//
// Like Set it fails open: a store failure reports false and no error, and
// an invalidation of the key is kept for retrying. On a store without
// conditional writes it is a plain Set.
func (c *Cache) SetVersioned(ctx context.Context, key string, v any, version int64, ttl time.Duration) (bool, error) {
	raw, ttl, err := c.entry(ctx, key, v, ttl, version)
	if err != nil || raw == nil {
		return false, err
	}
	return c.put(ctx, key, raw, ttl, func(cur slot) bool {
		// An entry of the first format (no stamp) was versioned by rules
		// of an earlier release; it cannot be compared, only replaced.
		return !cur.value() || cur.env.stamp == 0 || cur.env.version < version
	})
}
