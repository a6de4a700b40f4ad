package prommetrics_test

import (
	"testing"
	"time"

	"github.com/larderhq/larder/prommetrics"
	"github.com/larderhq/larder/telemetry"
	"github.com/prometheus/client_golang/prometheus"
)

type namedEvent struct {
	name  string
	event telemetry.Event
}

// recordEvents returns the events of the allocation test and the
// benchmarks: a timed remote call, an untimed in-process one, and a
// rejected one.
func recordEvents() []namedEvent {
	return []namedEvent{
		{"store get hit timed", telemetry.Event{Tier: telemetry.TierStore, Op: telemetry.OpGet, Outcome: telemetry.OutcomeHit, Duration: 420 * time.Microsecond}},
		{"local get miss", telemetry.Event{Tier: telemetry.TierLocal, Op: telemetry.OpGet, Outcome: telemetry.OutcomeMiss}},
		{"store set rejected", telemetry.Event{Tier: telemetry.TierStore, Op: telemetry.OpSet, Outcome: telemetry.OutcomeRejected}},
	}
}

// TestRecordAllocs checks that Record allocates nothing: it runs on the
// caller's goroutine for every cache call.
func TestRecordAllocs(t *testing.T) {
	rec, _ := newRecorder(t, prommetrics.Options{})
	for _, tt := range recordEvents() {
		t.Run(tt.name, func(t *testing.T) {
			if allocs := testing.AllocsPerRun(1000, func() { rec.Record(tt.event) }); allocs != 0 {
				t.Errorf("Record allocates %v times per call, want 0", allocs)
			}
		})
	}
}

func BenchmarkRecord(b *testing.B) {
	rec, err := prommetrics.NewRecorder(nil, prommetrics.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, bb := range recordEvents() {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rec.Record(bb.event)
			}
		})
	}
	timed := recordEvents()[0].event
	// Every goroutine updates the same series, the worst case for the
	// counters' shared cache line.
	b.Run("parallel store get hit timed", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				rec.Record(timed)
			}
		})
	})
}

// BenchmarkRecordBaseline is what Record would cost if it looked its series
// up by label values on each event, the usual way of using a metric
// vector; it is the baseline BenchmarkRecord is read against.
func BenchmarkRecordBaseline(b *testing.B) {
	ops := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ops_total", Help: "h"}, []string{"tier", "op", "outcome"})
	durations := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "d", Help: "h", Buckets: prommetrics.DefaultBuckets()}, []string{"tier", "op"})
	e := recordEvents()[0].event
	b.ReportAllocs()
	for b.Loop() {
		ops.WithLabelValues(e.Tier.String(), e.Op.String(), e.Outcome.String()).Inc()
		durations.WithLabelValues(e.Tier.String(), e.Op.String()).Observe(e.Duration.Seconds())
	}
}
