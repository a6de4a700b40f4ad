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
// that an in-process tier in front of the store can stay coherent. It
// implements larder.InvalidationSource.
//
// Keys are reported only while Tracking reports true, which needs
// Options.TrackingPrefixes. fn is then called with the full keys under
// those prefixes that were written, deleted, renamed or expired, by this
// process, by another one, or by redis-cli: a write through this store is
// reported back to it too, as another tier of the same process may hold
// the key. Redis tracks key names across all logical databases, so a
// change to the same name in another database is reported as well. An
// expired key is reported when Redis removes it, which may be some time
// after its TTL has passed: a tier should not keep an entry past the
// TTL it was written with.
//
// fn is called with nil keys whenever changes may have gone unreported,
// and the receiver must then drop everything it holds and forget what it
// is reading: when a tracking connection closes for any reason (the
// server restarted or crashed, stopped answering for about ten seconds,
// the network failed, a failover moved the store to another server, a
// pooled connection was retired), when the server is flushed (FLUSHDB,
// FLUSHALL, in any database), when a store that started while Redis was
// unreachable connects, and when Tracking changes. A receiver should
// check Tracking whenever it gets nil keys. A connection that closes is
// replaced when the store is next used, with tracking on before any
// command is sent; on a Cluster, the store hears from the nodes it has
// sent commands to, which hold every key it has read.
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
// function, OnInvalidate or Close, which wait for calls in progress to
// return.
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
// with OnInvalidate: Options.TrackingPrefixes is set, the store has
// connected, and the server accepted client tracking. It stays true while
// the server is unreachable, as losing the connection was reported. It is
// false before the store has connected, after Close, and when the server
// refuses tracking (RESP2 only, CLIENT TRACKING not permitted); a Cache
// then has to bound how long an in-process tier keeps entries by time
// alone.
//
// Tracking changes from false to true when a store that started while
// Redis was unreachable connects, and from true to false if the server
// starts refusing tracking while the store runs (an ACL changed, a
// failover reached a server without RESP3): the store then goes on
// without tracking, until it is created again. Each change is followed by
// a call of the registered functions with nil keys. It is safe for
// concurrent use.
func (s *Store) Tracking() bool {
	return s.tracking.Load() && !s.closed.Load()
}

// Track reports whether changes to every key under prefix are reported:
// one of Options.TrackingPrefixes must be a prefix of it. It implements
// larder.InvalidationSource; a Cache calls it with its namespace.
func (s *Store) Track(prefix string) error {
	for _, p := range s.prefixes {
		if strings.HasPrefix(prefix, p) {
			return nil
		}
	}
	if len(s.prefixes) == 0 {
		return errors.New("redisstore: tracking is off (Options.TrackingPrefixes is empty)")
	}
	return fmt.Errorf("redisstore: tracking covers %q, not %q", s.prefixes, prefix)
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

// newClient creates a client with the store's options and reports whether
// its connections track keys. If the options ask for tracking and the
// server refuses it (it speaks only RESP2, or the user may not run CLIENT
// TRACKING), the store must still work: the refusal is logged once and a
// client without tracking is created instead.
func (s *Store) newClient() (rueidis.Client, bool, error) {
	client, err := rueidis.NewClient(s.opts)
	if err == nil || s.opts.DisableCache || !errors.Is(err, rueidis.ErrNoCache) {
		return client, err == nil && !s.opts.DisableCache, err
	}
	s.trackingRefused(err)
	client, err = rueidis.NewClient(untracked(s.opts))
	return client, false, err
}

// trackingRefused logs, once per store, that the server refuses tracking.
func (s *Store) trackingRefused(err error) {
	if s.refusedLogged.Swap(true) {
		return
	}
	s.log.Warn("redisstore: the server refuses client tracking; continuing without invalidations",
		"addr", s.target, "err", strings.ReplaceAll(err.Error(), "\n", " "))
}

// untracked returns opts without client tracking, as the store runs when
// Options.TrackingPrefixes is empty.
func untracked(opts rueidis.ClientOption) rueidis.ClientOption {
	opts.DisableCache = true
	opts.ClientTrackingOptions = nil
	opts.NewCacheStoreFn = nil
	opts.OnInvalidations = nil
	return opts
}

// untrack replaces a tracking client by one without tracking, in the
// background, after a call failed because the server refused tracking on
// a new connection: an ACL changed, or a failover reached a server without
// RESP3. Without it every call would fail until the store is created
// again, and a cache must fail open. Calls in flight on the old client
// fail as the server being unavailable.
func (s *Store) untrack(cause error) {
	if !s.tracking.Load() || !s.untracking.CompareAndSwap(false, true) {
		return
	}
	s.mu.Lock() // orders bg.Add before the bg.Wait of Close
	if s.closed.Load() {
		s.mu.Unlock()
		return
	}
	s.bg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.bg.Done()
		defer s.untracking.Store(false) // on failure, the next refusal tries again
		client, err := rueidis.NewClient(untracked(s.opts))
		if err != nil {
			s.log.Debug("redisstore: reconnecting without client tracking failed",
				"addr", s.target, "err", err.Error())
			return
		}
		s.mu.Lock()
		if s.closed.Load() {
			s.mu.Unlock()
			client.Close()
			return
		}
		old := s.conn.Swap(newConnection(client))
		s.tracking.Store(false)
		s.mu.Unlock()
		s.trackingRefused(cause)
		if old != nil {
			old.client.Close()
		}
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
