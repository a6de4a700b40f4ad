package redisstore

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/larderhq/larder/internal/redistest"
	"go.uber.org/goleak"
)

// TestMain stops the shared server after the tests and then fails the run
// if any goroutine is left, which proves that Close stops everything the
// store started (the connector, rueidis's pipelines, abandoned calls).
//
// Two rueidis goroutines are exempt, as they end by themselves and no
// Close can stop them:
//   - when a connection made while detecting a Cluster fails (as it does
//     when New is refused, say for a database out of range), rueidis
//     schedules a topology refresh after a random delay of up to about a
//     second;
//   - when a Cluster topology refresh drops a node's connection (a
//     replica given as an initial address, a node that left), rueidis
//     closes it five seconds later, to let calls still using it finish.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(redistest.Wrap(m), redistest.LeakOptions()...)
}

// newStore returns a store for opts that is closed when t ends.
func newStore(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// sharedStore returns a store on a fresh database of the package's shared
// server, for tests that do not need a server of their own.
func sharedStore(t testing.TB) (*Store, *redistest.Server, int) {
	t.Helper()
	srv := redistest.Shared(t)
	db := srv.FreshDB()
	return newStore(t, Options{Addr: srv.Addr(), DB: db}), srv, db
}

// ctxFor returns a context that ends after d and is cancelled when t ends.
func ctxFor(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually calls fn until it returns nil or timeout passes, and fails t
// with fn's last error then.
func eventually(t testing.TB, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %v: %v", timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logBuffer collects a logger's text output for assertions; slog handlers
// may be called from several goroutines, hence the mutex.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// count returns how many records of level (e.g. "WARN") were logged.
func (b *logBuffer) count(level string) int {
	return strings.Count(b.String(), "level="+level+" ")
}

func newLogger(b *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
