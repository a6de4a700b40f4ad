package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/redistest"
	"github.com/redis/rueidis"
	"go.uber.org/goleak"
)

// waitTimeout bounds how long a test waits for an invalidation that must
// come; they come within a millisecond, so only a broken store waits this
// long.
const waitTimeout = 10 * time.Second

// invRecorder records what a function registered with OnInvalidate is
// called with.
type invRecorder struct {
	mu     sync.Mutex
	keys   map[string]int // how many times each key was reported
	flushs int            // how many times nil keys were reported
	seen   chan struct{}  // signalled after each call
}

func newRecorder() *invRecorder {
	return &invRecorder{keys: map[string]int{}, seen: make(chan struct{}, 1)}
}

// record is the function to register.
func (r *invRecorder) record(keys []string) {
	r.mu.Lock()
	if keys == nil {
		r.flushs++
	}
	for _, k := range keys {
		r.keys[k]++
	}
	r.mu.Unlock()
	select {
	case r.seen <- struct{}{}:
	default:
	}
}

// listen registers r with s until t ends.
func (r *invRecorder) listen(t testing.TB, s *Store) *invRecorder {
	t.Cleanup(s.OnInvalidate(r.record))
	return r
}

func (r *invRecorder) count(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.keys[key]
}

func (r *invRecorder) flushes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.flushs
}

// waitFor waits until cond holds, checking it after every call, and fails
// t if it does not within waitTimeout.
func (r *invRecorder) waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for !cond() {
		select {
		case <-r.seen:
		case <-timer.C:
			t.Fatalf("not reported within %v: %s", waitTimeout, what)
		}
	}
}

// waitKey waits until key has been reported.
func (r *invRecorder) waitKey(t testing.TB, key string) {
	t.Helper()
	r.waitFor(t, "key "+key, func() bool { return r.count(key) > 0 })
}

// waitFlush waits until nil keys have been reported more than before times.
func (r *invRecorder) waitFlush(t testing.TB, before int) {
	t.Helper()
	r.waitFor(t, "nil keys", func() bool { return r.flushes() > before })
}

// trackingPair returns a private server and two stores on it, two
// instances of a service, tracking prefix "ns:" with at most maxConns
// connections each (0 for the default).
func trackingPair(t testing.TB, maxConns int) (srv *redistest.Server, a, b *Store) {
	t.Helper()
	srv = redistest.Start(t)
	o := Options{Addr: srv.Addr(), TrackingPrefixes: []string{"ns:"}, MaxConnections: maxConns}
	a, b = newStore(t, o), newStore(t, o)
	for _, s := range []*Store{a, b} {
		if !s.Tracking() {
			t.Fatal("Tracking() = false on a server that supports it")
		}
	}
	return srv, a, b
}

// TestInvalidations checks which changes are reported, to the store that
// made them and to another one, whoever made them. Each store has one
// pipelined connection, so that each change is reported once and a case
// can wait for the report that follows its setup's; each case uses keys
// of its own.
func TestInvalidations(t *testing.T) {
	t.Parallel()
	srv, a, b := trackingPair(t, 2)
	recA, recB := newRecorder().listen(t, a), newRecorder().listen(t, b)
	ctx := ctxFor(t, 30*time.Second)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	raw := func(args ...string) {
		t.Helper()
		if err := srv.Do(args...).Error(); err != nil && !rueidis.IsRedisNil(err) {
			t.Fatalf("%s: %v", strings.Join(args, " "), err)
		}
	}
	tests := []struct {
		name  string
		setup []string // a raw command run first, whose report is awaited
		do    func(key string)
		more  []string // keys reported besides key
	}{
		{name: "Set through A", do: func(k string) { must(a.Set(ctx, k, []byte("v"), time.Minute)) }},
		{name: "Set through B", do: func(k string) { must(b.Set(ctx, k, []byte("v"), time.Minute)) }},
		{name: "SET by another client", do: func(k string) { raw("SET", k, "x") }},
		{name: "Delete through A", setup: []string{"SET"}, do: func(k string) { _, err := a.Delete(ctx, k); must(err) }},
		{name: "DEL by another client", setup: []string{"SET"}, do: func(k string) { raw("DEL", k) }},
		{name: "UNLINK by another client", setup: []string{"SET"}, do: func(k string) { raw("UNLINK", k) }},
		{name: "PEXPIRE by another client", setup: []string{"SET"}, do: func(k string) { raw("PEXPIRE", k, "60000") }},
		{name: "expiry", setup: []string{"SET", "PX", "200"}, do: func(k string) {
			// PTTL of an expired key removes it, as any access does;
			// the active expiry cycle would too, but later.
			eventually(t, waitTimeout, func() error {
				if n, _ := srv.Do("PTTL", k).AsInt64(); n != -2 {
					return fmt.Errorf("PTTL = %d, want -2", n)
				}
				return nil
			})
		}},
		{name: "CompareAndSwap through A", setup: []string{"SET"}, do: func(k string) {
			ok, err := a.CompareAndSwap(ctx, k, []byte("v0"), []byte("v1"), time.Minute)
			must(err)
			if !ok {
				t.Fatal("CompareAndSwap did not swap")
			}
		}},
		{name: "SetMany through A", do: func(k string) {
			must(a.SetMany(ctx, []driver.Item{{Key: k, Value: []byte("1"), TTL: time.Minute}, {Key: k + ":2", Value: []byte("2"), TTL: time.Minute}}))
		}, more: []string{":2"}},
		{name: "Clear through A", setup: []string{"SET"}, do: func(k string) { _, err := a.Clear(ctx, k+"*"); must(err) }},
		{name: "RENAME by another client", setup: []string{"SET"}, do: func(k string) { raw("RENAME", k, k+":new") }, more: []string{":new"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "ns:" + strconv.Itoa(i)
			if tt.setup != nil {
				args := append([]string{tt.setup[0], key, "v0"}, tt.setup[1:]...)
				raw(args...)
				recA.waitKey(t, key)
				recB.waitKey(t, key)
			}
			before := [2]int{recA.count(key), recB.count(key)}
			tt.do(key)
			for j, rec := range []*invRecorder{recA, recB} {
				rec.waitFor(t, key, func() bool { return rec.count(key) > before[j] })
				for _, m := range tt.more {
					rec.waitKey(t, key+m)
				}
			}
		})
	}

	// A change outside the prefix is not reported. Redis reports changes
	// on each connection in order, so once a later change inside the
	// prefix has been reported, one outside it would have been too.
	t.Run("outside the prefix", func(t *testing.T) {
		must(a.Set(ctx, "other:k", []byte("v"), time.Minute))
		raw("SET", "nsx:k", "v")
		raw("DEL", "other:k")
		raw("SET", "ns:marker", "v")
		for _, rec := range []*invRecorder{recA, recB} {
			rec.waitKey(t, "ns:marker")
			for _, k := range []string{"other:k", "nsx:k"} {
				if n := rec.count(k); n != 0 {
					t.Errorf("%s reported %d times, want never", k, n)
				}
			}
		}
	})

	t.Run("flush", func(t *testing.T) {
		for _, cmd := range [][]string{{"FLUSHDB"}, {"FLUSHALL"}, {"FLUSHDB", "ASYNC"}} {
			before := [2]int{recA.flushes(), recB.flushes()}
			raw(cmd...)
			recA.waitFlush(t, before[0])
			recB.waitFlush(t, before[1])
		}
	})
}

// invalidationProbe tells, for one write at a time through a, when b was
// told of its key.
type invalidationProbe struct {
	a    *Store
	mu   sync.Mutex
	want string
	got  chan time.Time
}

func newInvalidationProbe(tb testing.TB, a, b *Store) *invalidationProbe {
	p := &invalidationProbe{a: a, got: make(chan time.Time, 1)}
	tb.Cleanup(b.OnInvalidate(func(keys []string) {
		now := time.Now()
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.want != "" && slices.Contains(keys, p.want) {
			p.want = "" // later copies from other connections are ignored
			select {
			case p.got <- now:
			default: // a late report of a trial that already failed
			}
		}
	}))
	return p
}

// write sets key through a and waits up to waitTimeout for b to be told.
// It returns when the write was made and returned, and when b was told
// (zero if it was not).
func (p *invalidationProbe) write(ctx context.Context, key string) (sent, returned, told time.Time, err error) {
	p.mu.Lock()
	p.want = key
	p.mu.Unlock()
	sent = time.Now()
	if err := p.a.Set(ctx, key, []byte("value"), time.Minute); err != nil {
		return sent, time.Time{}, time.Time{}, err
	}
	returned = time.Now()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	select {
	case told = <-p.got:
	case <-timer.C:
	}
	return sent, returned, told, nil
}

// TestInvalidationDelivery: each of 10,000 writes through one instance is
// reported to the other, one at a time: the delivery half of "after a
// write through A returns, B's next read sees the new value within 50 ms
// in 100 % of 10,000 trials". How soon is BenchmarkInvalidationLatency's
// figure. Not parallel, as it writes 10,000 keys in a row.
func TestInvalidationDelivery(t *testing.T) {
	const trials = 10000
	_, a, b := trackingPair(t, 0)
	p := newInvalidationProbe(t, a, b)
	ctx := ctxFor(t, 5*time.Minute)
	var worst time.Duration
	for i := range trials {
		key := "ns:lat:" + strconv.Itoa(i)
		_, returned, told, err := p.write(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if told.IsZero() {
			t.Fatalf("trial %d: B was not told of %s within %v", i, key, waitTimeout)
		}
		worst = max(worst, told.Sub(returned))
	}
	t.Logf("%d writes, each reported to the other instance; the slowest report came %v after its write returned", trials, worst)
}

// BenchmarkInvalidationLatency is TestInvalidationDelivery for its
// latency: each op is one write through a and the wait for b to be told.
// It reports the time from the write returning to b being told (p50, p99,
// p99.9, max; a report before the write returned counts as 0), the share
// of writes over the 50 ms (late/op, the bound is 0), and the p99
// from the write being made:
//
//	go test -run '^$' -bench InvalidationLatency -benchtime 10000x .
func BenchmarkInvalidationLatency(b *testing.B) {
	_, a, c := trackingPair(b, 0)
	p := newInvalidationProbe(b, a, c)
	ctx := ctxFor(b, time.Hour)
	lat := make([]time.Duration, 0, b.N)   // from the write returning
	total := make([]time.Duration, 0, b.N) // from the write being made
	late := 0
	b.ResetTimer()
	for i := range b.N {
		key := "ns:lat:" + strconv.Itoa(i)
		sent, returned, told, err := p.write(ctx, key)
		if err != nil {
			b.Fatal(err)
		}
		if told.IsZero() {
			b.Fatalf("trial %d: B was not told of %s within %v", i, key, waitTimeout)
		}
		total = append(total, told.Sub(sent))
		d := max(told.Sub(returned), 0)
		if d > 50*time.Millisecond {
			late++
		}
		lat = append(lat, d)
	}
	b.StopTimer()
	slices.Sort(lat)
	slices.Sort(total)
	q := func(d []time.Duration, f float64) float64 { return float64(d[int(f*float64(len(d)-1))].Nanoseconds()) }
	b.ReportMetric(q(lat, 0.5), "p50-ns")
	b.ReportMetric(q(lat, 0.99), "p99-ns")
	b.ReportMetric(q(lat, 0.999), "p99.9-ns")
	b.ReportMetric(q(lat, 1), "max-ns")
	b.ReportMetric(float64(late)/float64(b.N), "late/op")
	b.ReportMetric(q(total, 0.99), "p99-from-sent-ns")
}

// TestInvalidationsAcrossOutages checks that a store reports nil keys
// when its connection drops, and that invalidations flow again once the
// server is back; a server that only hangs for a moment loses nothing.
// Not parallel: it kills and pauses its server.
func TestInvalidationsAcrossOutages(t *testing.T) {
	srv, a, b := trackingPair(t, 0)
	recA, recB := newRecorder().listen(t, a), newRecorder().listen(t, b)
	ctx := ctxFor(t, 30*time.Second)
	if err := a.Set(ctx, "ns:before", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	recB.waitKey(t, "ns:before")

	t.Run("kill and restart", func(t *testing.T) {
		before := [2]int{recA.flushes(), recB.flushes()}
		srv.Kill()
		recA.waitFlush(t, before[0])
		recB.waitFlush(t, before[1])
		if !a.Tracking() {
			t.Error("Tracking() = false during an outage, want true: the outage was reported")
		}
		srv.Restart()
		// rueidis reconnects when the store is next used; a tier reads
		// through the store after it dropped everything.
		for _, s := range []*Store{a, b} {
			eventually(t, 10*time.Second, func() error { return s.Ping(ctx) })
		}
		if err := srv.Do("SET", "ns:after-restart", "x").Error(); err != nil {
			t.Fatal(err)
		}
		recA.waitKey(t, "ns:after-restart")
		recB.waitKey(t, "ns:after-restart")
	})

	t.Run("pause and resume", func(t *testing.T) {
		before := [2]int{recA.flushes(), recB.flushes()}
		srv.Pause()
		done := make(chan error, 1)
		go func() { done <- srv.Do("SET", "ns:during-pause", "x").Error() }()
		// The scenario, not a proof: the server hangs for a moment, a
		// write waiting on it, well below the time after which rueidis
		// gives up on a connection.
		time.Sleep(100 * time.Millisecond)
		srv.Resume()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		recA.waitKey(t, "ns:during-pause")
		recB.waitKey(t, "ns:during-pause")
		if n := recA.flushes() - before[0]; n != 0 {
			t.Errorf("a short pause reported nil keys %d times, want none", n)
		}
	})
}

// TestInvalidationsOnConnect starts a tracking store before its server:
// it reports no tracking until it connects, then nil keys, then changes.
func TestInvalidationsOnConnect(t *testing.T) {
	t.Parallel()
	port := redistest.FreePort(t)
	s := newStore(t, Options{Addr: "127.0.0.1:" + strconv.Itoa(port), TrackingPrefixes: []string{"ns:"}})
	rec := newRecorder().listen(t, s)
	if s.Tracking() {
		t.Error("Tracking() = true before connecting")
	}
	srv := redistest.Start(t, redistest.WithPort(port))
	rec.waitFlush(t, 0)
	if !s.Tracking() {
		t.Error("Tracking() = false after connecting")
	}
	eventually(t, 10*time.Second, func() error { return s.Ping(ctxFor(t, time.Second)) })
	if err := srv.Do("SET", "ns:k", "x").Error(); err != nil {
		t.Fatal(err)
	}
	rec.waitKey(t, "ns:k")
}

// TestTrackingUnavailable checks that a store whose server cannot track
// keys works without invalidations and says so.
func TestTrackingUnavailable(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	noHello := redistest.Start(t, redistest.WithArgs("--rename-command", "HELLO", ""))
	if err := srv.Do("ACL", "SETUSER", "notrack", "on", ">notrack-pw-7", "~*", "+@all", "-client|tracking").Error(); err != nil {
		t.Fatal(err)
	}
	prefixes := []string{"ns:"}
	tests := []struct {
		name     string
		srv      *redistest.Server
		opts     Options
		wantWarn bool
	}{
		{name: "no prefixes", srv: srv, opts: Options{Addr: srv.Addr()}},
		{name: "RESP2 asked by the URL", srv: srv, opts: Options{URL: "redis://" + srv.Addr() + "?protocol=2", TrackingPrefixes: prefixes}, wantWarn: true},
		{name: "server without RESP3", srv: noHello, opts: Options{Addr: noHello.Addr(), TrackingPrefixes: prefixes}, wantWarn: true},
		{name: "user without CLIENT TRACKING", srv: srv, opts: Options{Addr: srv.Addr(), Username: "notrack", Password: "notrack-pw-7", TrackingPrefixes: prefixes}, wantWarn: true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs logBuffer
			tt.opts.Logger = newLogger(&logs)
			tt.opts.ClientName = "unavailable-" + strconv.Itoa(i)
			s := newStore(t, tt.opts)
			newRecorder().listen(t, s)
			roundTrip(t, s)
			if s.Tracking() {
				t.Error("Tracking() = true, want false")
			}
			warned := logs.count("WARN") == 1 && strings.Contains(logs.String(), "refuses client tracking")
			if warned != tt.wantWarn || logs.count("WARN") > 1 {
				t.Errorf("warned about tracking: %v, want %v:\n%s", warned, tt.wantWarn, logs.String())
			}
			if strings.Contains(logs.String(), "notrack-pw-7") {
				t.Errorf("the password was logged:\n%s", logs.String())
			}
			for _, flags := range trackingFlags(t, tt.srv, tt.opts.ClientName) {
				if flags != "" {
					t.Errorf("a connection of the store has tracking flags %q, want none", flags)
				}
			}
		})
	}
}

// trackingFlags returns the client-tracking flags (t, B) of each
// connection named name on srv: "tB" for broadcasting tracking, "" for
// none.
func trackingFlags(t *testing.T, srv *redistest.Server, name string) []string {
	t.Helper()
	list, err := srv.Do("CLIENT", "LIST").ToString()
	if err != nil {
		t.Fatal(err)
	}
	var flags []string
	for line := range strings.Lines(list) {
		if !strings.Contains(line, " name="+name+" ") {
			continue
		}
		for f := range strings.FieldsSeq(line) {
			if v, ok := strings.CutPrefix(f, "flags="); ok {
				flags = append(flags, strings.Map(func(r rune) rune {
					if r == 't' || r == 'B' {
						return r
					}
					return -1
				}, v))
			}
		}
	}
	if len(flags) == 0 {
		t.Fatalf("no connection named %s", name)
	}
	return flags
}

// TestTrackingRefusedLater revokes the store's right to CLIENT TRACKING
// and drops its connections: the store must reconnect without tracking
// rather than fail every call, report nil keys and say so.
func TestTrackingRefusedLater(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	if err := srv.Do("ACL", "SETUSER", "app", "on", ">pw", "~*", "+@all").Error(); err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	s := newStore(t, Options{Addr: srv.Addr(), Username: "app", Password: "pw", ClientName: "later",
		TrackingPrefixes: []string{"ns:"}, Logger: newLogger(&logs)})
	rec := newRecorder().listen(t, s)
	if !s.Tracking() {
		t.Fatal("Tracking() = false")
	}
	roundTrip(t, s)
	for _, flags := range trackingFlags(t, srv, "later") {
		if flags != "tB" {
			t.Fatalf("a connection has tracking flags %q, want tB", flags)
		}
	}

	before := rec.flushes()
	for _, cmd := range [][]string{{"ACL", "SETUSER", "app", "-client|tracking"}, {"CLIENT", "KILL", "USER", "app"}} {
		if err := srv.Do(cmd...).Error(); err != nil {
			t.Fatal(err)
		}
	}
	rec.waitFlush(t, before)
	eventually(t, 10*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := s.Set(ctx, "ns:k", []byte("v"), time.Minute); err != nil {
			return err
		}
		if s.Tracking() {
			return errors.New("Tracking() is still true")
		}
		return nil
	})
	roundTrip(t, s)
	for _, flags := range trackingFlags(t, srv, "later") {
		if flags != "" {
			t.Errorf("a connection has tracking flags %q after the refusal, want none", flags)
		}
	}
	if !strings.Contains(logs.String(), "refuses client tracking") {
		t.Errorf("the refusal was not logged:\n%s", logs.String())
	}
}

// TestOnInvalidateRegistration checks fan-out, cancel and Close.
func TestOnInvalidateRegistration(t *testing.T) {
	srv, a, _ := trackingPair(t, 0)
	ctx := ctxFor(t, 30*time.Second)
	set := func(key string) {
		t.Helper()
		if err := a.Set(ctx, key, []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("fan-out and cancel", func(t *testing.T) {
		kept, dropped := newRecorder(), newRecorder()
		cancelKept := a.OnInvalidate(kept.record)
		defer cancelKept()
		cancel := a.OnInvalidate(dropped.record)
		set("ns:both")
		kept.waitKey(t, "ns:both")
		dropped.waitKey(t, "ns:both")
		cancel()
		cancel() // a second call does nothing
		// Both functions are called in turn for each report, so once
		// the kept one has seen the key the cancelled one would have.
		set("ns:one")
		kept.waitKey(t, "ns:one")
		if n := dropped.count("ns:one"); n != 0 {
			t.Errorf("a cancelled function was called %d times", n)
		}
	})

	t.Run("nil function", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("OnInvalidate(nil) did not panic")
			}
		}()
		a.OnInvalidate(nil)
	})

	t.Run("close", func(t *testing.T) {
		// No goroutine started from here on may outlive Close.
		others := goleak.IgnoreCurrent()
		s := newStore(t, Options{Addr: srv.Addr(), TrackingPrefixes: []string{"ns:"}})
		// Open several connections, each of which reports its closing.
		items := make([]driver.Item, 2500)
		for i := range items {
			items[i] = driver.Item{Key: "ns:close:" + strconv.Itoa(i), Value: []byte("v"), TTL: time.Minute}
		}
		if err := s.SetMany(ctx, items); err != nil {
			t.Fatal(err)
		}
		var (
			closed  atomic.Bool
			late    atomic.Int32
			entered = make(chan struct{}, 1)
			release = make(chan struct{})
		)
		s.OnInvalidate(func(keys []string) {
			if closed.Load() {
				late.Add(1)
			}
			if slices.Contains(keys, "ns:block") {
				// Reported once per connection; the first report is
				// enough to know a call is in progress.
				select {
				case entered <- struct{}{}:
				default:
				}
				<-release
			}
		})
		if err := srv.Do("SET", "ns:block", "x").Error(); err != nil {
			t.Fatal(err)
		}
		<-entered
		closeDone := make(chan struct{})
		go func() {
			_ = s.Close()
			closed.Store(true)
			close(closeDone)
		}()
		select {
		case <-closeDone:
			t.Fatal("Close returned while a registered function was running")
		case <-time.After(50 * time.Millisecond):
		}
		close(release)
		<-closeDone
		if err := goleak.Find(append(redistest.LeakOptions(), others)...); err != nil {
			t.Fatalf("goroutines left after Close: %v", err)
		}
		if n := late.Load(); n != 0 {
			t.Errorf("called %d times after Close returned", n)
		}
		if s.Tracking() {
			t.Error("Tracking() = true after Close")
		}
		after := newRecorder()
		s.OnInvalidate(after.record)() // registers nothing, cancels nothing
	})
}

// TestNoClientSideCopies checks that rueidis keeps no values of its own
// when tracking is on: a DoCache through Client of a key outside the
// tracked prefix, which is never invalidated, must still see a change.
func TestNoClientSideCopies(t *testing.T) {
	t.Parallel()
	srv, a, _ := trackingPair(t, 0)
	ctx := ctxFor(t, 10*time.Second)
	c := a.Client()
	for _, want := range []string{"1", "2"} {
		if err := srv.Do("SET", "other:k", want).Error(); err != nil {
			t.Fatal(err)
		}
		got, err := c.DoCache(ctx, c.B().Get().Key("other:k").Cache(), time.Minute).ToString()
		if err != nil || got != want {
			t.Fatalf("DoCache = %q, %v; want %q from the server", got, err, want)
		}
	}
}

// TestTrackingPrefixesOptions checks the validation of TrackingPrefixes and
// the CLIENT TRACKING arguments they give.
func TestTrackingPrefixesOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		prefixes []string
		want     string // CLIENT TRACKING ON arguments; "" for invalid options
	}{
		{name: "none", want: "-"},
		{name: "one", prefixes: []string{"ns:"}, want: "BCAST PREFIX ns:"},
		{name: "two", prefixes: []string{"a:", "b:"}, want: "BCAST PREFIX a: PREFIX b:"},
		{name: "every key", prefixes: []string{""}, want: "BCAST"},
		{name: "empty and another", prefixes: []string{"", "a:"}},
		{name: "nested", prefixes: []string{"a:", "a:b:"}},
		{name: "nested reversed", prefixes: []string{"a:b:", "a:"}},
		{name: "twice", prefixes: []string{"a:", "b:", "a:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{Addr: "h:1", TrackingPrefixes: tt.prefixes}
			err := o.validate()
			if tt.want == "" {
				if !errors.Is(err, driver.ErrInvalidOptions) || !strings.Contains(err.Error(), "TrackingPrefixes") {
					t.Fatalf("validate() = %v, want an error about TrackingPrefixes", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			copt, err := o.clientOption()
			if err != nil {
				t.Fatal(err)
			}
			// Tracking is added per client, for the prefixes wanted then.
			if !copt.DisableCache || copt.ClientTrackingOptions != nil {
				t.Errorf("base options: DisableCache=%v ClientTrackingOptions=%q, want tracking off", copt.DisableCache, copt.ClientTrackingOptions)
			}
			if tt.want == "-" {
				return
			}
			copt = tracked(copt, o.TrackingPrefixes, func([]rueidis.RedisMessage) {})
			if got := strings.Join(copt.ClientTrackingOptions, " "); copt.DisableCache || got != tt.want {
				t.Errorf("DisableCache=%v ClientTrackingOptions=%q, want false and %q", copt.DisableCache, got, tt.want)
			}
			if copt.NewCacheStoreFn == nil {
				t.Error("rueidis would keep its own cache")
			}
		})
	}
}
