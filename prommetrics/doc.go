// Package prommetrics exports a larder.Cache's activity as Prometheus
// metrics.
//
// A Recorder is a telemetry.Recorder: the Cache hands it one telemetry.Event per
// operation, and it counts them in
//
//	larder_cache_operations_total{tier, op, outcome}          counter
//	larder_cache_operation_duration_seconds{tier, op}         histogram
//
// where tier is "store" or "local", op is "get", "set", "delete", "exists",
// "clear" or "ping", and outcome is "ok", "hit", "miss", "error",
// "timeout", "rejected" or "decode_error" (larder's Tier, Op and Outcome
// names). Durations are observed only for calls the Cache timed: the
// ordinary calls to a remote store. Calls to an in-process store, calls
// the breaker rejected and administrative calls (Clear, Count) report no
// duration.
//
// Record runs on the caller's goroutine for every cache call, so it takes
// no lock and allocates nothing: NewRecorder resolves every combination of
// labels once, up front, into arrays indexed by the enum values, and Record
// only indexes them and updates the series atomically. Looking series up by
// label values on each event, the usual way, costs several times as much
// (see BenchmarkRecord and BenchmarkRecordBaseline). Creating every series
// up front also means that each one is exported from the start, at zero,
// so that rate() and alerts on absent series work from the first scrape.
//
// NewRecorder's counterpart, NewCollector, adds gauges read from a Cache at
// scrape time (breaker state, hit ratio, mode), for what events cannot
// tell.
//
// Wire both up in main:
//
//	rec, err := prommetrics.NewRecorder(prometheus.DefaultRegisterer, prommetrics.Options{})
//	…
//	c, err := larder.New(larder.Options{Store: store, Recorder: rec})
//	…
//	prometheus.MustRegister(prommetrics.NewCollector(c))
//
// Everything in this package is safe for concurrent use by multiple
// goroutines.
package prommetrics
