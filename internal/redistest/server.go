package redistest

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/rueidis"
)

const (
	// databases is how many logical databases every server has, so that
	// the tests sharing one server can each take a fresh one (FreshDB).
	databases = 1024
	// readyTimeout bounds how long a start waits for PING to be answered;
	// redis-server with nothing to load answers within milliseconds, so
	// this only guards against a wedged machine.
	readyTimeout = 10 * time.Second
	// busyTimeout bounds how long Restart keeps retrying while the port is
	// still held by someone else.
	busyTimeout = 5 * time.Second
	// doTimeout bounds Server.Do, so that a test talking to a paused server
	// fails instead of hanging.
	doTimeout = 5 * time.Second
)

// errPortBusy means redis-server could not bind its port.
var errPortBusy = errors.New("port already in use")

// Server is one redis-server process started by Start or Shared.
//
// Its methods are safe for concurrent use. Kill, Restart, Pause and Resume
// report failures with the test's Fatalf, so call them from the test's own
// goroutine; they must not be called on the shared server, which other
// tests use at the same time.
type Server struct {
	bin      string
	dir      string
	port     int
	password string
	tls      *tlsFiles
	args     []string
	// sentinelConf, when set, is the configuration file that makes this
	// server a Sentinel (redis-server FILE --sentinel).
	sentinelConf string
	// fatalf reports a failure of a lifecycle method: the owning test's
	// Fatalf for Start, a panic for the shared server (which has no test).
	fatalf func(format string, args ...any)
	// launches numbers the log files, so that a failed start reads only
	// its own log and not that of an earlier run on the same port.
	launches atomic.Int32
	nextDB   atomic.Int32

	mu     sync.Mutex
	proc   *process
	paused bool
}

// process is one run of redis-server; Restart makes a new one.
type process struct {
	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed once cmd.Wait has returned
}

// Start starts a redis-server for tb on a free port of 127.0.0.1 and
// returns once it answers PING. The server is killed, and its directory
// removed, when tb ends. Start skips tb (fails it when CI=true) if there is
// no redis-server binary, and fails tb if the server does not start.
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	bin := requireBinary(tb)
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	s, err := newServer(bin, tb.TempDir(), cfg, tb.Fatalf)
	if err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	// Registered before starting so that a server that started but failed
	// its readiness check is still killed.
	tb.Cleanup(s.Kill)
	if err := s.startOn(cfg.port); err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	return s
}

// newServer prepares a server in dir without starting it.
func newServer(bin, dir string, cfg config, fatalf func(string, ...any)) (*Server, error) {
	s := &Server{
		bin:      bin,
		dir:      dir,
		password: cfg.password,
		args:     cfg.args,
		fatalf:   fatalf,
	}
	if cfg.tls {
		files, err := generateTLS(dir)
		if err != nil {
			return nil, fmt.Errorf("generate TLS certificate: %w", err)
		}
		s.tls = files
	}
	return s, nil
}

// startOn starts the server on port, or on a free port when port is 0. A
// free port can be taken by another process between FreePort and the bind,
// so that case is retried with another port.
func (s *Server) startOn(port int) error {
	if port != 0 {
		return s.launchRetrying(port)
	}
	var err error
	for range 5 {
		if port, err = freePort(); err != nil {
			return err
		}
		if err = s.launch(port); !errors.Is(err, errPortBusy) {
			return err
		}
	}
	return err
}

// launchRetrying starts the server on port, retrying for a while if the
// port is busy: a test that kills a server and restarts it, or that frees a
// port it reserved, may race with the kernel or another process briefly
// holding it.
func (s *Server) launchRetrying(port int) error {
	deadline := time.Now().Add(busyTimeout)
	for {
		err := s.launch(port)
		if !errors.Is(err, errPortBusy) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// launch runs redis-server on port and waits until it answers PING.
func (s *Server) launch(port int) error {
	logPath := filepath.Join(s.dir, fmt.Sprintf("redis-%d.log", s.launches.Add(1)))
	args := []string{
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--databases", strconv.Itoa(databases),
		"--logfile", logPath,
		"--daemonize", "no",
	}
	if s.tls != nil {
		args = append(args,
			"--port", "0",
			"--tls-port", strconv.Itoa(port),
			"--tls-cert-file", s.tls.certFile,
			"--tls-key-file", s.tls.keyFile,
			"--tls-ca-cert-file", s.tls.caFile,
			"--tls-auth-clients", "no",
		)
	} else {
		args = append(args, "--port", strconv.Itoa(port))
	}
	if s.password != "" {
		args = append(args, "--requirepass", s.password)
	}
	args = append(args, s.args...)

	if s.sentinelConf != "" {
		// Sentinel takes its configuration file first; the options above
		// are accepted in sentinel mode too.
		args = append([]string{s.sentinelConf, "--sentinel"}, args...)
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Dir = s.dir
	setParentDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	p := &process{cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // the exit status of a killed test server tells nothing
		close(p.exited)
	}()
	s.mu.Lock()
	s.proc = p
	s.port = port
	s.paused = false
	s.mu.Unlock()

	if err := s.waitReady(p); err != nil {
		s.Kill()
		return err
	}
	return nil
}

// waitReady polls PING until the server answers, exits, or readyTimeout
// passes.
func (s *Server) waitReady(p *process) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-p.exited:
			log := readLog(p.logPath)
			if strings.Contains(log, "Address already in use") {
				return fmt.Errorf("redis-server on port %d: %w", s.port, errPortBusy)
			}
			return fmt.Errorf("redis-server on port %d exited at start:\n%s", s.port, log)
		default:
		}
		if s.ping() == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on port %d did not answer PING within %v:\n%s",
				s.port, readyTimeout, readLog(p.logPath))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ping sends one PING over a fresh connection. A NOAUTH reply counts as an
// answer: it comes from a server that is up and only wants a password.
func (s *Server) ping() error {
	d := net.Dialer{Timeout: 200 * time.Millisecond}
	var conn net.Conn
	var err error
	if s.tls != nil {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: s.TLSConfig()}).Dial("tcp", s.Addr())
	} else {
		conn, err = d.Dial("tcp", s.Addr())
	}
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(500 * time.Millisecond)); err != nil {
		return err
	}
	if _, err := conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.HasPrefix(line, "+PONG") || strings.HasPrefix(line, "-NOAUTH") {
		return nil
	}
	return fmt.Errorf("unexpected PING reply %q", strings.TrimSpace(line))
}

// readLog returns the server's log for an error message.
func readLog(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(b)
}

// Port returns the TCP port the server listens on.
func (s *Server) Port() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.port
}

// Addr returns the server's address as host:port.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port()))
}

// Password returns the password the server requires, or "" if none.
func (s *Server) Password() string { return s.password }

// URL returns a redis:// URL for the server (rediss:// when it uses TLS),
// with its password if it has one.
func (s *Server) URL() string {
	u := url.URL{Scheme: "redis", Host: s.Addr()}
	if s.tls != nil {
		u.Scheme = "rediss"
	}
	if s.password != "" {
		u.User = url.UserPassword("", s.password)
	}
	return u.String()
}

// TLSConfig returns a client TLS configuration that trusts the server's
// throwaway certificate authority, or nil if the server does not use TLS.
// Each call returns a new configuration that the caller may modify.
func (s *Server) TLSConfig() *tls.Config {
	if s.tls == nil {
		return nil
	}
	return s.tls.clientConfig()
}

// FreshDB returns the number of a logical database that no earlier call on
// this server returned, so that tests sharing the server each get an
// isolated keyspace. Database 0 is never returned.
func (s *Server) FreshDB() int {
	n := int(s.nextDB.Add(1))
	if n >= databases {
		s.fatalf("redistest: all %d databases of %s have been handed out", databases-1, s.Addr())
	}
	return n
}

// Kill kills the server with SIGKILL, as a crash would, and waits until the
// process has gone. Clients see their connections reset and new
// connections refused. Killing a server that is not running does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	p := s.proc
	s.proc = nil
	s.paused = false
	s.mu.Unlock()
	if p == nil {
		return
	}
	// SIGKILL also ends a process stopped by Pause.
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// Restart starts the server again on the same port with the same options,
// killing it first if it is still running, and returns once it answers
// PING. The data is gone, as nothing is persisted.
func (s *Server) Restart() {
	s.Kill()
	if err := s.launchRetrying(s.Port()); err != nil {
		s.fatalf("redistest: restart: %v", err)
	}
}

// Pause stops the server process with SIGSTOP, which simulates a hung
// server: connections stay open and new ones are accepted by the kernel,
// but nothing is answered until Resume.
func (s *Server) Pause() {
	s.signal(syscall.SIGSTOP, true)
}

// Resume continues a server stopped by Pause with SIGCONT.
func (s *Server) Resume() {
	s.signal(syscall.SIGCONT, false)
}

// signal sends sig to the running process and records whether it is
// paused.
func (s *Server) signal(sig syscall.Signal, paused bool) {
	s.mu.Lock()
	p := s.proc
	if p != nil {
		s.paused = paused
	}
	s.mu.Unlock()
	if p == nil {
		s.fatalf("redistest: %v: server %s is not running", sig, s.Addr())
		return
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		s.fatalf("redistest: %v: %v", sig, err)
		return
	}
	if paused {
		// Signal delivery is asynchronous: wait until the kernel reports
		// the process stopped, so the test's next step really meets a hung
		// server.
		waitStopped(p.cmd.Process.Pid)
	}
}

// Do sends one command to the server's database 0 and returns its result,
// for tests that need a raw command (ACL SETUSER, CONFIG SET, TTL, …).
// It uses a new connection each time, so it works across Kill and Restart.
// It gives up after a few seconds, so a paused server fails the command
// instead of hanging the test.
func (s *Server) Do(args ...string) rueidis.RedisResult {
	return s.DoDB(0, args...)
}

// DoDB is Do on logical database db.
func (s *Server) DoDB(db int, args ...string) rueidis.RedisResult {
	if len(args) == 0 {
		return rueidis.NewErrorResult(errors.New("redistest: Do needs a command"))
	}
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:       []string{s.Addr()},
		Password:          s.password,
		TLSConfig:         s.TLSConfig(),
		SelectDB:          db,
		ForceSingleClient: true,
		DisableCache:      true,
		DisableRetry:      true,
		ClientSetInfo:     rueidis.DisableClientSetInfo,
		Dialer:            net.Dialer{Timeout: doTimeout},
	})
	if err != nil {
		return rueidis.NewErrorResult(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), doTimeout)
	defer cancel()
	return c.Do(ctx, c.B().Arbitrary(args...).Build())
}

// FreePort returns a TCP port of 127.0.0.1 that nothing listens on at the
// moment of the call, for WithPort. Another process may take it before it
// is used, which Start handles by retrying for a while.
func FreePort(tb testing.TB) int {
	tb.Helper()
	p, err := freePort()
	if err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	return p
}

// freePort asks the kernel for an ephemeral port, which is never the shared
// server's 6379.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
