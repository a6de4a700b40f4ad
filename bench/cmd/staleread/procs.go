package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one child process, started in a process group of its own so that
// stopping it also stops whatever it started (go test's test binaries, for
// the load).
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

func startProc(name string, cmd *exec.Cmd) (*proc, error) {
	setProcAttrs(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // the exit status of a process this program kills tells nothing
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signalGroup sends sig to the process group; a group that is gone is not
// an error.
func (p *proc) signalGroup(sig syscall.Signal) {
	_ = syscall.Kill(-p.pid(), sig)
}

// stop asks the group to end (SIGCONT first, since a stopped process
// ignores SIGTERM until it runs), waits up to grace, then kills it.
func (p *proc) stop(grace time.Duration) {
	if p == nil || p.exited() {
		return
	}
	p.signalGroup(syscall.SIGCONT)
	p.signalGroup(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
	}
	p.signalGroup(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
}

// freePort returns a loopback TCP port that was free a moment ago, never the
// shared Redis port.
func freePort() (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if port != 6379 {
			return port, nil
		}
	}
	return 0, errors.New("no free loopback port")
}

// redisServer is the throwaway redis-server: a fixed loopback port, nothing
// persisted. restart replaces its process on the same port.
type redisServer struct {
	bin, dir string
	port     int

	mu   sync.Mutex
	proc *proc
	gen  int
}

func (r *redisServer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

func (r *redisServer) current() *proc {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proc
}

// start launches redis-server and waits (at most 10 s) for its PING.
func (r *redisServer) start(ctx context.Context) error {
	r.mu.Lock()
	r.gen++
	logPath := filepath.Join(r.dir, fmt.Sprintf("redis-%d.log", r.gen))
	r.mu.Unlock()
	cmd := exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--logfile", logPath)
	p, err := startProc("redis-server", cmd)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.proc = p
	r.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p.exited() {
			return fmt.Errorf("redis-server on port %d exited at start: %s", r.port, tail(logPath, 800))
		}
		if _, err := redisDo(r.addr(), time.Second, "PING"); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on port %d did not answer PING in 10s: %s", r.port, tail(logPath, 800))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// kill ends the current process with SIGKILL, as a crash would.
func (r *redisServer) kill() {
	p := r.current()
	if p == nil {
		return
	}
	p.signalGroup(syscall.SIGCONT)
	p.signalGroup(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
}

func (r *redisServer) stop() { r.current().stop(3 * time.Second) }

// signal sends sig to the current redis-server process.
func (r *redisServer) signal(sig syscall.Signal) error {
	p := r.current()
	if p == nil {
		return errors.New("no redis-server")
	}
	return syscall.Kill(p.pid(), sig)
}

// redisDo sends one command over a fresh connection and returns its simple
// reply. It speaks just enough RESP for PING and CLIENT PAUSE.
func redisDo(addr string, timeout time.Duration, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case line == "":
		return "", errors.New("empty reply")
	case line[0] == '-':
		return "", errors.New(line[1:])
	}
	return line[1:], nil
}

// instance is one process of the reference service.
type instance struct {
	idx     int
	addr    string
	logPath string
	proc    *proc
}

func (in *instance) url(path string) string { return "http://" + in.addr + path }

// waitHealthy polls /healthz and /readyz until both answer 200, the
// process exits, or 60 s pass.
func (in *instance) waitHealthy(ctx context.Context, client *http.Client) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		if in.proc.exited() {
			return fmt.Errorf("instance %d exited at start: %s", in.idx, tail(in.logPath, 1500))
		}
		if ok200(ctx, client, in.url("/healthz")) && ok200(ctx, client, in.url("/readyz")) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("instance %d not healthy in 60s: %s", in.idx, tail(in.logPath, 1500))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func ok200(ctx context.Context, client *http.Client, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// serviceEnv is the environment of an instance: this process's, minus
// every variable the service reads (so that nothing set in the caller's
// shell changes the run), plus set.
func serviceEnv(set map[string]string) []string {
	ours := []string{"REDIS_", "CACHE_", "DATABASE_URL", "SQLITE_PATH", "HTTP_ADDR", "DEBUG", "ADMIN_TOKEN", "SEED_USERS", "LOG_", "SHUTDOWN_TIMEOUT"}
	var env []string
outer:
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		for _, p := range ours {
			if strings.HasPrefix(k, p) {
				continue outer
			}
		}
		env = append(env, kv)
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	return env
}

// loadLoop runs `go test -race -count=1 ./...` of the repository in a loop
// until ctx is done or maxRuns have started, so that the check runs on a
// machine as busy as the one that made the suite flake.
type loadLoop struct {
	mu       sync.Mutex
	started  int
	finished int
	failed   int
	cancel   context.CancelFunc
	done     chan struct{}
}

func startLoad(ctx context.Context, repo, logPath string) *loadLoop {
	const maxRuns = 100
	ctx, cancel := context.WithCancel(ctx)
	l := &loadLoop{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		logf, err := os.Create(logPath)
		if err != nil {
			return
		}
		defer logf.Close()
		for run := 0; run < maxRuns && ctx.Err() == nil; run++ {
			cmd := exec.Command("go", "test", "-race", "-count=1", "./...")
			cmd.Dir = repo
			cmd.Stdout, cmd.Stderr = logf, logf
			p, err := startProc("go test", cmd)
			if err != nil {
				fmt.Fprintln(logf, err)
				return
			}
			l.mu.Lock()
			l.started++
			l.mu.Unlock()
			select {
			case <-p.done:
				l.mu.Lock()
				l.finished++
				if !p.cmd.ProcessState.Success() {
					l.failed++
				}
				l.mu.Unlock()
			case <-ctx.Done():
				p.stop(2 * time.Second)
				return
			}
		}
	}()
	return l
}

// stop ends the loop and the current go test (and its test binaries) and
// waits for them.
func (l *loadLoop) stop() {
	l.cancel()
	<-l.done
}

// tail returns the last n bytes of the file at path, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// loadAvg returns the 1-minute load average, or "?".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
