package larder_test

// Helpers of the regression tests of issue 8 (regress_test.go,
// regress_api_test.go).

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/redistest"
	"github.com/larderhq/larder/internal/storetest"
	"github.com/larderhq/larder/memstore"
	"github.com/larderhq/larder/redisstore"
	"go.uber.org/goleak"
)

// regressRig is one Cache over a countingStore of a fresh store, with the
// server and database behind it in redis mode, for raw commands.
type regressRig struct {
	c   *larder.Cache
	s   *countingStore
	srv *redistest.Server
	db  int
}

// newRegressRig builds a rig in mode; o's Store is set here, and its
// Timeout defaults to a budget no busy machine exceeds, so that the tests
// are about their subject, not about fail-open.
func newRegressRig(t *testing.T, mode string, o larder.Options) *regressRig {
	t.Helper()
	r := &regressRig{}
	var inner driver.Store
	switch mode {
	case "memory":
		inner = storetest.Memory(t, memstore.Options{})
	case "redis":
		r.srv = redistest.Shared(t)
		r.db = r.srv.FreshDB()
		inner = storetest.Redis(t, redisstore.Options{Addr: r.srv.Addr(), DB: r.db})
	default:
		t.Fatalf("unknown mode %q", mode)
	}
	r.s = newCountingStore(inner)
	o.Store = r.s
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	r.c = newCache(t, o)
	return r
}

// countingStore wraps a store, counting the calls made to it. Past a limit
// every call fails, so that a Fetch that loops on a key ends instead of
// spinning for the rest of the test run; refuse makes every conditional
// write report that it did not apply and Set fail, as a store that will
// not let a key be replaced.
type countingStore struct {
	inner     driver.ConditionalStore
	inProcess bool
	mode      driver.Mode
	calls     atomic.Int64
	base      atomic.Int64 // calls when the limit was set
	limit     atomic.Int64 // calls past it fail; 0: none
	refuse    atomic.Bool
}

var (
	errCutOff  = errors.New("regress: store call budget spent")
	errRefused = errors.New("regress: write refused")
)

func newCountingStore(s driver.Store) *countingStore {
	c := &countingStore{inner: s.(driver.ConditionalStore), mode: driver.ModeCustom}
	if ls, ok := s.(driver.InProcessStore); ok {
		c.inProcess = ls.InProcess()
	}
	if mr, ok := s.(driver.ModeReporter); ok {
		c.mode = mr.Mode()
	}
	return c
}

// allow lets n more calls through; the rest fail.
func (s *countingStore) allow(n int64) {
	now := s.calls.Load()
	s.base.Store(now)
	s.limit.Store(now + n)
}

// spent is how many calls were made since allow.
func (s *countingStore) spent() int64 { return s.calls.Load() - s.base.Load() }

func (s *countingStore) enter() error {
	n := s.calls.Add(1)
	if l := s.limit.Load(); l > 0 && n > l {
		return errCutOff
	}
	return nil
}

func (s *countingStore) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	return s.inner.Get(ctx, key)
}

func (s *countingStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.enter(); err != nil {
		return err
	}
	if s.refuse.Load() {
		return errRefused
	}
	return s.inner.Set(ctx, key, value, ttl)
}

func (s *countingStore) Delete(ctx context.Context, keys ...string) (int, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	return s.inner.Delete(ctx, keys...)
}

func (s *countingStore) Exists(ctx context.Context, key string) (bool, error) {
	if err := s.enter(); err != nil {
		return false, err
	}
	return s.inner.Exists(ctx, key)
}

func (s *countingStore) Clear(ctx context.Context, pattern string) (int, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	return s.inner.Clear(ctx, pattern)
}

func (s *countingStore) Ping(ctx context.Context) error {
	if err := s.enter(); err != nil {
		return err
	}
	return s.inner.Ping(ctx)
}

func (s *countingStore) Close() error { return s.inner.Close() }

func (s *countingStore) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := s.enter(); err != nil {
		return false, err
	}
	if s.refuse.Load() {
		return false, nil
	}
	return s.inner.SetNX(ctx, key, value, ttl)
}

func (s *countingStore) CompareAndSwap(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	if err := s.enter(); err != nil {
		return false, err
	}
	if s.refuse.Load() {
		return false, nil
	}
	return s.inner.CompareAndSwap(ctx, key, old, value, ttl)
}

func (s *countingStore) CompareAndDelete(ctx context.Context, key string, old []byte) (bool, error) {
	if err := s.enter(); err != nil {
		return false, err
	}
	if s.refuse.Load() {
		return false, nil
	}
	return s.inner.CompareAndDelete(ctx, key, old)
}

func (s *countingStore) InProcess() bool   { return s.inProcess }
func (s *countingStore) Mode() driver.Mode { return s.mode }

// guarded runs f and fails the test if it has not returned after 30 s,
// so that a Fetch that never returns fails instead of hanging the run.
func guarded[T any](t *testing.T, f func() (T, error)) (T, error) {
	t.Helper()
	type res struct {
		v   T
		err error
	}
	ch := make(chan res, 1)
	go func() { v, err := f(); ch <- res{v, err} }()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-time.After(30 * time.Second):
		t.Fatal("the call has not returned after 30 s")
	}
	panic("unreachable")
}

// waitNoLeak fails the test if goroutines other than those opts allow are
// still running 15 s from now. A fill may outlive its caller for as long
// as its own deadline; one still running after that is left behind.
func waitNoLeak(t *testing.T, opts ...goleak.Option) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := goleak.Find(opts...)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("goroutines left behind: %v", err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// goid returns the id of the calling goroutine, for waitParked.
func goid() int64 {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := strings.Fields(string(buf)) // "goroutine 42 [running]:"
	id, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		panic(err)
	}
	return id
}

// parked reports whether goroutine id is blocked (in a select, on a
// channel, a lock or a sleep) at a point in larder or in a test's loader,
// not inside a store's I/O, or has ended.
func parked(id int64) bool {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	head := fmt.Sprintf("goroutine %d [", id)
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.HasPrefix(g, head) {
			continue
		}
		state := g[len(head):]
		blocked := false
		for _, s := range []string{"select", "chan receive", "chan send", "semacquire", "sync.Mutex.Lock", "sync.RWMutex", "sync.Cond.Wait", "sync.WaitGroup.Wait", "sleep"} {
			blocked = blocked || strings.HasPrefix(state, s)
		}
		if !blocked {
			return false
		}
		// The innermost frame outside the runtime, sync and time says
		// where it waits.
		for _, line := range strings.Split(g, "\n")[1:] {
			if strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "runtime.") || strings.HasPrefix(line, "sync.") ||
				strings.HasPrefix(line, "internal/") || strings.HasPrefix(line, "time.") {
				continue
			}
			return strings.HasPrefix(line, "github.com/larderhq/larder.") || strings.HasPrefix(line, "github.com/larderhq/larder_test.")
		}
		return false
	}
	return true
}

// waitParked waits until goroutine id is parked (see parked) or done
// reports true, for up to 10 s; after that the test goes on, and whatever
// it asserts next decides.
func waitParked(t *testing.T, id int64, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !done() && !parked(id) {
		if time.Now().After(deadline) {
			t.Logf("goroutine %d did not park within 10 s", id)
			return
		}
		time.Sleep(time.Millisecond)
	}
}
