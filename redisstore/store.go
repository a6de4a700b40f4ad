package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/redis/rueidis"
)

// Store is a driver.Store backed by Redis or Valkey (standalone, Sentinel or
// Cluster) through rueidis. It also implements driver.ConditionalStore,
// driver.BatchStore, driver.KeyCounter, driver.Infoer and
// driver.InvalidationSource.
//
// A Store is safe for concurrent use by any number of goroutines. Create it
// with New and release it with Close.
type Store struct {
	// opts are the rueidis options without client tracking; newClient
	// adds it for the prefixes to track.
	opts    rueidis.ClientOption
	network string // "tcp", or "unix" for a unix:// URL
	target  string // the addresses, for logs and errors; never credentials
	log     *slog.Logger

	// conn holds the connected client; nil until the first connection
	// succeeds. Between swaps rueidis reconnects by itself. It is swapped
	// by the background connector when it first connects, by Track when
	// it widens what is tracked, and by untrack; the client swapped out is
	// closed once the calls using it are done (see retire).
	conn atomic.Pointer[connection]

	// life is cancelled by Close. It aborts the background connector and
	// any dial or handshake still in progress.
	life   context.Context
	cancel context.CancelFunc
	closed atomic.Bool

	// mu orders Close against every swap of conn and every start of a
	// background goroutine (bg.Add), and guards want, wantGen and
	// connecting. It is never held while connecting.
	mu sync.Mutex
	// want are the key prefixes to track, none a prefix of another:
	// Options.TrackingPrefixes, widened by Track. wantGen counts their
	// changes, so that a client built for older prefixes is not swapped
	// in. connecting is set while the background connector runs.
	want       []string
	wantGen    uint64
	connecting bool
	// trackMu serialises Track, which connects while holding it.
	trackMu sync.Mutex

	// inFlight counts calls running in bounded; maxInFlight is their
	// bound (a field so that tests can lower it).
	inFlight    atomic.Int64
	maxInFlight int64
	// direct counts calls on bounded's direct path; suspectUntil (Unix
	// ns) keeps calls off that path for a while after a failure.
	direct       atomic.Int64
	suspectUntil atomic.Int64

	casScript *rueidis.Lua
	cadScript *rueidis.Lua

	// inv holds the functions registered with OnInvalidate. tracking is
	// set while the connected client tracks every prefix in want;
	// untracking while untrack replaces it; refusedLogged once the
	// server's refusal of tracking has been logged. bg counts the
	// background goroutines (connector, untrack, retire), which Close
	// waits for. retireAfter is how long a swapped-out client stays open
	// at least (a field so that tests can shorten it).
	inv           invalidations
	tracking      atomic.Bool
	untracking    atomic.Bool
	refusedLogged atomic.Bool
	bg            sync.WaitGroup
	retireAfter   time.Duration
}

// connection is the client with facts about it fixed when it connected.
type connection struct {
	client  rueidis.Client
	cluster bool
	// tracked is set when the client was created with client tracking,
	// which the server accepted.
	tracked bool

	// users counts the store's calls using the client; retired is set
	// once it has been swapped out, after which its invalidations are
	// ignored and idle is closed when the last user is done.
	users    atomic.Int64
	retired  atomic.Bool
	idle     chan struct{}
	idleOnce sync.Once
}

// release ends a call's use of c, acquired by current.
func (c *connection) release() {
	if c.users.Add(-1) == 0 && c.retired.Load() {
		c.idleOnce.Do(func() { close(c.idle) })
	}
}

// The store's optional powers, checked at compile time.
var (
	_ driver.ConditionalStore   = (*Store)(nil)
	_ driver.BatchStore         = (*Store)(nil)
	_ driver.KeyCounter         = (*Store)(nil)
	_ driver.Infoer             = (*Store)(nil)
	_ driver.ModeReporter       = (*Store)(nil)
	_ driver.InvalidationSource = (*Store)(nil)
)

// New returns a Store for the server that opts describe.
//
// New returns an error for options that are invalid (wrapping
// driver.ErrInvalidOptions) and for a server that rejects the store's
// configuration: wrong password, unknown ACL user, database out of range,
// TLS certificate not trusted. Retrying cannot fix those.
//
// An unreachable server is not an error: the cache must start without
// Redis and fail open. New then logs one warning, returns a Store whose
// calls fail at once with errors wrapping driver.ErrUnavailable, and keeps
// connecting in a background goroutine with capped exponential backoff;
// once connected, calls succeed without any action from the caller.
//
// New blocks while it tries the first connection: about DialTimeout at
// most for a server that does not answer, much less for one that refuses
// connections.
func New(opts Options) (*Store, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	copt, err := opts.clientOption()
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		network:     "tcp",
		target:      strings.Join(copt.InitAddress, ","),
		log:         log,
		maxInFlight: maxInFlight,
		casScript:   rueidis.NewLuaScript(casScript),
		cadScript:   rueidis.NewLuaScript(cadScript),
		want:        slices.Clone(opts.TrackingPrefixes),
		retireAfter: retireAfter,
	}
	if copt.Sentinel.MasterSet != "" {
		s.target = "sentinel master " + copt.Sentinel.MasterSet + " via " + s.target
	}
	if copt.DialCtxFn != nil {
		// Only a unix:// URL makes rueidis.ParseURL set a dialer; the
		// store's own replaces it and must keep its network.
		s.network = "unix"
	}
	s.life, s.cancel = context.WithCancel(context.Background())
	copt.DialCtxFn = s.dial
	s.opts = copt

	c, tracking, err := s.newClient(s.want)
	if err == nil {
		s.tracking.Store(tracking)
		s.conn.Store(c)
		return s, nil
	}
	if permanent(err) {
		s.cancel()
		return nil, s.connectError(err)
	}
	s.log.Warn("redisstore: Redis is unreachable; the store fails calls until it connects, retrying in the background",
		"addr", s.target, "err", err.Error())
	s.mu.Lock()
	s.startConnector()
	s.mu.Unlock()
	return s, nil
}

// Client returns the underlying rueidis client for raw commands, or nil
// while the store has not connected yet (or after Close). The client is
// owned by the store: do not close it. It is safe for concurrent use.
//
// Track replaces the client when it widens what is tracked, and closes the
// one it replaced a few seconds later, once the store's own calls on it
// are done; a caller should get the client again for each piece of work
// rather than keep it.
func (s *Store) Client() rueidis.Client {
	if s.closed.Load() {
		return nil
	}
	if c := s.conn.Load(); c != nil {
		return c.client
	}
	return nil
}

// Close stops the background connector, closes the client (and any that
// Track replaced) and waits for their goroutines to end. Calls made after
// Close, a second Close too, fail with an error wrapping driver.ErrClosed,
// and functions registered with OnInvalidate are not called once it has
// returned. Close is safe to call concurrently with other calls; only the
// first call does anything. It must not be called from a function
// registered with OnInvalidate.
//
// One rueidis goroutine may outlive Close by a few seconds: on a Cluster,
// connections that a topology refresh dropped are closed five seconds
// later, whatever happens to the client.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed.Swap(true) {
		s.mu.Unlock()
		return fmt.Errorf("redisstore: close: %w", driver.ErrClosed)
	}
	s.mu.Unlock()
	// Before the client: rueidis reports its closing connections as
	// invalidations, some of them after its Close has returned.
	s.inv.close()
	// Closing the client first lets calls in flight finish normally;
	// cancelling life then aborts whatever is still dialling, and makes
	// retire close the clients swapped out before.
	if c := s.conn.Load(); c != nil {
		c.client.Close()
	}
	s.cancel()
	s.bg.Wait()
	return nil
}

// current returns the connection for a call, or the error the call must
// fail with: closed, or not connected yet. The call must release the
// connection when it is done, so that a client swapped out meanwhile is
// closed only then.
func (s *Store) current(op string) (*connection, error) {
	for {
		if s.closed.Load() {
			return nil, s.closedError(op)
		}
		c := s.conn.Load()
		if c == nil {
			return nil, s.notConnectedError(op)
		}
		c.users.Add(1)
		// Still current after counting in: retire, which swaps before it
		// looks at users, sees this call. Otherwise it may have looked
		// already, and the call takes the new connection instead.
		if s.conn.Load() == c {
			return c, nil
		}
		c.release()
	}
}

// Mode reports driver.ModeRedis, so that a Cache over this store says so.
func (s *Store) Mode() driver.Mode { return driver.ModeRedis }

// ClientOf returns the rueidis client under s, for the rare raw command
// the Cache does not offer; pass a Cache's store, as in
// ClientOf(c.Store()). It returns nil unless s is a redisstore Store that
// has connected: a caller tests for nil and does without the raw command
// in off and memory modes, and while a Redis that was unreachable at
// start-up has not answered yet. Keys written through the client bypass
// the namespace unless the caller adds it (see larder's Cache.Key). The
// client is safe for concurrent use; do not close it, the store owns it.
// Track may replace the client, so get it again for each piece of work.
func ClientOf(s driver.Store) rueidis.Client {
	if rs, ok := s.(*Store); ok {
		return rs.Client()
	}
	return nil
}
