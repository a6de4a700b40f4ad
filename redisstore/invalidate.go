package redisstore

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"
)

// OnInvalidate registers fn to be told which keys changed in Redis, so
// that an local tier in front of the store can stay coherent. It
// implements driver.InvalidationSource.
//
// Keys are reported only while Tracking reports true, which needs a
// prefix to track: a Cache registers its namespace with Track, and
// Options.TrackingPrefixes gives prefixes from the first connection on.
// fn is then called with the full keys under those prefixes that were
// written, deleted, renamed or expired, by this process, by another one,
// or by redis-cli: a write through this store is reported back to it too,
// as another tier of the same process may hold the key. Redis tracks key
// names across all logical databases, so a change to the same name in
// another database is reported as well. An expired key is reported when
// Redis removes it, which may be some time after its TTL has passed: a
// tier should not keep an entry past the TTL it was written with.
//
// fn is called with nil keys whenever changes may have gone unreported,
// and the receiver must then drop everything it holds and forget what it
// is reading: when a tracking connection closes for any reason (the
// server restarted or crashed, stopped answering for about ten seconds,
// the network failed, a failover moved the store to another server, a
// pooled connection was retired), when the server is flushed (FLUSHDB,
// FLUSHALL, in any database), when a store that started while Redis was
// unreachable connects, when Track widens what is tracked (the client
// whose connections reported changes is replaced), and when Tracking
// changes. A receiver should check Tracking whenever it gets nil keys. A
// connection that closes is replaced when the store is next used, with
// tracking on before any command is sent; on a Cluster, the store hears
// from the nodes it has sent commands to, which hold every key it has
// read.
//
// Each connection the store holds to a server gets the reports, so a key
// is usually reported several times: once per pipelined connection (one
// to four, see Options.MaxConnections) and once per pooled connection
// opened for a batch of 2,000 commands or more. The copies cannot be told
// apart from later changes to the same key and are passed on as they
// are. A key reported while a read of it is in flight may have been
// changed after the server answered that read: the receiver must not keep
// the value such a read returns. Changes are reported as soon as the
// server has made them, with the reply to the command that made them;
// measured on one machine, well under a millisecond later. If the network
// silently drops packets, the store notices only when its connection
// times out (about ten seconds, rueidis's ConnWriteTimeout), and then
// calls fn with nil keys; a tier should bound how long it keeps entries
// in any case.
//
// fn runs on a rueidis goroutine that reads replies from a connection,
// and the connection's replies wait until it returns: it must be quick and
// must not block (drop entries from a map, signal a channel without
// waiting). It may be called from several goroutines at once, one per
// connection, so it must be safe for concurrent use. keys is shared by
// every registered function: fn must not modify it, and may keep it.
// fn must not call the store's methods, whose replies may have to come
// through the connection it is holding up, nor the returned cancel
// function, OnInvalidate, Track or Close, which wait for calls in
// progress to return.
//
// The returned function unregisters fn; once it returns, fn is not called
// again. It may be called more than once. Once Close has returned, no
// registered function is called again, and OnInvalidate registers nothing.
// OnInvalidate is safe for concurrent use. It panics if fn is nil.
func (s *Store) OnInvalidate(fn func(keys []string)) (cancel func()) {
	if fn == nil {
		panic("redisstore: OnInvalidate with a nil function")
	}
	return s.inv.add(fn)
}

// Tracking reports whether invalidations flow to the functions registered
// with OnInvalidate for every prefix given to Track or in
// Options.TrackingPrefixes: there is one, the store has connected with
// tracking for all of them, and the server accepted client tracking. It
// stays true while the server is unreachable, as losing the connection
// was reported. It is false before the store has connected, after Close,
// when the server refuses tracking (RESP2 only, CLIENT TRACKING not
// permitted), and while a prefix given to Track waits for the server to
// be reachable; a Cache then has to bound how long an local tier
// keeps entries by time alone.
//
// Tracking changes from false to true when a store that started while
// Redis was unreachable connects, and when Track turns tracking on or
// completes it. It changes from true to false if the server starts
// refusing tracking while the store runs (an ACL changed, a failover
// reached a server without RESP3), after which the store goes on without
// tracking until a call of Track succeeds, and when Track cannot reach the
// server to widen what is tracked, until the background connector does.
// Each change is followed by a call of the registered functions with nil
// keys. It is safe for concurrent use.
func (s *Store) Tracking() bool {
	return s.tracking.Load() && !s.closed.Load()
}

// ErrTrackingRefused is wrapped by the error Track returns when the server
// refuses client tracking: it speaks only RESP2 (or the URL asked for
// ?protocol=2), or the user may not run CLIENT TRACKING.
var ErrTrackingRefused = errors.New("the server refuses client tracking")

// Track makes the store report changes to every key that starts with
// prefix, besides the keys it reports already. It implements
// driver.InvalidationSource: a Cache calls it with its namespace and a
// colon when it is created, so a store built without
// Options.TrackingPrefixes tracks what the Caches over it read. An empty
// prefix tracks every key.
//
// A prefix that a tracked one covers (the tracked one is a prefix of it)
// changes nothing, and Track returns nil at once. Otherwise Track
// connects again, with client tracking for prefix and for the tracked
// prefixes it does not cover (Redis refuses overlapping prefixes, so
// "ns:" replaces "ns:a:"), and swaps the new client in. The registered
// functions are then called with nil keys. Calls already on the old
// client finish there; it is closed once they are done and a few seconds
// have passed (see Client), so the store briefly holds twice its
// connections. Track blocks while it connects: about DialTimeout at most
// for a server that does not answer.
//
// Before the store has connected (Redis was unreachable when New ran),
// Track adds prefix to the prefixes the background connector asks for,
// and returns nil. It does the same when Redis cannot be reached as Track
// connects: the store goes on with the client it has, Tracking reports
// false, and the background connector swaps in a client that tracks
// prefix once Redis answers. Should that server then refuse tracking, the
// store goes on without it, as New does.
//
// Track returns an error, and the store goes on as before, when the
// server refuses client tracking (wrapping ErrTrackingRefused), also for a
// prefix already covered, since then nothing is tracked; when the server
// refuses the connection (say a password changed); and after Close
// (wrapping driver.ErrClosed). It is safe for concurrent use; concurrent
// calls are served one at a time. It must not be called from a function
// registered with OnInvalidate.
func (s *Store) Track(prefix string) error {
	s.trackMu.Lock()
	defer s.trackMu.Unlock()

	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return s.closedError("track")
	}
	want, widened := widen(s.want, prefix)
	if s.connecting {
		// The connector reads want before each attempt and tries again
		// if it changed during one.
		if widened {
			s.want, s.wantGen = want, s.wantGen+1
		}
		s.mu.Unlock()
		return nil
	}
	if !widened && s.tracking.Load() {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()

	// Once New has returned, only Track starts the connector or changes
	// want, so neither changes while it connects.
	c, err := s.dialClient(want)
	if err != nil {
		return s.trackFailed(prefix, want, err)
	}
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		c.discard()
		return s.closedError("track")
	}
	s.want, s.wantGen = want, s.wantGen+1
	old := s.conn.Swap(c)
	s.tracking.Store(true)
	s.retire(old)
	s.mu.Unlock()
	s.log.Info("redisstore: tracking widened", "addr", s.target, "prefixes", len(want))
	s.inv.call(nil)
	return nil
}

// trackFailed handles a connection Track could not make for want: an
// error for a refusal, and for a server out of reach, the background
// connector.
func (s *Store) trackFailed(prefix string, want []string, err error) error {
	switch {
	case s.life.Err() != nil:
		return s.closedError("track")
	case errors.Is(err, rueidis.ErrNoCache):
		// rueidis appends advice about its own options to the server's
		// reply, which names the actual reason, if there is one.
		reason := strings.TrimSpace(strings.TrimSuffix(err.Error(), rueidis.ErrNoCache.Error()))
		if reason == "" {
			return fmt.Errorf("redisstore: track %q: %w (no RESP3)", prefix, ErrTrackingRefused)
		}
		return fmt.Errorf("redisstore: track %q: %w: %s", prefix, ErrTrackingRefused, strings.ReplaceAll(reason, "\n", " "))
	case permanent(err):
		return fmt.Errorf("redisstore: track %q: %w", prefix, s.connectError(err))
	}
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return s.closedError("track")
	}
	s.want, s.wantGen = want, s.wantGen+1
	was := s.tracking.Swap(false)
	s.startConnector()
	s.mu.Unlock()
	s.log.Warn("redisstore: Redis is unreachable; tracking a new prefix waits for the background connector",
		"addr", s.target, "err", err.Error())
	if was {
		s.inv.call(nil)
	}
	return nil
}

// widen returns want with prefix added and the prefixes it covers
// removed, and whether that changed anything: nothing does when a prefix
// in want covers prefix. want is not modified.
func widen(want []string, prefix string) ([]string, bool) {
	for _, p := range want {
		if strings.HasPrefix(prefix, p) {
			return want, false
		}
	}
	out := make([]string, 0, len(want)+1)
	for _, p := range want {
		if !strings.HasPrefix(p, prefix) {
			out = append(out, p)
		}
	}
	return append(out, prefix), true
}

// invalidations holds the functions registered with OnInvalidate and calls
// them. mu is held for reading while they are called and for writing to
// change them, so that once a cancel function or close returns no call is
// in progress and none starts.
type invalidations struct {
	mu     sync.RWMutex
	closed bool
	nextID uint64
	fns    []registered
}

// registered is one function registered with OnInvalidate.
type registered struct {
	id uint64
	fn func(keys []string)
}

// add registers fn and returns the function that unregisters it.
func (v *invalidations) add(fn func([]string)) (cancel func()) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return func() {}
	}
	v.nextID++
	id := v.nextID
	v.fns = append(v.fns, registered{id: id, fn: fn})
	var once sync.Once
	return func() {
		once.Do(func() {
			v.mu.Lock()
			defer v.mu.Unlock()
			v.fns = slices.DeleteFunc(v.fns, func(r registered) bool { return r.id == id })
		})
	}
}

// call calls every registered function with keys.
func (v *invalidations) call(keys []string) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.closed {
		return
	}
	for _, r := range v.fns {
		r.fn(keys)
	}
}

// pushed converts an invalidation rueidis received (nil for a flush or a
// closed connection) and passes it on. It is rueidis's OnInvalidations.
func (v *invalidations) pushed(msgs []rueidis.RedisMessage) {
	v.mu.RLock()
	idle := v.closed || len(v.fns) == 0
	v.mu.RUnlock()
	if idle {
		return // nothing to convert the keys for
	}
	var keys []string
	if msgs != nil {
		keys = make([]string, 0, len(msgs))
		for _, m := range msgs {
			k, err := m.ToString()
			if err != nil {
				// Not a key name, which Redis never sends: report that
				// anything may have changed rather than guess.
				keys = nil
				break
			}
			keys = append(keys, k)
		}
	}
	v.call(keys)
}

// close unregisters every function, waiting for calls in progress.
func (v *invalidations) close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.closed = true
	v.fns = nil
}

// newClient creates a client that tracks prefixes (none: no tracking),
// and reports whether it does. If the server refuses tracking (it speaks
// only RESP2, or the user may not run CLIENT TRACKING), the store must
// still work: the refusal is logged once and a client without tracking is
// created instead.
func (s *Store) newClient(prefixes []string) (*connection, bool, error) {
	c, err := s.dialClient(prefixes)
	if err == nil || len(prefixes) == 0 || !errors.Is(err, rueidis.ErrNoCache) {
		return c, err == nil && len(prefixes) > 0, err
	}
	s.trackingRefused(err)
	c, err = s.dialClient(nil)
	return c, false, err
}

// dialClient creates a client that tracks prefixes, or none, and fails
// with rueidis.ErrNoCache if the server refuses that.
func (s *Store) dialClient(prefixes []string) (*connection, error) {
	c := &connection{idle: make(chan struct{}), tracked: len(prefixes) > 0}
	opts := s.opts
	if c.tracked {
		opts = tracked(opts, prefixes, func(msgs []rueidis.RedisMessage) {
			// A client swapped out may report changes until it is
			// closed, and its closing connections as nil keys; the one
			// that replaced it reports whatever matters now.
			if !c.retired.Load() {
				s.inv.pushed(msgs)
			}
		})
	}
	client, err := rueidis.NewClient(opts)
	if err != nil {
		return nil, err
	}
	c.client = client
	c.cluster = client.Mode() == rueidis.ClientModeCluster
	return c, nil
}

// discard closes a client that was never swapped in, ignoring what its
// closing connections report.
func (c *connection) discard() {
	c.retired.Store(true)
	c.client.Close()
}

// trackingRefused logs, once per store, that the server refuses tracking.
func (s *Store) trackingRefused(err error) {
	if s.refusedLogged.Swap(true) {
		return
	}
	s.log.Warn("redisstore: the server refuses client tracking; continuing without invalidations",
		"addr", s.target, "err", strings.ReplaceAll(err.Error(), "\n", " "))
}

// tracked returns opts with client tracking for prefixes: the handshake
// turns broadcasting tracking on instead of rueidis's default OPTIN, and
// rueidis's cache is replaced by one that holds nothing, as the store's
// own commands go through Do, never DoCache, and values are cached, if at
// all, by the Cache above it. onInvalidations receives what the server
// reports.
func tracked(opts rueidis.ClientOption, prefixes []string, onInvalidations func([]rueidis.RedisMessage)) rueidis.ClientOption {
	opts.DisableCache = false
	opts.ClientTrackingOptions = trackingOptions(prefixes)
	opts.NewCacheStoreFn = func(rueidis.CacheStoreOption) rueidis.CacheStore { return noCache{} }
	opts.OnInvalidations = onInvalidations
	return opts
}

// untrack replaces a tracking client by one without tracking, in the
// background, after a call failed because the server refused tracking on
// a new connection: an ACL changed, or a failover reached a server without
// RESP3. Without it every call would fail until the store is created
// again, and a cache must fail open. Calls in flight on the old client
// finish there, most of them failing as the server being unavailable.
func (s *Store) untrack(cause error) {
	cur := s.conn.Load()
	if cur == nil || !cur.tracked || !s.untracking.CompareAndSwap(false, true) {
		return
	}
	s.mu.Lock() // orders bg.Add before the bg.Wait of Close
	if s.closed.Load() {
		s.mu.Unlock()
		s.untracking.Store(false)
		return
	}
	s.bg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.bg.Done()
		defer s.untracking.Store(false) // on failure, the next refusal tries again
		c, err := s.dialClient(nil)
		if err != nil {
			s.log.Debug("redisstore: reconnecting without client tracking failed",
				"addr", s.target, "err", err.Error())
			return
		}
		s.mu.Lock()
		if s.closed.Load() || s.conn.Load() != cur {
			// Closed, or Track or the connector swapped in a client
			// meanwhile, whose handshake the server accepted.
			s.mu.Unlock()
			c.discard()
			return
		}
		s.conn.Store(c)
		s.tracking.Store(false)
		s.retire(cur)
		s.mu.Unlock()
		s.trackingRefused(cause)
		s.inv.call(nil)
	}()
}

// trackingOptions returns what follows CLIENT TRACKING ON for prefixes:
// broadcasting mode, in which the server reports every change under the
// prefixes rather than only to keys this connection read.
func trackingOptions(prefixes []string) []string {
	if len(prefixes) == 1 && prefixes[0] == "" {
		return []string{"BCAST"}
	}
	out := make([]string, 0, 1+2*len(prefixes))
	out = append(out, "BCAST")
	for _, p := range prefixes {
		out = append(out, "PREFIX", p)
	}
	return out
}

// validPrefixes rejects prefixes that Redis would refuse, as overlapping,
// when the store connects; caught there, the refusal would look like a
// server without tracking and silently turn it off.
func validPrefixes(prefixes []string) error {
	for i, p := range prefixes {
		for j, q := range prefixes {
			switch {
			case i >= j:
			case p == q:
				return invalid("TrackingPrefixes", "lists %q twice", p)
			case strings.HasPrefix(q, p):
				return invalid("TrackingPrefixes", "has %q, a prefix of %q (Redis refuses overlapping prefixes)", p, q)
			case strings.HasPrefix(p, q):
				return invalid("TrackingPrefixes", "has %q, a prefix of %q (Redis refuses overlapping prefixes)", q, p)
			}
		}
	}
	return nil
}

// noCache is the client-side cache rueidis gets when tracking is on. It
// holds nothing, so rueidis never keeps copies of values: the store's own
// commands use Do, never DoCache, and a DoCache sent through Client is
// answered by the server, as it is when tracking is off.
type noCache struct{}

// Flight reports a miss, so that rueidis sends the command.
func (noCache) Flight(string, string, time.Duration, time.Time) (rueidis.RedisMessage, rueidis.CacheEntry) {
	return rueidis.RedisMessage{}, nil
}

// Update keeps nothing and sets no client-side expiry.
func (noCache) Update(string, string, rueidis.RedisMessage) int64 { return 0 }

// Cancel has no waiters to wake, as Flight never makes any.
func (noCache) Cancel(string, string, error) {}

// Delete has nothing to delete.
func (noCache) Delete([]rueidis.RedisMessage) {}

// Close has nothing to flush.
func (noCache) Close(error) {}

// ReportsOwnWrites reports true: a write through the store is reported
// back to it too. It implements driver.SelfReporter, which lets a Cache
// bound its local tier's lag with heartbeats.
func (s *Store) ReportsOwnWrites() bool { return true }
