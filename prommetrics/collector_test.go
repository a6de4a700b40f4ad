package prommetrics_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/memstore"
	"github.com/larderhq/larder/prommetrics"
)

const collectorHelp = `
# HELP larder_cache_breaker_open Whether the cache's circuit breaker is open (1) or not (0); while open, the cache does not call its store.
# TYPE larder_cache_breaker_open gauge
# HELP larder_cache_hit_ratio Hits divided by reads (hits and misses) since the cache was created, by tier.
# TYPE larder_cache_hit_ratio gauge
# HELP larder_cache_info Always 1; the labels say how the cache keeps its values.
# TYPE larder_cache_info gauge
`

func TestCacheCollector(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		cache func(t *testing.T) *larder.Cache
		want  string
	}{
		{
			name:  "off",
			cache: func(t *testing.T) *larder.Cache { return newCache(t, larder.Options{}) },
			want: `
larder_cache_breaker_open{cache_namespace="larder"} 0
larder_cache_hit_ratio{cache_namespace="larder",tier="local"} 0
larder_cache_hit_ratio{cache_namespace="larder",tier="store"} 0
larder_cache_info{cache_namespace="larder",mode="off"} 1
`,
		},
		{
			name: "memory, one hit in four reads",
			cache: func(t *testing.T) *larder.Cache {
				s, err := memstore.New(memstore.Options{})
				if err != nil {
					t.Fatal(err)
				}
				c := newCache(t, larder.Options{Store: s, Namespace: "app"})
				if err := c.Set(ctx, "k", "v", 0); err != nil {
					t.Fatal(err)
				}
				var v string
				for _, k := range []string{"k", "a", "b", "c"} {
					if _, err := c.Get(ctx, k, &v); err != nil {
						t.Fatal(err)
					}
				}
				return c
			},
			want: `
larder_cache_breaker_open{cache_namespace="app"} 0
larder_cache_hit_ratio{cache_namespace="app",tier="local"} 0
larder_cache_hit_ratio{cache_namespace="app",tier="store"} 0.25
larder_cache_info{cache_namespace="app",mode="memory"} 1
`,
		},
		{
			name: "remote, breaker open",
			cache: func(t *testing.T) *larder.Cache {
				store := newRemoteStore()
				c := newCache(t, larder.Options{Store: store, BreakerThreshold: 1, ProbeInterval: time.Hour})
				store.broken.Store(true)
				var v string
				if _, err := c.Get(ctx, "k", &v); err != nil {
					t.Fatal(err)
				}
				return c
			},
			want: `
larder_cache_breaker_open{cache_namespace="larder"} 1
larder_cache_hit_ratio{cache_namespace="larder",tier="local"} 0
larder_cache_hit_ratio{cache_namespace="larder",tier="store"} 0
larder_cache_info{cache_namespace="larder",mode="custom"} 1
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := prommetrics.NewCollector(tt.cache(t))
			if err := testutil.CollectAndCompare(cc, strings.NewReader(collectorHelp+tt.want)); err != nil {
				t.Error(err)
			}
			problems, err := testutil.CollectAndLint(cc)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Errorf("lint: %s: %s", p.Metric, p.Text)
			}
		})
	}
}

func TestCacheCollectorRegistration(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	a := newCache(t, larder.Options{Namespace: "a"})
	b := newCache(t, larder.Options{Namespace: "b"})
	if err := reg.Register(prommetrics.NewCollector(a)); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(prommetrics.NewCollector(b)); err != nil {
		t.Fatalf("a second cache with another namespace: %v", err)
	}
	err := reg.Register(prommetrics.NewCollector(newCache(t, larder.Options{Namespace: "a"})))
	if _, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); !ok {
		t.Errorf("a second cache with the same namespace: error %v, want an AlreadyRegisteredError", err)
	}
	// The Recorder's metrics and the collector's share a registry.
	if _, err := prommetrics.NewRecorder(reg, prommetrics.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
}
