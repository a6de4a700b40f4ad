package prommetrics

import (
	"fmt"

	"github.com/larderhq/larder/telemetry"
	"github.com/prometheus/client_golang/prometheus"
)

// Recorder is a telemetry.Recorder that counts cache operations and their
// durations in Prometheus metrics; see the package documentation for the
// metrics. It is also a prometheus.Collector of those metrics, registered
// by NewRecorder. Create one with NewRecorder and set it as
// larder.Options.Recorder. All methods are safe for concurrent use.
type Recorder struct {
	ops       *prometheus.CounterVec
	durations *prometheus.HistogramVec

	// The children of ops and durations, resolved once in NewRecorder so
	// that Record needs no label look-up: counters is indexed by
	// (tier*nOps+op)*nOutcomes+outcome, observers by tier*nOps+op.
	counters  []prometheus.Counter
	observers []prometheus.Observer
	nOps      int
	nOutcomes int
}

// The Recorder must keep satisfying both interfaces it is used through.
var (
	_ telemetry.Recorder   = (*Recorder)(nil)
	_ prometheus.Collector = (*Recorder)(nil)
)

// NewRecorder returns a Recorder configured by opts and registers its
// metrics with reg. A nil reg registers nothing, for callers who register
// the Recorder (a prometheus.Collector) themselves. NewRecorder returns an
// error for invalid options (metric or label names Prometheus refuses, a
// reserved label in ConstLabels, unordered buckets) and the registration
// error, which wraps prometheus.AlreadyRegisteredError when reg already
// holds metrics of the same names and const labels, as happens when two
// Recorders with the same options share a registry.
func NewRecorder(reg prometheus.Registerer, opts Options) (*Recorder, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	opsOpts := prometheus.CounterOpts{
		Namespace:   o.Namespace,
		Subsystem:   "cache",
		Name:        "operations_total",
		Help:        "Cache operations, by tier, operation and outcome.",
		ConstLabels: o.ConstLabels,
	}
	durOpts := prometheus.HistogramOpts{
		Namespace:   o.Namespace,
		Subsystem:   "cache",
		Name:        "operation_duration_seconds",
		Help:        "Duration of cache operations on a remote store, by tier and operation.",
		ConstLabels: o.ConstLabels,
		Buckets:     o.Buckets,
	}
	opsLabels := []string{"tier", "op", "outcome"}
	durLabels := []string{"tier", "op"}
	// The vectors record invalid names in their descriptors and report them
	// only at registration, which a nil reg skips; checking here makes
	// NewRecorder the one place that reports them.
	for _, d := range []*prometheus.Desc{
		prometheus.NewDesc(prometheus.BuildFQName(o.Namespace, opsOpts.Subsystem, opsOpts.Name), opsOpts.Help, opsLabels, o.ConstLabels),
		prometheus.NewDesc(prometheus.BuildFQName(o.Namespace, durOpts.Subsystem, durOpts.Name), durOpts.Help, durLabels, o.ConstLabels),
	} {
		if err := d.Err(); err != nil {
			return nil, fmt.Errorf("prommetrics: %w", err)
		}
	}

	r := &Recorder{
		ops:       prometheus.NewCounterVec(opsOpts, opsLabels),
		durations: prometheus.NewHistogramVec(durOpts, durLabels),
		nOps:      telemetry.NumOps,
		nOutcomes: telemetry.NumOutcomes,
	}
	r.counters = make([]prometheus.Counter, telemetry.NumTiers*r.nOps*r.nOutcomes)
	r.observers = make([]prometheus.Observer, telemetry.NumTiers*r.nOps)
	for tier := range telemetry.NumTiers {
		t := telemetry.Tier(tier)
		for op := range r.nOps {
			i := tier*r.nOps + op
			opName := telemetry.Op(op).String()
			r.observers[i] = r.durations.WithLabelValues(t.String(), opName)
			for o := range r.nOutcomes {
				r.counters[i*r.nOutcomes+o] = r.ops.WithLabelValues(t.String(), opName, telemetry.Outcome(o).String())
			}
		}
	}

	if reg != nil {
		if err := reg.Register(r); err != nil {
			return nil, fmt.Errorf("prommetrics: registering the recorder: %w", err)
		}
	}
	return r, nil
}

// Record counts e and, when the Cache timed it (e.Duration > 0), observes
// its duration. It performs no allocation, takes no lock and looks up no
// labels: it is an index computation, one atomic counter increment and at
// most one (lock-free) histogram observation. An event whose tier, op or outcome this version
// of larder does not name is dropped, since it has no label to go under.
// Record is safe for concurrent use.
func (r *Recorder) Record(e telemetry.Event) {
	t, op, o := int(e.Tier), int(e.Op), int(e.Outcome)
	if t >= telemetry.NumTiers || op >= r.nOps || o >= r.nOutcomes {
		return
	}
	i := t*r.nOps + op
	r.counters[i*r.nOutcomes+o].Inc()
	if e.Duration > 0 {
		r.observers[i].Observe(e.Duration.Seconds())
	}
}

// Describe sends the descriptors of the Recorder's two metrics, as
// prometheus.Collector requires. It is safe for concurrent use.
func (r *Recorder) Describe(ch chan<- *prometheus.Desc) {
	r.ops.Describe(ch)
	r.durations.Describe(ch)
}

// Collect sends the current values of every series of the Recorder's
// metrics, as prometheus.Collector requires. It is safe for concurrent
// use, also while Record runs.
func (r *Recorder) Collect(ch chan<- prometheus.Metric) {
	r.ops.Collect(ch)
	r.durations.Collect(ch)
}
