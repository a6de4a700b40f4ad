package larder_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/larderhq/larder/internal/redistest"
)

// coherenceChild is a child process running TestCoherenceChild: B, with its
// own Cache and local tier.
type coherenceChild struct {
	tb    testing.TB
	stdin io.Writer
	lines *bufio.Scanner
}

// startCoherenceChild starts B on srv and waits until its tier tracks.
func startCoherenceChild(tb testing.TB, srv *redistest.Server) *coherenceChild {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCoherenceChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "LARDER_COHERENCE_CHILD="+srv.Addr())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	ch := &coherenceChild{tb: tb, stdin: stdin, lines: bufio.NewScanner(stdout)}
	if got := ch.next(); got != "ready" {
		tb.Fatalf("child says %q", got)
	}
	return ch
}

func (ch *coherenceChild) next() string {
	for ch.lines.Scan() {
		if l := ch.lines.Text(); strings.HasPrefix(l, "coherence ") {
			return strings.TrimPrefix(l, "coherence ")
		}
	}
	ch.tb.Fatalf("child ended: %v", ch.lines.Err())
	return ""
}

// trial tells B that value i was written and returns how long B took to
// see it from then on, and whether it did within coherenceWait.
func (ch *coherenceChild) trial(i int) (lag time.Duration, seen bool) {
	fmt.Fprintf(ch.stdin, "%d\n", i)
	reply := ch.next()
	d, unseen := strings.CutPrefix(reply, "unseen ")
	lag, err := time.ParseDuration(d)
	if err != nil {
		ch.tb.Fatalf("trial %d: child says %q", i, reply)
	}
	return lag, !unseen
}

// stats returns B's tier counters as "hits=… invalidations=…".
func (ch *coherenceChild) stats() string {
	fmt.Fprintln(ch.stdin, "stats")
	return ch.next()
}

// TestTwoProcessesStayCoherent is the coherence test across processes: A
// (this process) writes, then tells B (a child process with its own Cache
// and local tier) which value it wrote; B reads until it sees it.
// Every one of the trials must be seen (BenchmarkCoherenceProcesses
// reports how soon, from the moment B heard of the write, which is after
// A's write returned).
func TestTwoProcessesStayCoherent(t *testing.T) {
	srv := redistest.Start(t)
	a := instance(t, srv, 0)
	ch := startCoherenceChild(t, srv)
	ctx := context.Background()
	const trials = 1000
	var worst time.Duration
	unseen := 0
	for i := 1; i <= trials; i++ {
		if err := a.Set(ctx, "pk", i, time.Minute); err != nil {
			t.Fatal(err)
		}
		lag, seen := ch.trial(i)
		worst = max(worst, lag)
		if !seen {
			unseen++
		}
	}
	localHits := ch.stats()
	t.Logf("%d trials across processes: worst lag %v, %d not seen within %v; child's tier: %s", trials, worst, unseen, coherenceWait, localHits)
	if unseen > 0 {
		t.Fatalf("%d of %d trials: B did not see the write within %v", unseen, trials, coherenceWait)
	}
	if strings.HasPrefix(localHits, "hits=0 ") {
		t.Fatal("the child never served from its tier: the test did not exercise it")
	}
}

// BenchmarkCoherenceProcesses is TestTwoProcessesStayCoherent for its lag:
// each op is one trial; it reports, as BenchmarkCoherence does, how long B
// took to see the write from the moment it heard of it and the share of
// trials over 50 ms (late/op, the bound is 0).
func BenchmarkCoherenceProcesses(b *testing.B) {
	srv := redistest.Start(b)
	a := instanceAt(b, srv.Addr(), 0)
	waitUntil(b, 5*time.Second, func() bool { return a.Stats().LocalCoherence == "tracking" })
	ch := startCoherenceChild(b, srv)
	ctx := context.Background()
	lags := make([]time.Duration, 0, b.N)
	late := 0
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		if err := a.Set(ctx, "pk", i, time.Minute); err != nil {
			b.Fatal(err)
		}
		lag, seen := ch.trial(i)
		if !seen {
			b.Fatalf("trial %d: B did not see the write within %v", i, coherenceWait)
		}
		if lag > 50*time.Millisecond {
			late++
		}
		lags = append(lags, lag)
	}
	b.StopTimer()
	reportLags(b, lags, late)
}

// TestCoherenceChild is the other process of TestTwoProcessesStayCoherent.
// It runs only when that test starts it.
func TestCoherenceChild(t *testing.T) {
	addr := os.Getenv("LARDER_COHERENCE_CHILD")
	if addr == "" {
		// Not a test: the body of the child process of
		// TestTwoProcessesStayCoherent (the os/exec TestHelperProcess
		// pattern); on its own it does nothing.
		return
	}
	b := instanceAt(t, addr, 0)
	ctx := context.Background()
	waitFor(t, 5*time.Second, func() bool { return b.Stats().LocalCoherence == "tracking" })
	fmt.Println("coherence ready")
	in := bufio.NewScanner(os.Stdin)
	var v int
	for in.Scan() {
		line := in.Text()
		if line == "stats" {
			s := b.Stats().Local
			fmt.Printf("coherence hits=%d invalidations=%d\n", s.Hits, s.Invalidations)
			continue
		}
		want, _ := strconv.Atoi(line)
		heard := time.Now()
		seen := false
		for !seen {
			if ok, _ := b.Get(ctx, "pk", &v); ok && v == want {
				seen = true
			} else if time.Since(heard) > coherenceWait {
				break
			} else {
				time.Sleep(20 * time.Microsecond)
			}
		}
		if seen {
			fmt.Printf("coherence %v\n", time.Since(heard))
		} else {
			fmt.Printf("coherence unseen %v\n", time.Since(heard))
		}
		_, _ = b.Get(ctx, "pk", &v) // from the tier from now on
	}
}
