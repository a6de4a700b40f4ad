package larder_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/redistest"
	"github.com/larderhq/larder/internal/storetest"
	"github.com/larderhq/larder/memstore"
	"github.com/larderhq/larder/redisstore"
)

// The stampede line of the issue: 1,000 concurrent Fetches of a cold key
// with a 100 ms loader cause exactly one load in one process, at most one
// across four processes sharing Redis, and the waiters' p99 is at most
// 150 ms.
//
// The tests assert the loads; the p99 is a wall-clock figure, which a
// loaded machine decides as much as the code, so the benchmarks report it
// (p99-ns, and p99/load: the bound is 1.5 loads):
//
//	go test -run '^$' -bench 'Stampede' -benchtime 5x .
const (
	stampedeLoad      = 100 * time.Millisecond
	stampedeCallers   = 1000
	stampedeProcesses = 4
	// stampedeBudget is the store's time budget in these tests. With the
	// default 50 ms, a burst of 1,000 reads on a loaded two-core test
	// machine (under -race, beside redis-server and the other processes)
	// can exceed it; the cache then fails open and loads without a lease,
	// by design, which is not what this line measures.
	stampedeBudget = time.Second
)

// Environment of a TestStampedeChild process.
const (
	stampedeEnvAddr    = "LARDER_STAMPEDE_REDIS_ADDR"
	stampedeEnvKey     = "LARDER_STAMPEDE_KEY"
	stampedeEnvCallers = "LARDER_STAMPEDE_CALLERS"
)

// Lines a child prints on its standard output.
const (
	stampedeReady  = "stampede-ready"
	stampedeResult = "stampede-result "
)

// stampedeReport is what one child process measured.
type stampedeReport struct {
	Loads      int64   `json:"loads"`
	StatsLoads uint64  `json:"stats_loads"`
	Fills      uint64  `json:"fills"`
	LeaseWaits uint64  `json:"lease_waits"`
	StoreFails uint64  `json:"store_fails"` // errors, timeouts and rejections
	Dropped    uint64  `json:"fills_dropped"`
	Released   int64   `json:"released_unix_ns"`
	LoadBegan  int64   `json:"load_began_unix_ns,omitempty"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Latencies  []int64 `json:"latencies_us"`
}

// stampede parks n callers of Fetch(key), calls release (which returns
// when it is time to go), releases them together, and returns when was
// that, each call's latency (from its own start) and the number of calls
// that failed or returned a wrong value.
func stampede(c *larder.Cache, key string, n int, load func(context.Context) (user, error), release func()) (released time.Time, lat []time.Duration, bad int, firstErr error) {
	ctx := context.Background()
	lat = make([]time.Duration, n)
	start := make(chan struct{})
	var mu sync.Mutex
	var parked, done sync.WaitGroup
	parked.Add(n)
	for i := range n {
		done.Go(func() {
			parked.Done()
			<-start
			t0 := time.Now()
			u, err := larder.Fetch(ctx, c, key, load, larder.TTL(time.Minute))
			lat[i] = time.Since(t0)
			if err == nil && u.Name != "Ada" {
				err = fmt.Errorf("Fetch returned %+v", u)
			}
			if err != nil {
				mu.Lock()
				bad++
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	parked.Wait()
	release()
	released = time.Now()
	close(start)
	done.Wait()
	return released, lat, bad, firstErr
}

// warm gets c's connections going as they are in a process that has been
// serving: bursts of concurrent reads of another key until two in a row
// pass without a store failure and with the breaker closed. A fresh
// Redis client's first burst can exceed the time budget (measured: all
// 250 reads of a cold child process, which opened its breaker), and what
// is measured here is Fetch, not a client's start.
func warm(tb testing.TB, c *larder.Cache) {
	tb.Helper()
	ctx := context.Background()
	if err := c.Ping(ctx); err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for clean := 0; clean < 2; {
		before := storeFailures(c)
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(func() { _, _ = c.Exists(ctx, "warm-up") })
		}
		wg.Wait()
		if storeFailures(c) == before && c.Stats().Breaker != larder.BreakerOpen {
			clean++
			continue
		}
		clean = 0
		if time.Now().After(deadline) {
			tb.Fatalf("the store still fails after warming for 10s: %+v", c.Stats().Store)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// storeFailures counts the store calls of c that failed open so far.
func storeFailures(c *larder.Cache) uint64 {
	st := c.Stats().Store
	return st.Errors + st.Timeouts + st.Rejected
}

// reportLatency reports the p50, p99 and max of lat and the p99 as a
// multiple of the loader's duration.
func reportLatency(b *testing.B, lat []time.Duration) {
	p50, p99, worst := percentile(lat, 0.50), percentile(lat, 0.99), percentile(lat, 1)
	b.ReportMetric(float64(p50.Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(p99.Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(worst.Nanoseconds()), "max-ns")
	b.ReportMetric(float64(p99)/float64(stampedeLoad), "p99/load")
}

// percentile returns the p-th percentile (0 < p ≤ 1, nearest rank) of d,
// which it sorts.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := int(float64(len(d))*p+0.999999) - 1
	return d[min(max(i, 0), len(d)-1)]
}

// sleepyLoad counts its loads and notes when the first began (Unix ns).
func sleepyLoad(loads, began *atomic.Int64) func(context.Context) (user, error) {
	return func(context.Context) (user, error) {
		began.CompareAndSwap(0, time.Now().UnixNano())
		loads.Add(1)
		time.Sleep(stampedeLoad)
		return user{1, "Ada"}, nil
	}
}

// TestStampede: 1,000 concurrent Fetches of a cold key in one process run
// the 100 ms loader exactly once (BenchmarkStampede reports the latency).
func TestStampede(t *testing.T) {
	for _, name := range []string{"memory", "redis"} {
		t.Run(name, func(t *testing.T) {
			c := modes(t)[name](t, larder.Options{Timeout: stampedeBudget})
			warm(t, c)
			failed := storeFailures(c)
			var loads, began atomic.Int64
			released, lat, bad, err := stampede(c, "user:1", stampedeCallers, sleepyLoad(&loads, &began), func() {})
			first := time.Duration(began.Load() - released.UnixNano())
			p50, p99, worst := percentile(lat, 0.50), percentile(lat, 0.99), percentile(lat, 1)
			s := c.Stats().Fetch
			t.Logf("%s: %d callers, %d loads (Stats: loads %d, fills %d, lease waits %d, store failures %d); the load began %v after the release; latency p50 %v p99 %v max %v",
				name, stampedeCallers, loads.Load(), s.Loads, s.Fills, s.LeaseWaits, storeFailures(c)-failed, first.Round(time.Microsecond),
				p50.Round(time.Microsecond), p99.Round(time.Microsecond), worst.Round(time.Microsecond))
			if bad > 0 {
				t.Errorf("%d of %d Fetches failed; first: %v", bad, stampedeCallers, err)
			}
			if loads.Load() != 1 || s.Loads != 1 {
				t.Errorf("%d loads (Stats %d) for %d concurrent Fetches of a cold key, want exactly 1", loads.Load(), s.Loads, stampedeCallers)
			}
			if s.Fills != 1 {
				t.Errorf("%d fills, want 1", s.Fills)
			}
		})
	}
}

// BenchmarkStampede is TestStampede for its latency: each op is 1,000
// concurrent Fetches of a cold key (a new one each time) with the 100 ms
// loader; it reports the callers' p50, p99 and max over all ops, p99/load
// (the bound is 1.5), and loads/op (1: anything else means the
// latency is not that of one shared load).
func BenchmarkStampede(b *testing.B) {
	for _, name := range []string{"memory", "redis"} {
		b.Run(name, func(b *testing.B) {
			c := benchMode(b, name, larder.Options{Timeout: stampedeBudget})
			var all []time.Duration
			var loads, began atomic.Int64
			b.ResetTimer()
			for i := range b.N {
				_, lat, bad, err := stampede(c, "stampede:"+strconv.Itoa(i), stampedeCallers, sleepyLoad(&loads, &began), func() {})
				if bad > 0 {
					b.Fatalf("%d of %d Fetches failed; first: %v", bad, stampedeCallers, err)
				}
				all = append(all, lat...)
			}
			b.StopTimer()
			reportLatency(b, all)
			b.ReportMetric(float64(loads.Load())/float64(b.N), "loads/op")
		})
	}
}

// TestStampedeProcesses: four processes (this test binary, re-run as
// TestStampedeChild) with a Cache each on one redis-server fire 250
// Fetches each at the same moment; at most one of the 1,000 loads
// (BenchmarkStampedeProcesses reports the latency).
func TestStampedeProcesses(t *testing.T) {
	srv := redistest.Start(t) // private: the only load on it is this test's
	loads, all := stampedeProcessesRun(t, srv)
	if len(all) != stampedeCallers {
		t.Fatalf("%d latencies reported, want %d", len(all), stampedeCallers)
	}
	if loads != 1 {
		t.Errorf("%d loads across %d processes, want at most 1 (and the key was cold: exactly 1)", loads, stampedeProcesses)
	}
}

// BenchmarkStampedeProcesses is TestStampedeProcesses for its latency:
// each op is four processes firing 250 Fetches each of a cold key at the
// same moment; it reports the latency over all callers of all ops, as
// BenchmarkStampede does, and loads/op (1).
func BenchmarkStampedeProcesses(b *testing.B) {
	srv := redistest.Start(b)
	var all []time.Duration
	var loads int64
	b.ResetTimer()
	for range b.N {
		n, lat := stampedeProcessesRun(b, srv)
		if len(lat) != stampedeCallers {
			b.Fatalf("%d latencies reported, want %d", len(lat), stampedeCallers)
		}
		loads += n
		all = append(all, lat...)
	}
	b.StopTimer()
	reportLatency(b, all)
	b.ReportMetric(float64(loads)/float64(b.N), "loads/op")
}

// stampedeProcessesRun starts the child processes on srv, releases them
// together on a key of their own and returns the loads they made and
// every caller's latency.
func stampedeProcessesRun(t testing.TB, srv *redistest.Server) (loads int64, all []time.Duration) {
	t.Helper()
	key := "stampede:" + strconv.FormatInt(time.Now().UnixNano(), 36)
	per := stampedeCallers / stampedeProcesses
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	type child struct {
		cmd    *exec.Cmd
		stdin  *os.File
		lines  chan string
		stderr bytes.Buffer
	}
	children := make([]*child, stampedeProcesses)
	for i := range children {
		ch := &child{lines: make(chan string, 4)}
		ch.cmd = exec.CommandContext(ctx, os.Args[0], "-test.run=^TestStampedeChild$", "-test.count=1", "-test.timeout=60s")
		ch.cmd.Env = append(os.Environ(),
			stampedeEnvAddr+"="+srv.Addr(), stampedeEnvKey+"="+key, stampedeEnvCallers+"="+strconv.Itoa(per))
		ch.cmd.Stderr = &ch.stderr
		stdinR, stdinW, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		ch.cmd.Stdin, ch.stdin = stdinR, stdinW
		out, err := ch.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		_ = stdinR.Close()
		go func() {
			defer close(ch.lines)
			sc := bufio.NewScanner(out)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				if l := sc.Text(); l == stampedeReady || strings.HasPrefix(l, stampedeResult) {
					ch.lines <- l
				}
			}
		}()
		children[i] = ch
		t.Cleanup(func() {
			_ = ch.stdin.Close()
			_ = ch.cmd.Wait()
		})
	}
	next := func(i int, ch *child) string {
		select {
		case l, ok := <-ch.lines:
			if ok {
				return l
			}
			_ = ch.cmd.Wait()
			t.Fatalf("child %d ended early: %v\n%s", i, ch.cmd.ProcessState, ch.stderr.String())
		case <-ctx.Done():
			_ = ch.cmd.Wait() // killed by ctx; Wait makes stderr safe to read
			t.Fatalf("child %d: %v\n%s", i, ctx.Err(), ch.stderr.String())
		}
		return ""
	}
	// The barrier: every child has its Cache connected and its callers
	// parked before any of them is released.
	for i, ch := range children {
		if l := next(i, ch); l != stampedeReady {
			t.Fatalf("child %d said %q", i, l)
		}
	}
	released := time.Now()
	for _, ch := range children {
		if _, err := ch.stdin.WriteString("go\n"); err != nil {
			t.Fatal(err)
		}
	}
	releaseSpread := time.Since(released)

	var firstRelease, lastRelease, loadBegan int64
	for i, ch := range children {
		l := next(i, ch)
		var r stampedeReport
		if err := json.Unmarshal([]byte(strings.TrimPrefix(l, stampedeResult)), &r); err != nil {
			t.Fatalf("child %d: %v in %q", i, err, l)
		}
		var d []time.Duration
		for _, us := range r.Latencies {
			d = append(d, time.Duration(us)*time.Microsecond)
		}
		all = append(all, d...)
		loads += r.Loads
		if firstRelease == 0 || r.Released < firstRelease {
			firstRelease = r.Released
		}
		lastRelease = max(lastRelease, r.Released)
		if r.LoadBegan != 0 && (loadBegan == 0 || r.LoadBegan < loadBegan) {
			loadBegan = r.LoadBegan
		}
		t.Logf("process %d: %d Fetches, %d loads (Stats %d), %d fills, %d dropped, %d lease waits, %d store failures, p99 %v, max %v",
			i, len(d), r.Loads, r.StatsLoads, r.Fills, r.Dropped, r.LeaseWaits, r.StoreFails, percentile(d, 0.99), percentile(d, 1))
		if r.Errors > 0 {
			t.Errorf("process %d: %d Fetches failed; first: %s", i, r.Errors, r.FirstError)
		}
		if err := ch.cmd.Wait(); err != nil {
			t.Errorf("child %d: %v\n%s", i, err, ch.stderr.String())
		}
	}
	p50, p99, worst := percentile(all, 0.50), percentile(all, 0.99), percentile(all, 1)
	t.Logf("%d processes × %d Fetches: %d loads in all, begun %v after the first release; latency p50 %v p99 %v max %v (processes released within %v; barrier writes took %v)",
		stampedeProcesses, per, loads, time.Duration(loadBegan-firstRelease), p50, p99, worst, time.Duration(lastRelease-firstRelease), releaseSpread)
	return loads, all
}

// TestStampedeChild is one process of TestStampedeProcesses; run alone it
// does nothing.
func TestStampedeChild(t *testing.T) {
	addr := os.Getenv(stampedeEnvAddr)
	if addr == "" {
		// Not a test: the body of a child process of TestStampedeProcesses
		// (the os/exec TestHelperProcess pattern); on its own it does nothing.
		return
	}
	n, err := strconv.Atoi(os.Getenv(stampedeEnvCallers))
	if err != nil {
		t.Fatal(err)
	}
	c := newCache(t, larder.Options{Store: storetest.Redis(t, redisstore.Options{Addr: addr}), Timeout: stampedeBudget})
	warm(t, c)
	failed := storeFailures(c)
	var loads, began atomic.Int64
	released, lat, bad, ferr := stampede(c, os.Getenv(stampedeEnvKey), n, sleepyLoad(&loads, &began), func() {
		fmt.Println(stampedeReady)
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if line != "go\n" {
			t.Fatalf("%q, %v on stdin, want \"go\"", line, err)
		}
	})
	s := c.Stats().Fetch
	r := stampedeReport{Loads: loads.Load(), StatsLoads: s.Loads, Fills: s.Fills, LeaseWaits: s.LeaseWaits,
		StoreFails: storeFailures(c) - failed, Dropped: s.FillsDropped, Errors: bad,
		Released: released.UnixNano(), LoadBegan: began.Load()}
	if ferr != nil {
		r.FirstError = ferr.Error()
	}
	for _, d := range lat {
		r.Latencies = append(r.Latencies, d.Microseconds())
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(stampedeResult + string(b))
}

// sharedStoreCaches returns n Caches sharing one store, as n processes (or n
// instances of a service) share one Redis: in memory mode one memstore
// behind n Caches, in redis mode n clients of one fresh database.
func sharedStoreCaches(t *testing.T, mode string, n int, o larder.Options) []*larder.Cache {
	t.Helper()
	var open func() driver.Store
	switch mode {
	case "memory":
		s := storetest.Memory(t, memstore.Options{})
		open = func() driver.Store { return s } // each Cache closes it; the second Close is refused, harmlessly
	case "redis":
		srv := redistest.Shared(t)
		db := srv.FreshDB()
		open = func() driver.Store { return storetest.Redis(t, redisstore.Options{Addr: srv.Addr(), DB: db}) }
	default:
		t.Fatalf("no mode %q", mode)
	}
	cs := make([]*larder.Cache, n)
	for i := range cs {
		o.Store = open()
		cs[i] = newCache(t, o)
	}
	return cs
}

// TestStampedeLeaseIsNotStolen is the cross-process half of the stampede
// line made deterministic: while instance a holds the lease and loads, a
// Fetch on instance b (another process sharing the store) must wait for
// a's fill, not take the lease over and load a second time.
func TestStampedeLeaseIsNotStolen(t *testing.T) {
	for _, name := range []string{"memory", "redis"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			cs := sharedStoreCaches(t, name, 2, larder.Options{})
			a, b := cs[0], cs[1]
			var loads atomic.Int64
			entered, gate := make(chan struct{}), make(chan struct{})
			load := func(context.Context) (user, error) {
				if loads.Add(1) == 1 {
					close(entered)
					<-gate
				}
				return user{1, "Ada"}, nil
			}
			type res struct {
				u   user
				err error
			}
			fetch := func(c *larder.Cache) <-chan res {
				ch := make(chan res, 1)
				go func() {
					u, err := larder.Fetch(ctx, c, "user:1", load, larder.TTL(time.Minute))
					ch <- res{u, err}
				}()
				return ch
			}
			ra := fetch(a)
			<-entered // a holds the lease and is loading
			rb := fetch(b)
			// b either waits for a's lease (right) or takes it and loads.
			waitFor(t, 5*time.Second, func() bool { return b.Stats().Fetch.LeaseWaits > 0 || loads.Load() > 1 })
			close(gate)
			for who, ch := range map[string]<-chan res{"a": ra, "b": rb} {
				if r := <-ch; r.err != nil || r.u.Name != "Ada" {
					t.Errorf("Fetch on %s = %+v, %v", who, r.u, r.err)
				}
			}
			sa, sb := a.Stats().Fetch, b.Stats().Fetch
			t.Logf("%s: %d loads; a: fills %d, dropped %d; b: loads %d, fills %d, lease waits %d",
				name, loads.Load(), sa.Fills, sa.FillsDropped, sb.Loads, sb.Fills, sb.LeaseWaits)
			if loads.Load() != 1 {
				t.Errorf("%d loads, want 1: instance b took over a's lease while a was loading (a's fill dropped: %d)", loads.Load(), sa.FillsDropped)
			}
			if sa.Fills != 1 || sa.FillsDropped != 0 || sb.LeaseWaits != 1 {
				t.Errorf("a fills %d dropped %d, b lease waits %d; want 1, 0, 1", sa.Fills, sa.FillsDropped, sb.LeaseWaits)
			}
		})
	}
}
