package prommetrics

import (
	"github.com/larderhq/larder"
	"github.com/larderhq/larder/telemetry"
	"github.com/prometheus/client_golang/prometheus"
)

// cacheCollector reads a Cache's state at scrape time.
type cacheCollector struct {
	c           *larder.Cache
	breakerOpen *prometheus.Desc
	hitRatio    *prometheus.Desc
	info        *prometheus.Desc
}

// NewCollector returns a prometheus.Collector of gauges read from c
// each time it is scraped:
//
//	larder_cache_breaker_open{cache_namespace}      1 while the circuit breaker is open, else 0
//	larder_cache_hit_ratio{cache_namespace, tier}   hits/(hits+misses) since c was created
//	larder_cache_info{cache_namespace, mode}        always 1; mode is "memory", "redis", "off", …
//
// cache_namespace is c.Namespace(), so that the collectors of several
// caches can share a registry; registering two caches with the same
// namespace fails with prometheus.AlreadyRegisteredError. (The label is
// not called "namespace" because Kubernetes service discovery attaches a
// target label of that name.)
//
// The hit ratio is cumulative, which suits a dashboard's "since start"
// figure; for a ratio over a window, use the Recorder's counters, as in
// sum(rate(larder_cache_operations_total{op="get",outcome="hit"}[5m])) /
// sum(rate(larder_cache_operations_total{op="get"}[5m])). Collecting
// reads counters with atomic loads and never calls the store, so a scrape
// costs the same whether the store is healthy or not. The collector is
// safe for concurrent use.
func NewCollector(c *larder.Cache) prometheus.Collector {
	labels := prometheus.Labels{"cache_namespace": c.Namespace()}
	name := func(n string) string { return prometheus.BuildFQName(DefaultNamespace, "cache", n) }
	return &cacheCollector{
		c: c,
		breakerOpen: prometheus.NewDesc(name("breaker_open"),
			"Whether the cache's circuit breaker is open (1) or not (0); while open, the cache does not call its store.",
			nil, labels),
		hitRatio: prometheus.NewDesc(name("hit_ratio"),
			"Hits divided by reads (hits and misses) since the cache was created, by tier.",
			[]string{"tier"}, labels),
		info: prometheus.NewDesc(name("info"),
			"Always 1; the labels say how the cache keeps its values.",
			[]string{"mode"}, labels),
	}
}

// Describe sends the collector's three descriptors.
func (cc *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- cc.breakerOpen
	ch <- cc.hitRatio
	ch <- cc.info
}

// Collect sends the gauges' current values.
func (cc *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	s := cc.c.Stats()
	open := 0.0
	if s.Breaker == larder.BreakerOpen {
		open = 1
	}
	gauge(ch, cc.breakerOpen, open)
	gauge(ch, cc.hitRatio, s.Store.HitRatio(), telemetry.TierStore.String())
	gauge(ch, cc.hitRatio, s.Local.HitRatio(), telemetry.TierLocal.String())
	gauge(ch, cc.info, 1, string(s.Mode))
}

// gauge sends one gauge sample. A descriptor can only be invalid when the
// cache's namespace is not valid UTF-8, which registration reports; should
// the collector be collected unregistered all the same, the error goes to
// the scrape instead of panicking.
func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	m, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, v, labels...)
	if err != nil {
		m = prometheus.NewInvalidMetric(d, err)
	}
	ch <- m
}
