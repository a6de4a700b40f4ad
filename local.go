package larder

import (
	"fmt"
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

	// What keeps the tier coherent with the store, and whether the tier
	// may answer now.
	tracker     driver.InvalidationSource // nil if nothing reports changes
	coherent    bool                      // tracker covers the namespace
	untrack     func()
	live        *liveness   // bounds the tier's lag; nil if not needed
	trusted     atomic.Bool // read once per hit
	ttl         time.Duration
	fallbackTTL time.Duration // entries' life while changes go unreported
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

// newLocal returns the local tier in front of store, a remote store, and
// sets up what keeps it coherent: it registers the namespace (prefix)
// with the store's driver.InvalidationSource, and where the store reports
// its own writes, a heartbeat that bounds the tier's lag (liveness; start
// runs it). A store that cannot cover the namespace leaves the tier
// keeping entries for Options.LocalFallbackTTL only.
func newLocal(o Options, store driver.Store, prefix string, bg *background) (*localTier, error) {
	n, err := newLocalTier(o.LocalMaxBytes, o.Clock, o.LocalClone)
	if err != nil {
		return nil, fmt.Errorf("%w: local tier: %w", ErrInvalidOptions, err)
	}
	n.ttl, n.fallbackTTL = o.LocalTTL, o.LocalFallbackTTL
	n.trusted.Store(true)
	src, ok := store.(driver.InvalidationSource)
	if !ok {
		o.Logger.Warn("larder: the store cannot report changes; local-tier entries live for LocalFallbackTTL only",
			"local_fallback_ttl", o.LocalFallbackTTL)
		return n, nil
	}
	n.tracker = src
	err = src.Track(prefix)
	if err != nil {
		o.Logger.Warn("larder: the store cannot report changes in this namespace; local-tier entries live for LocalFallbackTTL only",
			"namespace", o.Namespace, "err", err, "local_fallback_ttl", o.LocalFallbackTTL)
	} else {
		n.coherent = true
	}
	if echo, ok := src.(driver.SelfReporter); ok && err == nil && echo.ReportsOwnWrites() && o.LocalLag > 0 && src.Track(heartbeatKeys(prefix)) == nil {
		n.live = newLiveness(bg.ctx, store, o.Timeout, prefix, &n.trusted, o.LocalLag)
		n.trusted.Store(false) // until the first heartbeat comes back
	}
	live := n.live
	n.untrack = src.OnInvalidate(func(keys []string) {
		if live != nil && keys != nil {
			live.observe(keys)
		}
		n.onInvalidate(prefix, keys)
	})
	return n, nil
}

// start runs the tier's heartbeat, if it has one, on bg.
func (n *localTier) start(bg *background) {
	if n != nil && n.live != nil {
		bg.spawn(func() { n.live.run(bg.done) })
	}
}

// tracking reports whether the store reports every change to the
// namespace now.
func (n *localTier) tracking() bool { return n.coherent && n.tracker.Tracking() }

// maxTTL is how long an entry may live in the tier now.
func (n *localTier) maxTTL() time.Duration {
	if n.tracking() {
		return n.ttl
	}
	return n.fallbackTTL
}

// report adds the tier's state and size to s; without a tier, its
// coherence is off.
func (n *localTier) report(s *Stats) {
	if n == nil {
		s.LocalCoherence = CoherenceOff
		return
	}
	s.LocalCoherence = CoherenceTTL
	if n.tracking() {
		s.LocalCoherence = CoherenceTracking
	}
	s.LocalTrusted = n.trusted.Load()
	entries, bytes := n.size()
	s.Local.Entries, s.Local.Bytes = uint64(entries), bytes
	s.Local.Evictions = n.evictions.Load()
	s.Local.Invalidations = n.invalidations.Load()
}

// close stops listening for changes and stops the tier's goroutines.
func (n *localTier) close() {
	if n == nil {
		return
	}
	if n.untrack != nil {
		n.untrack()
	}
	n.stop()
}

func (n *localTier) stripe(key string) *atomic.Uint64 {
	return &n.stripes[maphash.String(n.seed, key)%localStripes]
}

// answer returns the value of key if the tier may answer now (see
// liveness) and holds a live one.
func (n *localTier) answer(key string) (any, bool) {
	if !n.trusted.Load() {
		return nil, false
	}
	return n.get(key)
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

// keep puts a value read from the store into the tier for as long as the
// tier may keep it (see put).
func (n *localTier) keep(key string, value any, softMs int64, snap localSnapshot) {
	n.put(key, value, sizeOf(value), softMs, n.maxTTL(), snap)
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
