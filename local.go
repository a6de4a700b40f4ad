package larder

import (
	"hash/maphash"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/larderhq/larder/driver"

	"github.com/maypok86/otter/v2"
)

// localTier is the local tier in front of a remote store: decoded
// values, bounded in bytes, each kept no longer than its entry's TTL nor
// than the tier's own maximum, and dropped when the store says the key
// changed (driver.InvalidationSource).
//
// A fill must not resurrect a value that an invalidation has already
// removed: a reader that fetched the old value before a write could insert
// it after the write's invalidation arrived. Every invalidation therefore
// bumps a counter of the key's stripe (or the epoch, for "drop
// everything") before it deletes; a fill snapshots both before it reads the
// store, inserts, and takes its entry out again if either moved.
type localTier struct {
	cache   *otter.Cache[string, localEntry]
	seed    maphash.Seed
	epoch   atomic.Uint64
	stripes [localStripes]atomic.Uint64
	clock   driver.Clock
	clone   func(any) any
	// ownClock is set when the Cache was given a Clock other than the
	// system's: otter expires entries by real time, so get must also
	// check expiry against that clock.
	ownClock bool

	evictions     atomic.Uint64
	invalidations atomic.Uint64
}

const localStripes = 1024

// localOverhead approximates what an entry costs beyond its value: the
// key's string header and bytes are added separately.
const localOverhead = 96

type localEntry struct {
	value   any
	size    uint32
	expires int64 // Unix ns
}

type localSnapshot struct{ epoch, stripe uint64 }

func newLocalTier(maxBytes int64, clock driver.Clock, clone func(any) any) (*localTier, error) {
	n := &localTier{seed: maphash.MakeSeed(), clock: clock, clone: clone, ownClock: clock != driver.SystemClock}
	c, err := otter.New(&otter.Options[string, localEntry]{
		MaximumWeight: uint64(maxBytes),
		Weigher:       func(k string, e localEntry) uint32 { return e.size + uint32(min(len(k), 1<<20)) },
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, localEntry]) time.Duration {
			return time.Duration(e.Value.expires - clock.Now().UnixNano())
		}),
		OnDeletion: func(e otter.DeletionEvent[string, localEntry]) {
			if e.Cause == otter.CauseOverflow {
				n.evictions.Add(1)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	n.cache = c
	return n, nil
}

func (n *localTier) stripe(key string) *atomic.Uint64 {
	return &n.stripes[maphash.String(n.seed, key)%localStripes]
}

// get returns the value of key if the tier holds a live one.
func (n *localTier) get(key string) (any, bool) {
	e, ok := n.cache.GetIfPresent(key)
	if !ok || (n.ownClock && n.clock.Now().UnixNano() >= e.expires) {
		return nil, false
	}
	if n.clone != nil {
		return n.clone(e.value), true
	}
	return e.value, true
}

func (n *localTier) snapshot(key string) localSnapshot {
	return localSnapshot{n.epoch.Load(), n.stripe(key).Load()}
}

// put inserts value unless an invalidation of key (or of everything) came
// after snap; softMs is the entry's own expiry, which the tier never
// outlives.
func (n *localTier) put(key string, value any, size int, softMs int64, maxTTL time.Duration, snap localSnapshot) {
	now := n.clock.Now()
	exp := min(time.UnixMilli(softMs).UnixNano(), now.Add(maxTTL).UnixNano())
	if exp <= now.UnixNano() || size > 1<<30 {
		return
	}
	if n.snapshot(key) != snap {
		return
	}
	n.cache.Set(key, localEntry{value: value, size: uint32(size) + localOverhead, expires: exp})
	if n.snapshot(key) != snap {
		// An invalidation raced with the insert; it may have deleted
		// before the insert landed, so delete again.
		n.cache.Invalidate(key)
	}
}

// invalidate drops key: bump first, then delete (see localTier).
func (n *localTier) invalidate(key string) {
	n.stripe(key).Add(1)
	n.cache.Invalidate(key)
}

// forget drops keys after this instance changed them, so that it reads
// its own writes at once (the store's invalidation message follows, for
// the other instances). Without a tier there is nothing to drop.
func (n *localTier) forget(keys ...string) {
	if n == nil {
		return
	}
	for _, k := range keys {
		n.invalidate(k)
	}
}

// forgetAll drops the whole tier, if there is one.
func (n *localTier) forgetAll() {
	if n != nil {
		n.invalidateAll()
	}
}

// invalidateAll drops everything.
func (n *localTier) invalidateAll() {
	n.epoch.Add(1)
	n.cache.InvalidateAll()
}

// onInvalidate is the driver.InvalidationSource callback: full keys, or nil for
// "anything may have changed".
func (n *localTier) onInvalidate(prefix string, keys []string) {
	n.invalidations.Add(1)
	if keys == nil {
		n.invalidateAll()
		return
	}
	for _, k := range keys {
		if len(k) > len(prefix) && k[:len(prefix)] == prefix {
			n.invalidate(k[len(prefix):])
		}
	}
}

func (n *localTier) size() (entries int, bytes uint64) {
	return n.cache.EstimatedSize(), n.cache.WeightedSize()
}

func (n *localTier) stop() { n.cache.StopAllGoroutines() }

// assign copies a value held by the tier into dst (a pointer to the same
// type), reporting false when the types differ.
func assign(dst any, v any) bool {
	dv := reflect.ValueOf(dst)
	if dv.Kind() != reflect.Pointer || dv.IsNil() {
		return false
	}
	el := dv.Elem()
	vv := reflect.ValueOf(v)
	if !vv.IsValid() || vv.Type() != el.Type() {
		return false
	}
	el.Set(vv)
	return true
}
