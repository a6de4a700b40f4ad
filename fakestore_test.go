package larder_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/telemetry"
)

// fakeStore is a map-backed Store for unit tests of the Cache's own logic
// (namespacing, fail-open, breaker, stats). Real stores are proven by the
// cachetest contract suite against memstore and a real redis-server.
type fakeStore struct {
	mu    sync.Mutex
	data  map[string][]byte
	ttls  map[string]time.Duration
	last  string // last pattern passed to Clear
	calls atomic.Int64

	fail  atomic.Bool // every call returns errBroken
	block atomic.Bool // every call waits for ctx to end
}

var errBroken = &brokenError{}

type brokenError struct{}

func (*brokenError) Error() string { return "fake: broken" }

func newFakeStore() *fakeStore {
	return &fakeStore{data: map[string][]byte{}, ttls: map[string]time.Duration{}}
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
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.data[key]
	if !ok {
		return nil, larder.ErrNotFound
	}
	return append([]byte(nil), v...), nil
}

func (f *fakeStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := f.enter(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.data[key] = append([]byte(nil), value...)
	f.ttls[key] = ttl
	return nil
}

func (f *fakeStore) Delete(ctx context.Context, keys ...string) (int, error) {
	if err := f.enter(ctx); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, k := range keys {
		if _, ok := f.data[k]; ok {
			delete(f.data, k)
			n++
		}
	}
	return n, nil
}

func (f *fakeStore) Exists(ctx context.Context, key string) (bool, error) {
	if err := f.enter(ctx); err != nil {
		return false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.data[key]
	return ok, nil
}

// Clear understands only a trailing "*", which is all these tests need; it
// records the pattern so tests can check what the Cache sent.
func (f *fakeStore) Clear(ctx context.Context, pattern string) (int, error) {
	if err := f.enter(ctx); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.last = pattern
	prefix, _ := strings.CutSuffix(pattern, "*")
	prefix = strings.ReplaceAll(prefix, `\`, "")
	n := 0
	for k := range f.data {
		if strings.HasPrefix(k, prefix) {
			delete(f.data, k)
			n++
		}
	}
	return n, nil
}

func (f *fakeStore) Ping(ctx context.Context) error { return f.enter(ctx) }

func (f *fakeStore) Close() error { return nil }

func (f *fakeStore) keys() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.data))
	for k := range f.data {
		out = append(out, k)
	}
	return out
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
