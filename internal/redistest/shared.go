package redistest

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// shared is the package's only mutable state, and it is deliberate: a
// shared server exists to outlive single tests, so it cannot belong to any
// of them. The mutex guards every field.
var shared struct {
	mu sync.Mutex
	// wrapped is set while a TestMain runs the tests through Wrap, which
	// guarantees the server is stopped when they end.
	wrapped bool
	srv     *Server
	dir     string
	err     error
}

// Shared returns a redis-server shared by the tests of the calling package.
// It is started by the first call and stopped by Main or Wrap when the
// package's tests end. Tests must not Kill, Restart or Pause it, and should
// confine their keys to a database from FreshDB, since other tests use the
// server at the same time.
//
// If the package's TestMain does not use Main or Wrap, nothing would stop a
// shared server, so Shared then starts a private server for tb instead
// (as Start does): slower, but it never leaks a process.
//
// Shared is safe for concurrent use.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	bin := requireBinary(tb)
	shared.mu.Lock()
	wrapped := shared.wrapped
	if wrapped && shared.srv == nil && shared.err == nil {
		shared.srv, shared.dir, shared.err = startShared(bin)
	}
	srv, err := shared.srv, shared.err
	shared.mu.Unlock()
	if !wrapped {
		return Start(tb)
	}
	if err != nil {
		tb.Fatalf("redistest: shared server: %v", err)
	}
	return srv
}

// startShared starts the shared server in a directory of its own, since no
// test's TempDir lives as long as it does.
func startShared(bin string) (*Server, string, error) {
	dir, err := os.MkdirTemp("", "redistest-shared-")
	if err != nil {
		return nil, "", err
	}
	panicf := func(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
	s, err := newServer(bin, dir, config{}, panicf)
	if err == nil {
		err = s.startOn(0)
	}
	if err != nil {
		if s != nil {
			s.Kill()
		}
		_ = os.RemoveAll(dir)
		return nil, "", err
	}
	return s, dir, nil
}

// stopShared kills the shared server, if one was started, and removes its
// directory.
func stopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		shared.srv.Kill()
		_ = os.RemoveAll(shared.dir)
	}
	shared.srv, shared.dir, shared.err = nil, "", nil
	shared.wrapped = false
}

// Tests runs a package's tests and then stops the shared server. It is
// returned by Wrap and satisfies goleak.TestingM, so a TestMain can combine
// the two:
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(redistest.Wrap(m)) }
type Tests struct {
	m *testing.M
}

// Wrap returns m's tests with the shared server's lifetime bound to them.
func Wrap(m *testing.M) *Tests { return &Tests{m: m} }

// Run runs the tests, stops the shared server, and returns the exit code
// of m.Run.
func (t *Tests) Run() int {
	shared.mu.Lock()
	shared.wrapped = true
	shared.mu.Unlock()
	defer stopShared()
	return t.m.Run()
}

// Main runs the package's tests, stops the shared server and exits with the
// tests' exit code. A package that uses Shared calls it from TestMain:
//
//	func TestMain(m *testing.M) { redistest.Main(m) }
func Main(m *testing.M) {
	os.Exit(Wrap(m).Run())
}
