package prommetrics_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/memstore"
	"github.com/larderhq/larder/prommetrics"
)

func ExampleNewRecorder() {
	ctx := context.Background()
	// A service passes prometheus.DefaultRegisterer, or its own registry.
	reg := prometheus.NewRegistry()
	rec, err := prommetrics.NewRecorder(reg, prommetrics.Options{})
	if err != nil {
		log.Fatal(err)
	}
	store, err := memstore.New(memstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	c, err := larder.New(larder.Options{Store: store, Recorder: rec})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	var name string
	_ = c.Set(ctx, "user:42", "Ada", 0)
	_, _ = c.Get(ctx, "user:42", &name)
	_, _ = c.Get(ctx, "user:43", &name)

	families, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "larder_cache_operations_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			if v := m.GetCounter().GetValue(); v > 0 {
				l := m.GetLabel() // sorted by name: op, outcome, tier
				fmt.Printf("%s{op=%q,outcome=%q,tier=%q} %v\n", f.GetName(), l[0].GetValue(), l[1].GetValue(), l[2].GetValue(), v)
			}
		}
	}
	// Output:
	// larder_cache_operations_total{op="get",outcome="hit",tier="store"} 1
	// larder_cache_operations_total{op="get",outcome="miss",tier="store"} 1
	// larder_cache_operations_total{op="set",outcome="ok",tier="store"} 1
}

func ExampleNewCollector() {
	c, err := larder.New(larder.Options{Namespace: "myapp"}) // off mode
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(prommetrics.NewCollector(c))

	families, err := reg.Gather()
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range families {
		if _, err := expfmt.MetricFamilyToText(os.Stdout, f); err != nil {
			log.Fatal(err)
		}
	}
	// Output:
	// # HELP larder_cache_breaker_open Whether the cache's circuit breaker is open (1) or not (0); while open, the cache does not call its store.
	// # TYPE larder_cache_breaker_open gauge
	// larder_cache_breaker_open{cache_namespace="myapp"} 0
	// # HELP larder_cache_hit_ratio Hits divided by reads (hits and misses) since the cache was created, by tier.
	// # TYPE larder_cache_hit_ratio gauge
	// larder_cache_hit_ratio{cache_namespace="myapp",tier="local"} 0
	// larder_cache_hit_ratio{cache_namespace="myapp",tier="store"} 0
	// # HELP larder_cache_info Always 1; the labels say how the cache keeps its values.
	// # TYPE larder_cache_info gauge
	// larder_cache_info{cache_namespace="myapp",mode="off"} 1
}
