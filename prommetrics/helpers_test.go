package prommetrics_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/cachetest"
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

var errBroken = errors.New("fake: connection refused")

// remoteStore is a Store that a Cache treats as remote (it is not a
// InProcessStore), so the Cache times its calls and guards it with a
// breaker; it can be switched to fail every call. Its entries are kept by
// the kit's MapStore, on a clock that never moves.
type remoteStore struct {
	m      *cachetest.MapStore
	broken atomic.Bool
}

func newRemoteStore() *remoteStore {
	return &remoteStore{m: cachetest.NewMapStore(cachetest.NewClock(time.Time{}))}
}

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
	return s.m.Get(ctx, key)
}

func (s *remoteStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	return s.m.Set(ctx, key, value, ttl)
}

func (s *remoteStore) Delete(ctx context.Context, keys ...string) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	return s.m.Delete(ctx, keys...)
}

func (s *remoteStore) Exists(ctx context.Context, key string) (bool, error) {
	if err := s.check(ctx); err != nil {
		return false, err
	}
	return s.m.Exists(ctx, key)
}

func (s *remoteStore) Clear(ctx context.Context, pattern string) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	return s.m.Clear(ctx, pattern)
}

func (s *remoteStore) Ping(ctx context.Context) error { return s.check(ctx) }

func (s *remoteStore) Close() error { return nil }

// steppingClock returns a clock that moves on by step at every reading,
// so that every call the Cache times takes exactly step.
func steppingClock(step time.Duration) *cachetest.Clock {
	c := cachetest.NewClock(time.Unix(0, 0))
	c.Step(step)
	return c
}

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
