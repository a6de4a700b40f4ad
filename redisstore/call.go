package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/redis/rueidis"
)

// maxInFlight bounds the calls a store has waiting on rueidis at once.
// Normally a handful are (throughput times latency: even 100,000 calls a
// second at 1 ms is 100). Against a hung server, calls abandoned at their
// deadline keep waiting until rueidis gives up on the connection (up to
// ConnWriteTimeout, 10 s), so without a bound they would pile up at the
// caller's request rate, each holding a goroutine.
const maxInFlight = 4096

// maxDirect bounds the calls on bounded's direct path: well under the
// 1,024 commands a rueidis connection queues, past which a caller would
// wait for room without looking at its context.
const maxDirect = 256

// suspectFor is how long calls avoid the direct path after a failure.
const suspectFor = 5 * time.Second

// observe keeps calls off the direct path for suspectFor after a failure
// that was not the server's own answer (a nil reply, WRONGTYPE…).
func (s *Store) observe(err error) {
	if err == nil || rueidis.IsRedisNil(err) {
		return
	}
	var re *rueidis.RedisError
	if errors.As(err, &re) {
		return
	}
	s.suspectUntil.Store(time.Now().Add(suspectFor).UnixNano())
}

// errSaturated is returned, wrapped with driver.ErrUnavailable, when
// maxInFlight calls are already waiting: the server is not answering, and
// adding one more waiter would not help.
var errSaturated = errors.New("too many calls already waiting for Redis")

// bounded runs fn and returns its result, or ctx's error as soon as ctx is
// done, whichever comes first.
//
// rueidis honours deadlines on its usual paths, but not on all of them: a
// call that finds its connection being re-established by another call
// waits for that dial and handshake, bounded only by the other call's
// context or DialTimeout, and a call that finds a connection's queue of
// 1,024 pending commands full waits for room without looking at its
// context (measured: 50 ms deadlines, 3,000 concurrent callers, a stopped
// server, calls returning after 12 s). The cache gives each call a budget
// of a few tens of milliseconds and fails open past it, so the store must
// return on time whatever rueidis does: fn runs in its own goroutine, which
// is abandoned (it ends when rueidis gives up) if ctx ends first.
//
// Calls whose ctx can never be done run fn directly, as there is nothing
// to enforce and nothing would ever be abandoned.
//
// A goroutine per call costs about a tenth of a round trip on loopback, so
// while the store is healthy calls run fn directly: rueidis's usual path
// honours the deadline, and the paths that do not are reached only after
// something failed (a dropped connection being redialled) or with more
// than a connection's queue of calls outstanding. So the direct path is
// taken only while no call has failed for suspectFor and fewer than
// maxDirect calls are on it; any failure other than a server's reply sends
// calls through the goroutine for a while.
func bounded[T any](ctx context.Context, s *Store, fn func() (T, error)) (T, error) {
	if ctx.Done() == nil {
		return fn()
	}
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	if time.Now().UnixNano() >= s.suspectUntil.Load() {
		if s.direct.Add(1) <= maxDirect {
			v, err := fn()
			s.direct.Add(-1)
			s.observe(err)
			return v, err
		}
		s.direct.Add(-1)
	}
	if s.inFlight.Add(1) > s.maxInFlight {
		s.inFlight.Add(-1)
		return zero, errSaturated
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1) // buffered: an abandoned fn must not block
	go func() {
		v, err := fn()
		s.observe(err)
		// Counted out before the result is delivered, so that a caller
		// that has its result never sees its own call still in flight.
		s.inFlight.Add(-1)
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// fail turns an error from rueidis into the store's error for op.
//
// When ctx is done the error wraps ctx's error (the cache counts it as a
// timeout), even if rueidis reports it as, say, a dial timeout. Errors the
// server sent (WRONGTYPE, OOM, NOPERM, …) are wrapped as they are.
// Everything else means the server could not be reached and also wraps
// driver.ErrUnavailable, so that callers can tell an outage from a bad
// command. That includes a context error while ctx is not done: rueidis
// hands a call that waited for another call's reconnection the error of
// that reconnection, deadline and all. It also includes a new connection
// that the server refused client tracking, after which the store goes on
// without it (see untrack).
func (s *Store) fail(ctx context.Context, op string, err error) error {
	if errors.Is(err, rueidis.ErrNoCache) {
		s.untrack(err)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(err, ctxErr) {
			return fmt.Errorf("redisstore: %s: %w", op, ctxErr)
		}
		return fmt.Errorf("redisstore: %s: %w (%v)", op, ctxErr, err)
	}
	if errors.Is(err, rueidis.ErrClosing) && s.closed.Load() {
		return s.closedError(op)
	}
	if rerr, ok := rueidis.IsRedisErr(err); ok && !unavailableReply(rerr) {
		// The server answered, and refused this command (WRONGTYPE…):
		// a fault of the key, not of the server.
		return fmt.Errorf("redisstore: %s: %w: %w", op, driver.ErrRefused, err)
	}
	return fmt.Errorf("redisstore: %s: %w: %w", op, driver.ErrUnavailable, err)
}

// unavailableReply reports whether a server's error reply means it cannot
// serve for now rather than that the command was wrong.
func unavailableReply(err *rueidis.RedisError) bool {
	msg := err.Error()
	for _, p := range []string{"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "READONLY"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// closedError is returned by every call after Close.
func (s *Store) closedError(op string) error {
	return fmt.Errorf("redisstore: %s: %w", op, driver.ErrClosed)
}

// notConnectedError is returned while the background connector has not
// connected yet: at once, since the cache should not spend its budget on a
// server known to be down.
func (s *Store) notConnectedError(op string) error {
	return fmt.Errorf("redisstore: %s: not connected to %s yet: %w", op, s.target, driver.ErrUnavailable)
}

// connectError describes why New could not connect, naming the address and
// user but never the password.
func (s *Store) connectError(err error) error {
	user := s.opts.Username
	if user == "" {
		user = "default"
	}
	return fmt.Errorf("redisstore: connect to %s as user %q: %w", s.target, user, err)
}
