package prommetrics_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// sample returns the sample of the metric family name whose labels include
// labels, failing the test unless there is exactly one.
func sample(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var found []*dto.Metric
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue metrics
				}
			}
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d samples of %s%v, want 1", len(found), name, labels)
	}
	return found[0]
}

// counter returns the value of the operations counter for one series.
func counter(t *testing.T, g prometheus.Gatherer, tier, op, outcome string) float64 {
	t.Helper()
	return sample(t, g, "larder_cache_operations_total", map[string]string{"tier": tier, "op": op, "outcome": outcome}).GetCounter().GetValue()
}

// histogram returns the duration histogram of one series.
func histogram(t *testing.T, g prometheus.Gatherer, tier, op string) *dto.Histogram {
	t.Helper()
	return sample(t, g, "larder_cache_operation_duration_seconds", map[string]string{"tier": tier, "op": op}).GetHistogram()
}

// stepClock is a driver.Clock that advances by step on every reading, so
// that every call the Cache times takes exactly step.
type stepClock struct {
	step  time.Duration
	ticks atomic.Int64
}

func (c *stepClock) Now() time.Time {
	return time.Unix(0, 0).Add(time.Duration(c.ticks.Add(1)) * c.step)
}

var errBroken = errors.New("fake: connection refused")

// remoteStore is a map-backed Store that a Cache treats as remote (it is
// not a InProcessStore), so the Cache times its calls and guards it with a
// breaker; it can be switched to fail every call.
type remoteStore struct {
	mu     sync.Mutex
	data   map[string][]byte
	broken atomic.Bool
}

func newRemoteStore() *remoteStore { return &remoteStore{data: map[string][]byte{}} }

func (s *remoteStore) check(ctx context.Context) error {
	if s.broken.Load() {
		return errBroken
	}
	return ctx.Err()
}

func (s *remoteStore) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.data[key]
	if !ok {
		return nil, larder.ErrNotFound
	}
	return append([]byte(nil), v...), nil
}

func (s *remoteStore) Set(ctx context.Context, key string, value []byte, _ time.Duration) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[key] = append([]byte(nil), value...)
	return nil
}

func (s *remoteStore) Delete(ctx context.Context, keys ...string) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, k := range keys {
		if _, ok := s.data[k]; ok {
			delete(s.data, k)
			n++
		}
	}
	return n, nil
}

func (s *remoteStore) Exists(ctx context.Context, key string) (bool, error) {
	if err := s.check(ctx); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.data[key]
	return ok, nil
}

func (s *remoteStore) Clear(ctx context.Context, _ string) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.data)
	clear(s.data)
	return n, nil
}

func (s *remoteStore) Ping(ctx context.Context) error { return s.check(ctx) }

func (s *remoteStore) Close() error { return nil }

// newCache returns a cache closed when the test ends.
func newCache(t *testing.T, opts larder.Options) *larder.Cache {
	t.Helper()
	c, err := larder.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
