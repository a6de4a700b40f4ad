package larder

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

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
	patterns map[string]uint64 // caller's patterns (Clear)
	all      uint64            // non-zero: past the cap, everything is pending
	max      int
	wake     chan struct{}
}

func newPending(max int) *pending {
	return &pending{
		keys: map[string]uint64{}, tags: map[string]uint64{}, patterns: map[string]uint64{},
		max: max, wake: make(chan struct{}, 1),
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
	if p.all == 0 && len(p.keys)+len(p.tags)+len(p.patterns) > p.max {
		// Past the cap: one namespace-wide Clear stands for all of them.
		p.all = p.seq
		clear(p.keys)
		clear(p.tags)
		clear(p.patterns)
	}
	p.recount()
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *pending) recount() {
	n := len(p.keys) + len(p.tags) + len(p.patterns)
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
}

func (p *pending) round() pendingRound {
	p.mu.Lock()
	defer p.mu.Unlock()
	return pendingRound{all: p.all, keys: clone(p.keys), tags: clone(p.tags), patterns: clone(p.patterns)}
}

func clone(m map[string]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
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

// retryLoop takes pending invalidations to the store until stop is
// closed, with exponential backoff while the store keeps failing.
func (c *Cache) retryLoop(stop <-chan struct{}) {
	// Short: while an invalidation waits, other instances may serve the
	// value it removes, so it goes out soon after the store answers again.
	const minBackoff, maxBackoff = 5 * time.Millisecond, 100 * time.Millisecond
	backoff := minBackoff
	var timer *time.Timer
	for {
		if c.pend.count() == 0 {
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
	call := func(timeout time.Duration, fn func(ctx context.Context) error) bool {
		ctx, cancel := context.WithTimeout(c.bgCtx, timeout)
		defer cancel()
		return fn(ctx) == nil
	}
	if r.all != 0 {
		if call(100*c.opts.Timeout, func(ctx context.Context) error {
			_, err := c.store.Clear(ctx, c.pattern+"*")
			return err
		}) {
			c.pend.doneAll(r.all)
			c.forgetAll()
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
			_, err := c.store.Delete(ctx, full...)
			return err
		}) {
			c.pend.done(func(p *pending) map[string]uint64 { return p.keys }, r.keys)
		} else {
			ok = false
		}
	}
	for tag, seq := range r.tags {
		if call(c.opts.Timeout, func(ctx context.Context) error { return c.newGeneration(ctx, tag) }) {
			c.pend.done(func(p *pending) map[string]uint64 { return p.tags }, map[string]uint64{tag: seq})
		} else {
			ok = false
		}
	}
	for pat, seq := range r.patterns {
		if call(100*c.opts.Timeout, func(ctx context.Context) error {
			_, err := c.store.Clear(ctx, c.pattern+pat)
			return err
		}) {
			c.pend.done(func(p *pending) map[string]uint64 { return p.patterns }, map[string]uint64{pat: seq})
		} else {
			ok = false
		}
	}
	return ok
}
