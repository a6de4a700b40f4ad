package larder

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/telemetry"
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
// The newest version written is also kept beside the entry (a small key
// that outlives it), so that an older write arriving after the entry was
// deleted, expired or evicted is refused too: without it, an absent key
// would take any version, and a delayed write-through could bring back a
// value the database has moved past.
//
// What is under the key is compared whatever its expiry says: the store's
// own TTL decides when an entry is gone, so instances whose clocks
// disagree still agree on what is newer.
//
// Like Set it fails open: a store failure reports false and no error. The
// write is then kept and redone (still comparing versions) until the store
// takes it, and until then this instance reads around the store for key.
// On a store without conditional writes it is a plain Set.
func (c *Cache) SetVersioned(ctx context.Context, key string, v any, version int64, ttl time.Duration) (bool, error) {
	raw, ttl, err := c.entry(ctx, key, v, ttl, version)
	if err != nil || raw == nil {
		return false, err
	}
	return c.put(ctx, key, raw, ttl, c.newer(ctx, key, version, ttl), version)
}

// newer is SetVersioned's test of what a key holds: an entry of the same
// or a newer version refuses the write. Before a write to an absent key is
// let through, the key's floor (the newest version written) is raised to
// version, and refuses the write if it is already higher.
func (c *Cache) newer(ctx context.Context, key string, version int64, ttl time.Duration) keepFunc {
	return func(cur slot) (write, failed bool) {
		if cur.value() && cur.env.stamp != 0 {
			if cur.env.version >= version {
				return false, false
			}
			// An older value is there: replacing it moves the key
			// forward, whatever the floor says (a newer write that
			// raised it may not have landed yet). Raise the floor too.
			c.raiseFloor(ctx, key, version, ttl)
			return true, false
		}
		// Absent (or a lease, a negative entry, an entry of the first
		// format, whose version was set by rules of an earlier
		// release): only the floor knows whether a newer version was
		// written and then deleted or expired.
		return c.raiseFloor(ctx, key, version, ttl)
	}
}

// floorSuffix names the key that keeps a versioned entry's newest version.
const floorSuffix = "\x00floor"

// raiseFloor raises key's floor to version and reports whether version is
// at least the floor (write), or that the store failed (then the write is
// kept and redone).
func (c *Cache) raiseFloor(ctx context.Context, key string, version int64, ttl time.Duration) (write, failed bool) {
	cs, ok := c.call.store.(driver.ConditionalStore)
	if !ok {
		return true, false
	}
	full := c.prefix + key + floorSuffix
	// Outlive the entry, so that a late write still finds the floor.
	life := 2*ttl + time.Minute
	want := binary.BigEndian.AppendUint64(nil, uint64(version))
	for range 8 {
		var cur []byte
		r, _, _ := c.call.do(ctx, telemetry.OpLease, full, func(ctx context.Context) error {
			var err error
			cur, err = c.call.store.Get(ctx, full)
			return err
		})
		var done bool
		switch {
		case r == callFailed:
			return false, true
		case r == callAbsent:
			done, ok = c.call.cond(ctx, telemetry.OpLease, full, func(ctx context.Context) (bool, error) {
				return cs.SetNX(ctx, full, want, life)
			})
		case len(cur) == 8 && int64(binary.BigEndian.Uint64(cur)) > version:
			return false, false
		case len(cur) == 8 && int64(binary.BigEndian.Uint64(cur)) == version:
			return true, false
		default:
			done, ok = c.call.cond(ctx, telemetry.OpLease, full, func(ctx context.Context) (bool, error) {
				return cs.CompareAndSwap(ctx, full, cur, want, life)
			})
		}
		if !ok {
			return false, true
		}
		if done {
			return true, false
		}
	}
	return false, true
}

// keepFunc decides a conditional write from what the key holds: write, or
// refuse; failed when the decision could not be made (the store failed).
type keepFunc func(cur slot) (write, failed bool)
