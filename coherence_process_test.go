package larder_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/larderhq/larder/internal/redistest"
)

// TestTwoProcessesStayCoherent is the coherence test across processes: A
// (this process) writes, then tells B (a child process with its own Cache
// and in-process tier) which value it wrote; B reads until it sees it and
// reports how long that took from the moment it heard of the write, which
// is after A's write returned. Every one of the trials must be within 50 ms.
func TestTwoProcessesStayCoherent(t *testing.T) {
	srv := redistest.Start(t)
	a := instance(t, srv, 0)
	ctx := context.Background()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCoherenceChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "LARDER_COHERENCE_CHILD="+srv.Addr())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	next := func() string {
		for lines.Scan() {
			if l := lines.Text(); strings.HasPrefix(l, "coherence ") {
				return strings.TrimPrefix(l, "coherence ")
			}
		}
		t.Fatalf("child ended: %v", lines.Err())
		return ""
	}
	if got := next(); got != "ready" {
		t.Fatalf("child says %q", got)
	}
	const trials = 1000
	var worst time.Duration
	late, localHits := 0, ""
	for i := 1; i <= trials; i++ {
		if err := a.Set(ctx, "pk", i, time.Minute); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(stdin, "%d\n", i)
		reply := next()
		lag, err := time.ParseDuration(reply)
		if err != nil {
			t.Fatalf("trial %d: child says %q", i, reply)
		}
		worst = max(worst, lag)
		if lag > 50*time.Millisecond {
			late++
		}
	}
	fmt.Fprintln(stdin, "stats")
	localHits = next()
	t.Logf("%d trials across processes: worst lag %v, %d over 50ms; child's tier: %s", trials, worst, late, localHits)
	if late > 0 {
		t.Fatalf("%d of %d trials saw the write after more than 50ms", late, trials)
	}
	if strings.HasPrefix(localHits, "hits=0 ") {
		t.Fatal("the child never served from its tier: the test did not exercise it")
	}
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
		for {
			if ok, _ := b.Get(ctx, "pk", &v); ok && v == want {
				break
			}
			if time.Since(heard) > time.Second {
				break
			}
			time.Sleep(20 * time.Microsecond)
		}
		fmt.Printf("coherence %v\n", time.Since(heard))
		_, _ = b.Get(ctx, "pk", &v) // from the tier from now on
	}
}
