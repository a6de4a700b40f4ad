package larder

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/glob"
	"github.com/larderhq/larder/telemetry"
)

// Cache is a namespaced, fail-open cache over a Store. Build one with New in
// main and pass it to what needs it; several Caches may live in one process,
// and several may share one Store (Options.BorrowStore).
// A Cache is safe for concurrent use by multiple goroutines.
//
// Reads and writes fail open: when the store errs, is slower than
// Options.Timeout, or the circuit breaker is open, Get and Exists report a
// miss, Set and Delete drop the write, and none of them returns an error for
// it. The failure is counted in Stats, sent to the Recorder and logged (rate
// limited). An invalidation that fails (Delete, Clear, InvalidateTags, or a
// write whose outcome is unknown) is not lost: the Cache keeps it, reads
// around the store for what it covers, and retries it until the store
// takes it. Errors returned by those calls are the caller's own: an invalid
// key, TTL, destination or option, a value the codec cannot encode, the
// caller's context ending, or a closed Cache. Clear, Ping, Count and Info
// are administrative and do return store failures, wrapped in
// ErrUnavailable.
type Cache struct {
	opts    Options
	prefix  string // Namespace + ":"
	pattern string // prefix with glob characters escaped, for Clear
	closed  atomic.Bool

	call *caller     // the store, its budget, breaker, logs and counters
	tags *tagger     // the generations of tags
	tier *localTier  // before a remote store, with its coherence; nil if none
	fill *filler     // Fetch's loads, flights, leases and refreshes
	pend *pending    // invalidations waiting for the store
	bg   *background // the Cache's goroutines, ended by Close
}

// New returns a Cache configured by opts. It does not talk to the store: a
// store that is unreachable at start-up makes a cache that fails open until
// the store answers, never an error here. New returns an error wrapping
// ErrInvalidOptions when opts fail validation.
//
// In front of a remote store New sets up the local tier, and registers
// the namespace with the store's driver.InvalidationSource (Track) so that the
// tier hears of every change; a store that cannot cover the namespace
// leaves the tier keeping entries for Options.LocalFallbackTTL only, as
// Stats then says.
func New(opts Options) (*Cache, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	call, prefix := newCaller(o), o.Namespace+":"
	c := &Cache{
		opts:    o,
		prefix:  prefix,
		pattern: EscapeGlob(o.Namespace) + ":",
		call:    call,
		tags:    &tagger{call: call, prefix: prefix},
		bg:      newBackground(),
		pend:    newPending(o.MaxPending),
	}
	if c.call.store != nil && !c.call.inProcess && o.LocalMaxBytes > 0 {
		if c.tier, err = newLocal(o, c.call.store, c.prefix, c.bg); err != nil {
			return nil, err
		}
	}
	c.fill = newFiller(o, c.call, c.tier, c.bg)
	if c.call.store != nil {
		c.bg.spawn(func() { c.retryLoop(c.bg.done) })
		c.tier.start(c.bg)
	}
	return c, nil
}

// Enabled reports whether the cache stores anything; it is false in off
// mode, where every read misses and loaders run directly.
func (c *Cache) Enabled() bool { return c.call.store != nil }

// Mode reports how the cache keeps values.
func (c *Cache) Mode() driver.Mode { return c.call.mode }

// Namespace returns the prefix every key is stored under (without the
// trailing colon).
func (c *Cache) Namespace() string { return c.opts.Namespace }

// Store returns the underlying Store, or nil in off mode. It is for the rare
// operation the Cache does not offer; keys written through it bypass the
// namespace unless the caller adds it (see Key).
func (c *Cache) Store() driver.Store { return c.call.store }

// Key returns the full store key for a caller's key: the namespace prefix
// followed by key.
func (c *Cache) Key(key string) string { return c.prefix + key }

// Get looks key up and, on a hit, decodes the value into dst, which must be
// a non-nil pointer (otherwise Get returns an error wrapping
// ErrInvalidDestination); dst is overwritten, not merged into. It reports
// whether it found a fresh value: an entry past its TTL (even one Fetch may
// still serve stale), a negative entry, a fill in progress, an entry whose
// tags were invalidated, or one whose invalidation is still pending is a
// miss. A value that no longer decodes into dst's type is reported as a
// miss and counted as a decode error. See Cache for the errors Get can
// return.
func (c *Cache) Get(ctx context.Context, key string, dst any) (bool, error) {
	if err := c.check(ctx, key); err != nil {
		return false, err
	}
	if err := checkDst(dst); err != nil {
		return false, err
	}
	if !c.Enabled() {
		return false, nil
	}
	var snap localSnapshot
	if c.tier != nil {
		if v, ok := c.tier.answer(key); ok && assign(dst, v) {
			c.call.count(telemetry.TierLocal, telemetry.OpGet, telemetry.OutcomeHit, 0)
			return true, nil
		}
		snap = c.tierMiss(key)
	}
	return c.getStored(ctx, key, dst, snap)
}

// getStored is Get past the local tier: it reads the store, and keeps an
// untagged hit in the tier unless an invalidation came after snap.
func (c *Cache) getStored(ctx context.Context, key string, dst any, snap localSnapshot) (bool, error) {
	if c.pend.blocks(key, nil) {
		c.call.count(telemetry.TierStore, telemetry.OpGet, outcomeBlocked, 0)
		return false, nil
	}
	s, err := c.call.read(ctx, c.prefix+key)
	if err != nil || (s.state != slotEntry) {
		return false, err
	}
	env := s.env
	if !env.isValue() || !env.fresh(c.opts.Clock.Now()) || c.pend.blocksEntry(key, env.tags) || !c.tags.current(ctx, env.tags) {
		c.call.count(telemetry.TierStore, telemetry.OpGet, telemetry.OutcomeMiss, s.d)
		return false, nil
	}
	if !c.decode(key, env.value, dst, s.d) {
		return false, nil
	}
	c.call.count(telemetry.TierStore, telemetry.OpGet, telemetry.OutcomeHit, s.d)
	if c.tier != nil && len(env.tags) == 0 {
		c.tier.keep(key, reflect.ValueOf(dst).Elem().Interface(), env.soft, snap)
	}
	return true, nil
}

// tierMiss counts a miss in the local tier and snapshots key for the
// fill that follows (see localTier.put).
func (c *Cache) tierMiss(key string) localSnapshot {
	c.call.count(telemetry.TierLocal, telemetry.OpGet, telemetry.OutcomeMiss, 0)
	return c.tier.snapshot(key)
}

// Set encodes v and stores it under key for ttl; a zero ttl means
// Options.DefaultTTL. A value the codec cannot encode returns an error
// wrapping ErrEncode and stores nothing (in off mode too, so that such bugs
// show in development). Store failures drop the write silently (see Cache);
// a Set whose outcome is unknown is followed by an invalidation of the key,
// so that it can never leave an old value behind.
//
// On a store that can write conditionally (driver.ConditionalStore) over a
// network, a Set is never a blind write: it replaces exactly what it read,
// or a placeholder it reserved, so that a Set whose reply was lost and that
// executes later cannot land after a later Delete or write.
func (c *Cache) Set(ctx context.Context, key string, v any, ttl time.Duration) error {
	raw, ttl, err := c.entry(ctx, key, v, ttl, 0)
	if err != nil || raw == nil {
		return err
	}
	_, err = c.put(ctx, key, raw, ttl, nil, 0)
	return err
}

// entry validates a write of v under key for ttl (zero: the default) and
// encodes it in an envelope carrying version. raw is nil in off mode,
// where nothing is stored but the value is still encoded, so that
// unencodable values fail in development too.
func (c *Cache) entry(ctx context.Context, key string, v any, ttl time.Duration, version int64) (raw []byte, _ time.Duration, err error) {
	if err := c.check(ctx, key); err != nil {
		return nil, 0, err
	}
	if ttl, err = c.ttl(ttl); err != nil {
		return nil, 0, err
	}
	data, err := c.opts.Codec.Marshal(v)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: key %q: %w", ErrEncode, key, err)
	}
	if c.call.store == nil {
		return nil, ttl, nil
	}
	exp := c.opts.Clock.Now().Add(ttl).UnixMilli()
	return envelope{soft: exp, hard: exp, version: version, value: data}.encode(), ttl, nil
}

// put stores an encoded entry and drops the key from the local tier;
// it reports whether the store took it. keep, when not nil, is asked about
// what the key holds and may refuse the write (SetVersioned). A write whose
// outcome is unknown is kept (see pending): a versioned one to be redone,
// any other as an invalidation of the key.
func (c *Cache) put(ctx context.Context, key string, raw []byte, ttl time.Duration, keep keepFunc, version int64) (bool, error) {
	defer c.tier.forget(key)
	stored, failed := c.putOnce(ctx, key, raw, ttl, keep)
	if failed {
		if keep != nil {
			c.pend.addWrite(key, raw, ttl, version)
		} else {
			c.pend.addKeys(key)
		}
		return false, ctx.Err()
	}
	return stored, nil
}

// putOnce is put without its bookkeeping: failed is true when the store
// failed and the write may or may not land.
//
// Over a network with conditional writes, it replaces by compare-and-swap
// exactly what it read, or, for an absent key, a placeholder it reserved
// first with SetNX: a write that executes late then cannot land after a
// later Delete or write.
func (c *Cache) putOnce(ctx context.Context, key string, raw []byte, ttl time.Duration, keep keepFunc) (stored, failed bool) {
	full := c.prefix + key
	cs, conditional := c.call.store.(driver.ConditionalStore)
	if !conditional || (c.call.inProcess && keep == nil) {
		// An in-process store never runs a write late: a plain Set is
		// safe there. A conditional write (keep) takes the path below,
		// whose reservation orders it against Deletes and other writers.
		r, _, _ := c.call.do(ctx, telemetry.OpSet, key, func(ctx context.Context) error {
			return c.call.store.Set(ctx, full, raw, ttl)
		})
		return r == callOK, r == callFailed
	}
	for range 16 {
		cur, err := c.call.readAs(ctx, telemetry.OpLease, full)
		if err != nil || cur.state == slotFailed {
			return false, true
		}
		if keep != nil && cur.state != slotAbsent {
			if write, failed := keep(cur); !write {
				return false, failed
			}
		}
		old := cur.raw
		if cur.state == slotAbsent {
			// Reserve the key first: a SetNX of the value itself, if it
			// executed late, could land after a Delete of the value.
			lease := newLease()
			won, ok := c.call.cond(ctx, telemetry.OpLease, full, func(ctx context.Context) (bool, error) {
				return cs.SetNX(ctx, full, lease, reserveTTL)
			})
			if !ok {
				c.pend.addLease(full, lease, reserveTTL)
				return false, true
			}
			if !won {
				continue
			}
			// Decide only now that the key is reserved: a Delete from
			// here on removes the reservation and fails the write, and
			// a write decided before it could not see what came after.
			if keep != nil {
				if write, failed := keep(slot{state: slotAbsent}); !write {
					c.call.cond(ctx, telemetry.OpLease, full, func(ctx context.Context) (bool, error) {
						return cs.CompareAndDelete(ctx, full, lease)
					})
					return false, failed
				}
			}
			old = lease
		}
		done, ok := c.call.cond(ctx, telemetry.OpSet, full, func(ctx context.Context) (bool, error) {
			return cs.CompareAndSwap(ctx, full, old, raw, ttl)
		})
		if !ok {
			return false, true
		}
		if done {
			return true, false
		}
	}
	// Sixteen rounds lost to other writers: the outcome is as unknown as
	// after a failure, so the write is kept.
	return false, true
}

// reserveTTL bounds a write's reservation: it is replaced by the value one
// round trip later, unless the writer dies in between.
const reserveTTL = time.Second

// newLease returns a lease: the placeholder a fill holds while it loads,
// and a write reserves an absent key with; fillers wait for one rather
// than take it over.
func newLease() []byte {
	return envelope{flags: flagLease, value: token()}.encode()
}

// Delete removes keys and returns how many existed. Store failures are
// counted and reported as zero deletions (see Cache); the invalidation is
// then kept and retried, and this instance reads around the store for
// those keys until it lands.
func (c *Cache) Delete(ctx context.Context, keys ...string) (int, error) {
	if len(keys) == 0 {
		if c.closed.Load() {
			return 0, ErrClosed
		}
		return 0, ctx.Err()
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		if err := c.check(ctx, k); err != nil {
			return 0, err
		}
		full[i] = c.prefix + k
	}
	if c.call.store == nil {
		return 0, nil
	}
	var n int
	r, _, err := c.call.do(ctx, telemetry.OpDelete, keys[0], func(ctx context.Context) error {
		var err error
		n, err = c.call.store.Delete(ctx, full...)
		return err
	})
	if r == callFailed {
		c.pend.addKeys(keys...)
	} else {
		c.pend.forgetKeys(keys)
	}
	c.tier.forget(keys...)
	return n, err
}

// Exists reports whether key holds a fresh value, as Get would find it;
// it reads the entry to tell. Store failures report false (see Cache).
// Exists is not a read of the value, so it counts in neither hits nor
// misses.
func (c *Cache) Exists(ctx context.Context, key string) (bool, error) {
	if err := c.check(ctx, key); err != nil {
		return false, err
	}
	if c.call.store == nil || c.pend.blocks(key, nil) {
		return false, nil
	}
	var raw []byte
	r, _, err := c.call.do(ctx, telemetry.OpExists, key, func(ctx context.Context) error {
		var err error
		raw, err = c.call.store.Get(ctx, c.prefix+key)
		return err
	})
	if r != callOK {
		return false, err
	}
	env, derr := decodeEnvelope(raw)
	if derr != nil || !env.isValue() || !env.fresh(c.opts.Clock.Now()) || c.pend.blocksEntry(key, env.tags) {
		return false, nil
	}
	return c.tags.current(ctx, env.tags), nil
}

// Clear removes every key of this cache's namespace that matches pattern, a
// Redis glob (*, ?, [a-z], \ escapes), and returns how many it removed. The
// pattern applies to the caller's keys: "user:*" clears "user:1" and
// "user:1:profile" and nothing outside the namespace. Use EscapeGlob for
// parts meant literally. On Redis it is SCAN and UNLINK in batches; it is
// bounded by ctx (after a ping within Options.Timeout: a store that does
// not answer fails it at once), and returns store failures wrapped in
// ErrUnavailable. A Clear that fails is kept and retried like a failed
// Delete.
func (c *Cache) Clear(ctx context.Context, pattern string) (int, error) {
	if pattern == "" {
		return 0, fmt.Errorf("%w: empty pattern (use \"*\" for the whole namespace)", ErrInvalidPattern)
	}
	if err := c.check(ctx, pattern); err != nil {
		return 0, err
	}
	if c.call.store == nil {
		return 0, nil
	}
	n, err := c.call.admin(ctx, telemetry.OpClear, func(ctx context.Context) (int, error) {
		if err := c.call.reachable(ctx); err != nil {
			return 0, err
		}
		return c.call.store.Clear(ctx, c.pattern+pattern)
	})
	if err != nil && !errors.Is(err, ErrInvalidPattern) {
		c.pend.addPattern(pattern)
	}
	c.tier.forgetAll()
	return n, err
}

// Count returns how many keys of this namespace match pattern (all of them
// for "*"). A store that cannot count (no driver.KeyCounter) gives an
// error wrapping errors.ErrUnsupported.
func (c *Cache) Count(ctx context.Context, pattern string) (int, error) {
	if c.call.store == nil {
		return 0, nil
	}
	counter, ok := c.call.store.(driver.KeyCounter)
	if !ok {
		return 0, fmt.Errorf("larder: Count: the store cannot count keys: %w", errors.ErrUnsupported)
	}
	if err := c.check(ctx, pattern); err != nil {
		return 0, err
	}
	return c.call.admin(ctx, telemetry.OpCount, func(ctx context.Context) (int, error) {
		if err := c.call.reachable(ctx); err != nil {
			return 0, err
		}
		return counter.Count(ctx, c.pattern+pattern)
	})
}

// Info returns facts about the store's server (Redis INFO fields) when the
// store provides them (Infoer); otherwise it returns nil and no error. It
// is one round trip within Options.Timeout, refused while the breaker is
// open, and returns store failures wrapped in ErrUnavailable.
func (c *Cache) Info(ctx context.Context) (map[string]string, error) {
	infoer, ok := c.call.store.(driver.Infoer)
	if !ok {
		if c.closed.Load() {
			return nil, ErrClosed
		}
		return nil, nil
	}
	if c.closed.Load() {
		return nil, ErrClosed
	}
	var info map[string]string
	_, err := c.call.admin(ctx, telemetry.OpInfo, func(ctx context.Context) (int, error) {
		ctx, cancel := c.call.budget(ctx)
		defer cancel()
		var err error
		info, err = infoer.Info(ctx)
		return len(info), err
	})
	return info, err
}

// Ping checks that the store answers within Options.Timeout. It returns nil
// in off mode, and an error wrapping ErrUnavailable when the store fails.
// Unlike other calls it asks the store even while the breaker is open, so
// that health checks tell the truth.
func (c *Cache) Ping(ctx context.Context) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if c.call.store == nil {
		return nil
	}
	return c.call.ping(ctx)
}

// Close stops the Cache's goroutines (the breaker's probe, background
// refreshes, the retrier of pending invalidations, which are dropped) and
// closes the store unless Options.BorrowStore says the Cache only borrows
// it. Calls made after Close return ErrClosed. Closing twice returns nil.
func (c *Cache) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.bg.stop()
	if n := c.pend.count(); n > 0 {
		c.opts.Logger.Warn("larder: closed with invalidations that never reached the store", "pending", n)
	}
	c.tier.close()
	return c.call.close(c.opts.BorrowStore)
}

// Stats returns a snapshot of the cache's counters.
func (c *Cache) Stats() Stats {
	s := Stats{
		Mode:      c.call.mode,
		Namespace: c.opts.Namespace,
		Breaker:   c.call.breakerState(),
		Store:     c.call.counters[telemetry.TierStore].snapshot(),
		Local:     c.call.counters[telemetry.TierLocal].snapshot(),
		Fetch:     c.fill.stats.snapshot(),
		Pending:   c.pend.count(),
	}
	c.tier.report(&s)
	return s
}

// check validates a caller's key and that the cache and context are alive.
func (c *Cache) check(ctx context.Context, key string) error {
	switch {
	case c.closed.Load():
		return ErrClosed
	case key == "":
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w: key of %d bytes is longer than %d", ErrInvalidKey, len(key), MaxKeyLen)
	}
	return ctx.Err()
}

func (c *Cache) ttl(ttl time.Duration) (time.Duration, error) {
	switch {
	case ttl < 0:
		return 0, fmt.Errorf("%w: %v is negative", ErrInvalidTTL, ttl)
	case ttl == 0:
		return c.opts.DefaultTTL, nil
	case ttl < time.Millisecond:
		// Redis counts in milliseconds; a shorter positive TTL must not
		// round down to "no TTL" or to an error.
		return time.Millisecond, nil
	}
	return ttl, nil
}

// EscapeGlob escapes the Redis glob metacharacters in s (* ? [ ] \) so that
// a pattern built from it matches s literally, as in
// c.Clear(ctx, "user:"+larder.EscapeGlob(email)+":*").
func EscapeGlob(s string) string { return glob.Escape(s) }
