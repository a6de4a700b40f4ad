package redisstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// Backoff of the background connector: it starts fast, so a Redis that
// comes up a moment after the service is used at once, and is capped, so a
// Redis that is down for long is probed every few seconds at most.
const (
	connectBackoffMin = 50 * time.Millisecond
	connectBackoffMax = 5 * time.Second
	// reminderEvery is how many failed attempts pass between warnings,
	// about five minutes once the backoff is capped.
	reminderEvery = 60
)

// retireAfter is how long a client swapped out stays open at least, so
// that raw commands someone sent through Client just before the swap are
// answered; it also waits for the store's own calls on it to end.
const retireAfter = 5 * time.Second

// startConnector starts the background connector unless it runs already.
// s.mu must be held.
func (s *Store) startConnector() {
	if s.connecting || s.closed.Load() {
		return
	}
	s.connecting = true
	s.bg.Add(1)
	go s.connectLoop()
}

// connectLoop tries to connect, with the prefixes in want, until it
// succeeds or Close is called, then swaps the client in. It runs when New
// could not reach Redis, and when Track could not reach it to widen
// tracking.
func (s *Store) connectLoop() {
	defer s.bg.Done()
	delay := connectBackoffMin
	refusedLogged := false
	again := false // Track changed want while connecting: retry at once
	for attempt := 1; ; attempt++ {
		if !again {
			// Full jitter spreads the probes of many instances
			// restarted together.
			wait := delay/2 + rand.N(delay/2+1)
			t := time.NewTimer(wait)
			select {
			case <-s.life.Done():
				t.Stop()
				return
			case <-t.C:
			}
			delay = min(2*delay, connectBackoffMax)
		}
		again = false

		s.mu.Lock()
		want, gen := s.want, s.wantGen
		s.mu.Unlock()
		c, tracking, err := s.newClient(want)
		if err != nil {
			if s.life.Err() != nil {
				return
			}
			// A permanent error (say a password changed while Redis was
			// down) deserves an error record; the store keeps trying, as
			// the server's configuration may change back. Otherwise one
			// reminder every few minutes keeps an outage visible without
			// flooding the log.
			switch {
			case permanent(err) && !refusedLogged:
				refusedLogged = true
				s.log.Error("redisstore: Redis refuses the connection",
					"addr", s.target, "err", err.Error())
			case attempt%reminderEvery == 0:
				s.log.Warn("redisstore: still cannot connect to Redis",
					"addr", s.target, "attempts", attempt, "err", err.Error())
			default:
				s.log.Debug("redisstore: connect attempt failed",
					"addr", s.target, "attempt", attempt, "err", err.Error())
			}
			continue
		}
		s.mu.Lock()
		if s.closed.Load() {
			s.mu.Unlock()
			c.discard()
			return
		}
		if gen != s.wantGen {
			s.mu.Unlock()
			c.discard()
			again = true
			continue
		}
		old := s.conn.Swap(c)
		s.tracking.Store(tracking)
		s.connecting = false
		s.retire(old)
		s.mu.Unlock()
		s.log.Info("redisstore: connected to Redis", "addr", s.target, "mode", string(c.client.Mode()),
			"attempts", attempt, "tracking", tracking, "prefixes", len(want))
		// Nothing could be read before, or the client swapped out did
		// not track every prefix wanted; and Tracking may have changed.
		s.inv.call(nil)
		return
	}
}

// retire closes a client that was swapped out, once the store's calls
// using it are done and retireAfter has passed, or at once when the store
// is closed. Its invalidations are ignored from now on: the client that
// replaced it tracks at least the same keys, or, having no tracking, set
// Tracking to false; the caller reports nil keys in either case. s.mu must
// be held, and old may be nil.
func (s *Store) retire(old *connection) {
	if old == nil {
		return
	}
	old.retired.Store(true)
	if old.users.Load() == 0 {
		old.idleOnce.Do(func() { close(old.idle) })
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		t := time.NewTimer(s.retireAfter)
		defer t.Stop()
		for idle, grace := old.idle, t.C; idle != nil || grace != nil; {
			select {
			case <-idle:
				idle = nil
			case <-grace:
				grace = nil
			case <-s.life.Done():
				idle, grace = nil, nil
			}
		}
		old.client.Close()
	}()
}

// dial is rueidis's DialCtxFn. It dials as rueidis would, and binds the
// connection to the store's lifetime: Close must not wait for a dial or a
// handshake to a hung server, and rueidis.NewClient, which the connector
// runs, takes no context to cancel.
func (s *Store) dial(ctx context.Context, addr string, d *net.Dialer, cfg *tls.Config) (net.Conn, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopDial := context.AfterFunc(s.life, cancel)
	defer stopDial()

	var conn net.Conn
	var err error
	if cfg != nil {
		conn, err = (&tls.Dialer{NetDialer: d, Config: cfg}).DialContext(ctx, s.network, addr)
	} else {
		conn, err = d.DialContext(ctx, s.network, addr)
	}
	if err != nil {
		return nil, err
	}
	lc := &lifeConn{Conn: conn}
	lc.stop = context.AfterFunc(s.life, func() { _ = conn.Close() })
	return lc, nil
}

// lifeConn is a connection that Close of the store closes too. Its own
// Close unregisters that, so reconnections over a long life do not pile up
// registrations.
type lifeConn struct {
	net.Conn
	stop func() bool
}

// Close closes the connection and forgets the store's hold on it.
func (c *lifeConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// permanent reports whether a connection error comes from configuration
// that retrying will not fix: the server answered and refused (wrong
// password, unknown user, no permission, bad database), or TLS could not
// agree or verify. Everything else (refused, reset, timed out, DNS, a
// server still loading) is treated as Redis being unavailable.
func permanent(err error) bool {
	if rerr, ok := rueidis.IsRedisErr(err); ok {
		msg := rerr.Error()
		for _, transient := range []string{"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "MOVED", "ASK"} {
			if strings.HasPrefix(msg, transient) {
				return false
			}
		}
		// A server at maxclients refuses new connections until others go.
		return !strings.Contains(msg, "max number of clients")
	}
	var (
		verifyErr   *tls.CertificateVerificationError
		unknownAuth x509.UnknownAuthorityError
		hostnameErr x509.HostnameError
		invalidCert x509.CertificateInvalidError
		recordErr   tls.RecordHeaderError
		alertErr    tls.AlertError
	)
	return errors.As(err, &verifyErr) || errors.As(err, &unknownAuth) ||
		errors.As(err, &hostnameErr) || errors.As(err, &invalidCert) ||
		errors.As(err, &recordErr) || errors.As(err, &alertErr)
}
