package larder

import (
	"context"
	"errors"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/glob"
)

// DefaultMaxPending is how many failed invalidations (keys, tags and
// patterns together) a Cache keeps for retrying by default. Past it the
// Cache stops trusting the store for every key of its namespace until it
// has cleared the whole namespace (Clear("*")): expensive, but an
// invalidation is never dropped.
const DefaultMaxPending = 10000

// pending holds the invalidations that did not reach the store: Deletes,
// Clears and InvalidateTags that failed or timed out, and writes whose
// outcome is unknown (a Set, SetVersioned or lease that timed out may still
// execute later). While a key is pending, this instance reads around the
// store for it (Get misses, Fetch loads without filling), so that it never
// serves the value the failed invalidation meant to remove; a goroutine
// retries them with backoff until the store takes them.
//
// Entries carry the sequence number of their last addition, so that a
// retry that succeeded removes only what it covered: an entry added again
// meanwhile stays for the next round.
type pending struct {
	n atomic.Int64 // entries, plus one while all is set: the fast "nothing pending" test

	mu       sync.Mutex
	seq      uint64
	keys     map[string]uint64 // caller's keys
	tags     map[string]uint64
	patterns map[string]uint64       // caller's patterns (Clear)
	writes   map[string]pendingWrite // versioned write-throughs to redo
	leases   map[string]pendingLease // leases that may have landed, to remove
	all      uint64                  // non-zero: past the cap, everything is pending
	max      int
	wake     chan struct{}
}

// pendingWrite is a SetVersioned whose outcome is unknown. It is redone,
// not replaced by a Delete: a Delete would let an older write-through
// still under way land after it, while the redone write compares versions.
type pendingWrite struct {
	seq     uint64
	raw     []byte
	ttl     time.Duration
	version int64
}

// pendingLease is a fill's lease whose write timed out: it may have landed
// (or land later), and would make every reader wait for a filler that gave
// up. It is removed by compare-and-delete until its TTL would end it.
type pendingLease struct {
	lease []byte
	until time.Time
}

func newPending(max int) *pending {
	return &pending{
		keys: map[string]uint64{}, tags: map[string]uint64{}, patterns: map[string]uint64{},
		writes: map[string]pendingWrite{}, leases: map[string]pendingLease{},
		max: max, wake: make(chan struct{}, 1),
	}
}

// addWrite keeps a versioned write-through for redoing; past the cap it is
// a pending invalidation like any other.
func (p *pending) addWrite(key string, raw []byte, ttl time.Duration, version int64) {
	p.mu.Lock()
	p.seq++
	if p.all == 0 {
		if w, ok := p.writes[key]; !ok || w.version < version {
			p.writes[key] = pendingWrite{seq: p.seq, raw: raw, ttl: ttl, version: version}
		}
		p.capAt()
	}
	p.recount()
	p.mu.Unlock()
	p.signal()
}

// addLease keeps a lease for removal; it never blocks reads.
func (p *pending) addLease(full string, lease []byte, ttl time.Duration) {
	p.mu.Lock()
	p.leases[full] = pendingLease{lease: lease, until: time.Now().Add(ttl)}
	p.mu.Unlock()
	p.signal()
}

func (p *pending) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// count returns how many invalidations are waiting.
func (p *pending) count() int { return int(p.n.Load()) }

func (p *pending) addKeys(keys ...string) { p.add(p.keys, keys) }
func (p *pending) addTags(tags ...string) { p.add(p.tags, tags) }
func (p *pending) addPattern(pattern string) {
	p.add(p.patterns, []string{pattern})
}

func (p *pending) add(m map[string]uint64, items []string) {
	p.mu.Lock()
	for _, it := range items {
		p.seq++
		if p.all != 0 {
			continue
		}
		m[it] = p.seq
	}
	if p.all == 0 {
		p.capAt()
	}
	p.recount()
	p.mu.Unlock()
	p.signal()
}

// capAt applies the cap: past it, one namespace-wide Clear stands for
// every entry. p.mu is held.
func (p *pending) capAt() {
	if len(p.keys)+len(p.tags)+len(p.patterns)+len(p.writes) <= p.max {
		return
	}
	p.all = p.seq
	clear(p.keys)
	clear(p.tags)
	clear(p.patterns)
	clear(p.writes)
}

func (p *pending) recount() {
	n := len(p.keys) + len(p.tags) + len(p.patterns) + len(p.writes)
	if p.all != 0 {
		n++
	}
	p.n.Store(int64(n))
}

// blocks reports whether key, filed under tags, has an invalidation
// waiting, so that the store must not be trusted for it.
func (p *pending) blocks(key string, tags []string) bool {
	if p.n.Load() == 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.all != 0 {
		return true
	}
	if _, ok := p.keys[key]; ok {
		return true
	}
	if _, ok := p.writes[key]; ok {
		return true
	}
	for _, t := range tags {
		if _, ok := p.tags[t]; ok {
			return true
		}
	}
	for pat := range p.patterns {
		if glob.Match(pat, key) {
			return true
		}
	}
	return false
}

// blocksEntry is blocks for an entry read from the store, whose tags are
// recorded in it.
func (p *pending) blocksEntry(key string, tags []tagGen) bool {
	if p.n.Load() == 0 {
		return false
	}
	names := make([]string, len(tags))
	for i, t := range tags {
		names[i] = t.tag
	}
	return p.blocks(key, names)
}

// snapshot is one round of retries: what was pending when it began.
type pendingRound struct {
	all                  uint64
	keys, tags, patterns map[string]uint64
	writes               map[string]pendingWrite
	leases               map[string]pendingLease
}

func (p *pending) round() pendingRound {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := pendingRound{all: p.all, keys: maps.Clone(p.keys), tags: maps.Clone(p.tags), patterns: maps.Clone(p.patterns),
		writes: make(map[string]pendingWrite, len(p.writes)), leases: make(map[string]pendingLease, len(p.leases))}
	for k, w := range p.writes {
		r.writes[k] = w
	}
	now := time.Now()
	for k, l := range p.leases {
		if now.After(l.until) {
			delete(p.leases, k) // its TTL has ended it
			continue
		}
		r.leases[k] = l
	}
	return r
}

// doneWrite removes a redone write unless a newer one replaced it.
func (p *pending) doneWrite(key string, seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w, ok := p.writes[key]; ok && w.seq == seq {
		delete(p.writes, key)
	}
	p.recount()
}

func (p *pending) doneLease(full string, lease []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l, ok := p.leases[full]; ok && string(l.lease) == string(lease) {
		delete(p.leases, full)
	}
}

// hasLeases reports whether leases wait for removal (they are not counted
// as pending invalidations).
func (p *pending) hasLeases() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.leases) > 0
}

// done removes what a round took to the store, unless added again since.
func (p *pending) done(m func(*pending) map[string]uint64, taken map[string]uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	live := m(p)
	for k, seq := range taken {
		if live[k] == seq {
			delete(live, k)
		}
	}
	p.recount()
}

func (p *pending) doneAll(seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.all == seq {
		p.all = 0
	}
	p.recount()
}

// forgetKeys drops pending entries for keys that a later invalidation has
// just taken to the store.
func (p *pending) forgetKeys(keys []string) {
	if p.n.Load() == 0 {
		return
	}
	p.mu.Lock()
	for _, k := range keys {
		delete(p.keys, k)
	}
	p.recount()
	p.mu.Unlock()
}

var errLeaseAbsent = errors.New("larder: lease not there")

// retryLoop takes pending invalidations to the store until stop is
// closed, with exponential backoff while the store keeps failing.
func (c *Cache) retryLoop(stop <-chan struct{}) {
	// Short: while an invalidation waits, other instances may serve the
	// value it removes, so it goes out soon after the store answers again.
	const minBackoff, maxBackoff = 5 * time.Millisecond, 100 * time.Millisecond
	backoff := minBackoff
	var timer *time.Timer
	for {
		if c.pend.count() == 0 && !c.pend.hasLeases() {
			select {
			case <-stop:
				return
			case <-c.pend.wake:
			}
		}
		if c.retryPending() {
			backoff = minBackoff
			continue
		}
		if timer == nil {
			timer = time.NewTimer(backoff)
		} else {
			timer.Reset(backoff)
		}
		select {
		case <-stop:
			timer.Stop()
			return
		case <-timer.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// retryPending makes one attempt at everything pending and reports whether
// all of it reached the store.
func (c *Cache) retryPending() bool {
	r := c.pend.round()
	ok := true
	bg := bypassBreaker(c.bg.ctx)
	call := func(timeout time.Duration, fn func(ctx context.Context) error) bool {
		ctx, cancel := context.WithTimeout(bg, timeout)
		defer cancel()
		return fn(ctx) == nil
	}
	if r.all != 0 {
		if call(100*c.opts.Timeout, func(ctx context.Context) error {
			_, err := c.call.store.Clear(ctx, c.pattern+"*")
			return err
		}) {
			c.pend.doneAll(r.all)
			c.tier.forgetAll()
		} else {
			ok = false
		}
	}
	if len(r.keys) > 0 {
		full := make([]string, 0, len(r.keys))
		for k := range r.keys {
			full = append(full, c.prefix+k)
		}
		if call(c.opts.Timeout, func(ctx context.Context) error {
			_, err := c.call.store.Delete(ctx, full...)
			return err
		}) {
			c.pend.done(func(p *pending) map[string]uint64 { return p.keys }, r.keys)
		} else {
			ok = false
		}
	}
	for tag, seq := range r.tags {
		if call(c.opts.Timeout, func(ctx context.Context) error { return c.tags.renew(ctx, tag) }) {
			c.pend.done(func(p *pending) map[string]uint64 { return p.tags }, map[string]uint64{tag: seq})
		} else {
			ok = false
		}
	}
	for key, w := range r.writes {
		// Stored or refused (a newer version is there): done either way.
		if _, failed := c.putOnce(bg, key, w.raw, w.ttl, c.newer(bg, key, w.version, w.ttl)); failed {
			ok = false
			continue
		}
		c.tier.forget(key)
		c.pend.doneWrite(key, w.seq)
	}
	if cs, conditional := c.call.store.(driver.ConditionalStore); conditional {
		for full, l := range r.leases {
			if call(c.opts.Timeout, func(ctx context.Context) error {
				removed, err := cs.CompareAndDelete(ctx, full, l.lease)
				if err == nil && !removed {
					// Not there (yet): a late write may still land;
					// try again until the lease's TTL would end it.
					return errLeaseAbsent
				}
				return err
			}) {
				c.pend.doneLease(full, l.lease)
			} else {
				ok = false
			}
		}
	}
	for pat, seq := range r.patterns {
		if call(100*c.opts.Timeout, func(ctx context.Context) error {
			_, err := c.call.store.Clear(ctx, c.pattern+pat)
			return err
		}) {
			c.pend.done(func(p *pending) map[string]uint64 { return p.patterns }, map[string]uint64{pat: seq})
		} else {
			ok = false
		}
	}
	return ok
}
