package larder_test

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/larderhq/larder/cachetest"
	"github.com/larderhq/larder/telemetry"
)

// fakeStore is a Store for unit tests of the Cache's own logic
// (namespacing, fail-open, breaker, stats): the kit's MapStore behind
// driver.Store alone, on a clock that never moves, so that entries never
// expire, and with switches that break it. Real stores are proven by the
// cachetest contract suite against memstore and a real redis-server.
type fakeStore struct {
	m     *cachetest.MapStore
	mu    sync.Mutex
	last  string // last pattern passed to Clear
	calls atomic.Int64

	fail  atomic.Bool // every call returns errBroken
	block atomic.Bool // every call waits for ctx to end
}

var errBroken = &brokenError{}

type brokenError struct{}

func (*brokenError) Error() string { return "fake: broken" }

func newFakeStore() *fakeStore {
	return &fakeStore{m: cachetest.NewMapStore(cachetest.NewClock(time.Time{}))}
}

func (f *fakeStore) enter(ctx context.Context) error {
	f.calls.Add(1)
	if f.block.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	if f.fail.Load() {
		return errBroken
	}
	return ctx.Err()
}

func (f *fakeStore) Get(ctx context.Context, key string) ([]byte, error) {
	if err := f.enter(ctx); err != nil {
		return nil, err
	}
	return f.m.Get(ctx, key)
}

func (f *fakeStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := f.enter(ctx); err != nil {
		return err
	}
	return f.m.Set(ctx, key, value, ttl)
}

func (f *fakeStore) Delete(ctx context.Context, keys ...string) (int, error) {
	if err := f.enter(ctx); err != nil {
		return 0, err
	}
	return f.m.Delete(ctx, keys...)
}

func (f *fakeStore) Exists(ctx context.Context, key string) (bool, error) {
	if err := f.enter(ctx); err != nil {
		return false, err
	}
	return f.m.Exists(ctx, key)
}

// Clear records the pattern so tests can check what the Cache sent.
func (f *fakeStore) Clear(ctx context.Context, pattern string) (int, error) {
	if err := f.enter(ctx); err != nil {
		return 0, err
	}
	f.mu.Lock()
	f.last = pattern
	f.mu.Unlock()
	return f.m.Clear(ctx, pattern)
}

func (f *fakeStore) Ping(ctx context.Context) error { return f.enter(ctx) }

// Close leaves the store usable: tests read it after the Cache closed it.
func (f *fakeStore) Close() error { return nil }

func (f *fakeStore) keys() []string { return f.m.Keys() }

// ttl is the TTL of key's entry, which the store's clock never shortens.
func (f *fakeStore) ttl(key string) time.Duration {
	d, _ := f.m.TTL(key)
	return d
}

// recorder collects Events.
type recorder struct {
	mu     sync.Mutex
	events []telemetry.Event
}

func (r *recorder) Record(e telemetry.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) count(op telemetry.Op, o telemetry.Outcome) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Op == op && e.Outcome == o {
			n++
		}
	}
	return n
}
