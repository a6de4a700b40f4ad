package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/redistest"
)

// trackedPrefixes returns the prefixes the server tracks for one of s's
// connections, sorted, as CLIENT TRACKINGINFO reports them.
func trackedPrefixes(t *testing.T, s *Store) []string {
	t.Helper()
	c := s.Client()
	if c == nil {
		t.Fatal("Client() = nil")
	}
	m, err := c.Do(ctxFor(t, 10*time.Second), c.B().ClientTrackinginfo().Build()).AsMap()
	if err != nil {
		t.Fatal(err)
	}
	v := m["prefixes"]
	prefixes, err := v.AsStrSlice()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(prefixes)
	return prefixes
}

// mustTrack calls Track and fails t unless it succeeds and Tracking then
// reports true.
func mustTrack(t *testing.T, s *Store, prefix string) {
	t.Helper()
	if err := s.Track(prefix); err != nil {
		t.Fatalf("Track(%q): %v", prefix, err)
	}
	if !s.Tracking() {
		t.Fatalf("Tracking() = false after Track(%q)", prefix)
	}
}

// assertOnlyReported writes each key in outside and then marker with
// SET on srv, waits for marker, and checks that no key in outside was
// reported. The server reports changes on each connection in order, so
// once marker has been reported the earlier ones would have been too.
func assertOnlyReported(t *testing.T, srv *redistest.Server, rec *invRecorder, marker string, outside ...string) {
	t.Helper()
	for _, k := range append(outside, marker) {
		if err := srv.Do("SET", k, "v").Error(); err != nil {
			t.Fatal(err)
		}
	}
	rec.waitKey(t, marker)
	for _, k := range outside {
		if n := rec.count(k); n != 0 {
			t.Errorf("%s reported %d times, want never", k, n)
		}
	}
}

// TestTrack builds the store as the README's library path does, without
// tracking prefixes, and registers a namespace the way a Cache does: its
// keys are then reported, whoever changes them, and no others.
func TestTrack(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	// One pipelined connection, so that reports come in order.
	s := newStore(t, Options{Addr: srv.Addr(), ClientName: "track", MaxConnections: 2})
	s.retireAfter = 0 // the old client closes as soon as it is idle
	other := newStore(t, Options{Addr: srv.Addr()})
	rec := newRecorder().listen(t, s)
	if s.Tracking() {
		t.Fatal("Tracking() = true without a prefix")
	}
	roundTrip(t, s) // a client to replace that has been used
	oldClient := s.Client()

	mustTrack(t, s, "ns:")
	if n := rec.flushes(); n != 1 {
		t.Errorf("nil keys reported %d times by Track, want 1", n)
	}
	if s.Client() == oldClient {
		t.Error("Track kept the client that does not track")
	}
	if got := trackedPrefixes(t, s); !slices.Equal(got, []string{"ns:"}) {
		t.Errorf("the server tracks %q, want [ns:]", got)
	}

	ctx := ctxFor(t, 30*time.Second)
	if err := other.Set(ctx, "ns:by-other-store", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	rec.waitKey(t, "ns:by-other-store")
	if err := s.Set(ctx, "ns:by-itself", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	rec.waitKey(t, "ns:by-itself")
	assertOnlyReported(t, srv, rec, "ns:x", "other:k", "nsx:k", "ns")

	// The replaced client is closed: every connection left has tracking.
	eventually(t, 10*time.Second, func() error {
		for _, flags := range trackingFlags(t, srv, "track") {
			if flags != "tB" {
				return fmt.Errorf("a connection has tracking flags %q, want tB", flags)
			}
		}
		return nil
	})
}

// TestTrackOverlapping checks prefixes that overlap, which Redis refuses
// on one connection: one covered by a tracked prefix changes nothing, one
// that covers tracked prefixes replaces them.
func TestTrackOverlapping(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := newStore(t, Options{Addr: srv.Addr(), MaxConnections: 2})
	s.retireAfter = 0
	rec := newRecorder().listen(t, s)

	mustTrack(t, s, "ns:")
	client, flushes := s.Client(), rec.flushes()
	for _, p := range []string{"ns:", "ns:x:", "ns:x:y"} {
		mustTrack(t, s, p)
		if s.Client() != client || rec.flushes() != flushes {
			t.Fatalf("Track(%q) of a covered prefix reconnected", p)
		}
	}
	if got := trackedPrefixes(t, s); !slices.Equal(got, []string{"ns:"}) {
		t.Fatalf("the server tracks %q, want [ns:]", got)
	}

	mustTrack(t, s, "n")
	if got := trackedPrefixes(t, s); !slices.Equal(got, []string{"n"}) {
		t.Fatalf("the server tracks %q, want [n]", got)
	}
	// The replaced client closes, as it is idle; its connections' closing
	// is not reported, as the new client has missed nothing.
	eventually(t, 10*time.Second, func() error {
		if err := client.Do(context.Background(), client.B().Ping().Build()).Error(); err == nil {
			return errors.New("the replaced client still answers")
		}
		return nil
	})
	assertOnlyReported(t, srv, rec, "nz:k", "m:k")
	assertOnlyReported(t, srv, rec, "ns:x:1", "o:k")
	if rec.flushes() != flushes+1 {
		t.Errorf("nil keys reported %d times by a widening Track, want 1", rec.flushes()-flushes)
	}

	t.Run("beside configured prefixes", func(t *testing.T) {
		s := newStore(t, Options{Addr: srv.Addr(), MaxConnections: 2, TrackingPrefixes: []string{"a:", "b:"}})
		rec := newRecorder().listen(t, s)
		mustTrack(t, s, "a:1:")
		mustTrack(t, s, "c:")
		if got := trackedPrefixes(t, s); !slices.Equal(got, []string{"a:", "b:", "c:"}) {
			t.Fatalf("the server tracks %q, want [a: b: c:]", got)
		}
		for _, k := range []string{"a:k", "b:k"} {
			if err := srv.Do("SET", k, "v").Error(); err != nil {
				t.Fatal(err)
			}
			rec.waitKey(t, k)
		}
		assertOnlyReported(t, srv, rec, "c:k", "d:k")

		mustTrack(t, s, "") // every key
		if got := trackedPrefixes(t, s); !slices.Equal(got, []string{""}) {
			t.Fatalf("the server tracks %q, want [\"\"]", got)
		}
		assertOnlyReported(t, srv, rec, "d:k")
	})
}

// TestTrackBeforeConnect registers prefixes with a store whose server is
// not up yet: they are tracked once it connects.
func TestTrackBeforeConnect(t *testing.T) {
	t.Parallel()
	port := redistest.FreePort(t)
	s := newStore(t, Options{Addr: "127.0.0.1:" + strconv.Itoa(port), MaxConnections: 2})
	rec := newRecorder().listen(t, s)
	for _, p := range []string{"ns:", "m:", "ns:a:"} {
		if err := s.Track(p); err != nil {
			t.Fatalf("Track(%q) before connecting: %v", p, err)
		}
	}
	if s.Tracking() {
		t.Error("Tracking() = true before connecting")
	}
	srv := redistest.Start(t, redistest.WithPort(port))
	rec.waitFlush(t, 0)
	if !s.Tracking() {
		t.Fatal("Tracking() = false after connecting")
	}
	if got := trackedPrefixes(t, s); !slices.Equal(got, []string{"m:", "ns:"}) {
		t.Fatalf("the server tracks %q, want [m: ns:]", got)
	}
	if err := srv.Do("SET", "m:k", "v").Error(); err != nil {
		t.Fatal(err)
	}
	rec.waitKey(t, "m:k")
	assertOnlyReported(t, srv, rec, "ns:k", "other:k")
}

// TestTrackWhileUnreachable widens tracking while the server is down:
// Track leaves it to the background connector, and Tracking is false
// until the new prefix is tracked. Not parallel: it kills its server.
func TestTrackWhileUnreachable(t *testing.T) {
	srv := redistest.Start(t)
	s := newStore(t, Options{Addr: srv.Addr(), MaxConnections: 2, TrackingPrefixes: []string{"a:"}})
	rec := newRecorder().listen(t, s)
	if !s.Tracking() {
		t.Fatal("Tracking() = false")
	}
	srv.Kill()
	rec.waitFlush(t, 0) // the connection closed
	before := rec.flushes()
	if err := s.Track("b:"); err != nil {
		t.Fatalf("Track while the server is down: %v", err)
	}
	if s.Tracking() {
		t.Error("Tracking() = true while b: waits for the server")
	}
	if rec.flushes() != before+1 {
		t.Errorf("nil keys reported %d times as Tracking turned false, want 1", rec.flushes()-before)
	}
	before = rec.flushes()
	srv.Restart()
	rec.waitFor(t, "Tracking() = true", func() bool { return rec.flushes() > before && s.Tracking() })
	if got := trackedPrefixes(t, s); !slices.Equal(got, []string{"a:", "b:"}) {
		t.Fatalf("the server tracks %q, want [a: b:]", got)
	}
	if err := srv.Do("SET", "a:k", "v").Error(); err != nil {
		t.Fatal(err)
	}
	rec.waitKey(t, "a:k")
	assertOnlyReported(t, srv, rec, "b:k", "c:k")
}

// TestTrackRefused checks that Track reports a server that cannot track
// as an error, and that the store goes on working without tracking.
func TestTrackRefused(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	noHello := redistest.Start(t, redistest.WithArgs("--rename-command", "HELLO", ""))
	if err := srv.Do("ACL", "SETUSER", "notrack", "on", ">notrack-pw-8", "~*", "+@all", "-client|tracking").Error(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		srv  *redistest.Server
		opts Options
	}{
		{name: "RESP2 asked by the URL", srv: srv, opts: Options{URL: "redis://" + srv.Addr() + "?protocol=2"}},
		{name: "server without RESP3", srv: noHello, opts: Options{Addr: noHello.Addr()}},
		{name: "user without CLIENT TRACKING", srv: srv, opts: Options{Addr: srv.Addr(), Username: "notrack", Password: "notrack-pw-8"}},
		{name: "user without CLIENT TRACKING, with prefixes", srv: srv,
			opts: Options{Addr: srv.Addr(), Username: "notrack", Password: "notrack-pw-8", TrackingPrefixes: []string{"ns:"}}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.ClientName = "refused-" + strconv.Itoa(i)
			s := newStore(t, tt.opts)
			rec := newRecorder().listen(t, s)
			roundTrip(t, s)
			client := s.Client()
			// "ns:" is covered when the options give it, "other:" never.
			for _, p := range []string{"ns:", "other:"} {
				err := s.Track(p)
				if !errors.Is(err, ErrTrackingRefused) {
					t.Fatalf("Track(%q) = %v, want an error wrapping ErrTrackingRefused", p, err)
				}
				if strings.Contains(err.Error(), "notrack-pw-8") {
					t.Errorf("the error holds the password: %v", err)
				}
			}
			if s.Tracking() {
				t.Error("Tracking() = true")
			}
			if s.Client() != client || rec.flushes() != 0 {
				t.Error("a refused Track replaced the client")
			}
			roundTrip(t, s)
			for _, flags := range trackingFlags(t, tt.srv, tt.opts.ClientName) {
				if flags != "" {
					t.Errorf("a connection has tracking flags %q, want none", flags)
				}
			}
		})
	}
}

// TestTrackAfterClose checks that Track fails once the store is closed,
// connected or not.
func TestTrackAfterClose(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	for _, addr := range []string{srv.Addr(), "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t))} {
		s := newStore(t, Options{Addr: addr})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Track("ns:"); !errors.Is(err, driver.ErrClosed) {
			t.Errorf("Track after Close (%s) = %v, want an error wrapping ErrClosed", addr, err)
		}
		if s.Tracking() {
			t.Error("Tracking() = true after Close")
		}
	}
}

// TestTrackConcurrent registers prefixes from several goroutines while
// others use the store: every prefix ends up tracked, and no call fails
// as its client is replaced under it.
func TestTrackConcurrent(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := newStore(t, Options{Addr: srv.Addr()})
	s.retireAfter = 0 // only the calls on a replaced client keep it open
	rec := newRecorder().listen(t, s)
	ctx := ctxFor(t, time.Minute)
	const tracks = 8
	stop := make(chan struct{})
	var (
		users sync.WaitGroup
		mu    sync.Mutex
		fails []error
		calls int
	)
	for u := range 4 {
		users.Add(1)
		go func() {
			defer users.Done()
			key := "use:" + strconv.Itoa(u)
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				err := s.Set(ctx, key, []byte(strconv.Itoa(n)), time.Minute)
				if err == nil {
					_, err = s.Get(ctx, key)
				}
				if err == nil && n%50 == 0 {
					// A call that walks the keyspace, holding its client
					// for many round trips.
					_, err = s.Count(ctx, "use:*")
				}
				mu.Lock()
				calls++
				if err != nil {
					fails = append(fails, err)
				}
				mu.Unlock()
			}
		}()
	}
	var trackers sync.WaitGroup
	errs := make([]error, tracks)
	for i := range tracks {
		trackers.Add(1)
		go func() {
			defer trackers.Done()
			errs[i] = s.Track("p" + strconv.Itoa(i) + ":")
		}()
	}
	trackers.Wait()
	close(stop)
	users.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Track(p%d:): %v", i, err)
		}
	}
	t.Logf("%d calls while tracking was widened", calls)
	if len(fails) > 0 {
		t.Errorf("%d of %d calls failed while tracking was widened, first: %v", len(fails), calls, fails[0])
	}
	if !s.Tracking() {
		t.Fatal("Tracking() = false")
	}
	want := make([]string, tracks)
	for i := range want {
		want[i] = "p" + strconv.Itoa(i) + ":"
	}
	slices.Sort(want)
	if got := trackedPrefixes(t, s); !slices.Equal(got, want) {
		t.Fatalf("the server tracks %q, want %q", got, want)
	}
	for _, p := range want {
		if err := srv.Do("SET", p+"k", "v").Error(); err != nil {
			t.Fatal(err)
		}
		rec.waitKey(t, p+"k")
	}
}

// TestTrackKeepsCallsOnOldClient checks that a call holding the client
// Track replaces finishes there: the client is closed only once the call
// is done.
func TestTrackKeepsCallsOnOldClient(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := newStore(t, Options{Addr: srv.Addr()})
	s.retireAfter = 0
	old, err := s.current("test")
	if err != nil {
		t.Fatal(err)
	}
	mustTrack(t, s, "ns:")
	if s.Client() == old.client {
		t.Fatal("Track did not replace the client")
	}
	ctx := ctxFor(t, 10*time.Second)
	for range 3 {
		if err := old.client.Do(ctx, old.client.B().Ping().Build()).Error(); err != nil {
			t.Fatalf("a call on the replaced client while in use: %v", err)
		}
	}
	old.release()
	eventually(t, 10*time.Second, func() error {
		if err := old.client.Do(context.Background(), old.client.B().Ping().Build()).Error(); err == nil {
			return errors.New("the replaced client still answers once idle")
		}
		return nil
	})
}
