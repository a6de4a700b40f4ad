package prommetrics_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/memstore"
	"github.com/larderhq/larder/prommetrics"
	"github.com/larderhq/larder/telemetry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// enumSize counts the values of a larder enum that have a name.
func enumSize(name func(int) string) int {
	n := 0
	for name(n) != "unknown" {
		n++
	}
	return n
}

func newRecorder(t *testing.T, opts prommetrics.Options) (*prommetrics.Recorder, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	rec, err := prommetrics.NewRecorder(reg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rec, reg
}

func TestRecord(t *testing.T) {
	ms := time.Millisecond
	type series struct{ tier, op, outcome string }
	type hist struct {
		count uint64
		sum   float64
	}
	tests := []struct {
		name      string
		events    []telemetry.Event
		counters  map[series]float64
		durations map[[2]string]hist // by tier and op
	}{
		{
			name: "hits and misses",
			events: []telemetry.Event{
				{Tier: telemetry.TierStore, Op: telemetry.OpGet, Outcome: telemetry.OutcomeHit, Duration: ms},
				{Tier: telemetry.TierStore, Op: telemetry.OpGet, Outcome: telemetry.OutcomeHit, Duration: 2 * ms},
				{Tier: telemetry.TierStore, Op: telemetry.OpGet, Outcome: telemetry.OutcomeMiss, Duration: 3 * ms},
				{Tier: telemetry.TierLocal, Op: telemetry.OpGet, Outcome: telemetry.OutcomeHit},
			},
			counters: map[series]float64{
				{"store", "get", "hit"}:  2,
				{"store", "get", "miss"}: 1,
				{"local", "get", "hit"}:  1,
				{"local", "get", "miss"}: 0,
				{"store", "set", "ok"}:   0,
			},
			durations: map[[2]string]hist{
				{"store", "get"}: {3, 0.006},
				{"local", "get"}: {0, 0}, // no duration: not observed
			},
		},
		{
			name: "failures",
			events: []telemetry.Event{
				{Tier: telemetry.TierStore, Op: telemetry.OpSet, Outcome: telemetry.OutcomeTimeout, Duration: 50 * ms},
				{Tier: telemetry.TierStore, Op: telemetry.OpSet, Outcome: telemetry.OutcomeError, Duration: 150 * ms},
				{Tier: telemetry.TierStore, Op: telemetry.OpSet, Outcome: telemetry.OutcomeRejected},
				{Tier: telemetry.TierStore, Op: telemetry.OpGet, Outcome: telemetry.OutcomeDecodeError, Duration: ms},
				{Tier: telemetry.TierStore, Op: telemetry.OpClear, Outcome: telemetry.OutcomeOK},
			},
			counters: map[series]float64{
				{"store", "set", "timeout"}:      1,
				{"store", "set", "error"}:        1,
				{"store", "set", "rejected"}:     1,
				{"store", "get", "decode_error"}: 1,
				{"store", "clear", "ok"}:         1,
			},
			durations: map[[2]string]hist{
				{"store", "set"}:   {2, 0.2},
				{"store", "get"}:   {1, 0.001},
				{"store", "clear"}: {0, 0},
			},
		},
		{
			name: "unknown enum values are dropped",
			events: []telemetry.Event{
				{Tier: telemetry.Tier(9), Op: telemetry.OpGet, Outcome: telemetry.OutcomeHit, Duration: ms},
				{Tier: telemetry.TierStore, Op: telemetry.Op(200), Outcome: telemetry.OutcomeHit, Duration: ms},
				{Tier: telemetry.TierStore, Op: telemetry.OpGet, Outcome: telemetry.Outcome(255), Duration: ms},
			},
			counters:  map[series]float64{{"store", "get", "hit"}: 0},
			durations: map[[2]string]hist{{"store", "get"}: {0, 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, reg := newRecorder(t, prommetrics.Options{})
			for _, e := range tt.events {
				rec.Record(e)
			}
			for s, want := range tt.counters {
				if got := counter(t, reg, s.tier, s.op, s.outcome); got != want {
					t.Errorf("operations_total{%s,%s,%s} = %v, want %v", s.tier, s.op, s.outcome, got, want)
				}
			}
			for s, want := range tt.durations {
				h := histogram(t, reg, s[0], s[1])
				if h.GetSampleCount() != want.count || math.Abs(h.GetSampleSum()-want.sum) > 1e-9 {
					t.Errorf("duration{%s,%s}: count %d sum %v, want %d and %v",
						s[0], s[1], h.GetSampleCount(), h.GetSampleSum(), want.count, want.sum)
				}
			}
		})
	}
}

func TestRecordBuckets(t *testing.T) {
	rec, reg := newRecorder(t, prommetrics.Options{})
	for _, d := range []time.Duration{40 * time.Microsecond, 800 * time.Microsecond, 80 * time.Millisecond, time.Second} {
		rec.Record(telemetry.Event{Tier: telemetry.TierStore, Op: telemetry.OpGet, Outcome: telemetry.OutcomeHit, Duration: d})
	}
	h := histogram(t, reg, "store", "get")
	want := map[float64]uint64{0.00005: 1, 0.001: 2, 0.05: 2, 0.1: 3} // cumulative
	bounds := make([]float64, 0, len(h.GetBucket()))
	for _, b := range h.GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
		if w, ok := want[b.GetUpperBound()]; ok && b.GetCumulativeCount() != w {
			t.Errorf("bucket le=%v holds %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), w)
		}
	}
	if got, want := len(bounds), len(prommetrics.DefaultBuckets()); got != want {
		t.Errorf("%d buckets %v, want %d", got, bounds, want)
	}
	if bounds[0] != 50e-6 || bounds[len(bounds)-1] != 0.1 {
		t.Errorf("buckets %v, want 50 µs to 100 ms", bounds)
	}
}

func TestSeriesExistFromTheStart(t *testing.T) {
	rec, _ := newRecorder(t, prommetrics.Options{})
	const numTiers = 2
	numOps := enumSize(func(i int) string { return telemetry.Op(i).String() })
	numOutcomes := enumSize(func(i int) string { return telemetry.Outcome(i).String() })
	if numOps < 6 || numOutcomes < 7 {
		t.Fatalf("larder names %d ops and %d outcomes, want at least 6 and 7", numOps, numOutcomes)
	}
	if got, want := testutil.CollectAndCount(rec, "larder_cache_operations_total"), numTiers*numOps*numOutcomes; got != want {
		t.Errorf("%d counter series, want %d (every tier × op × outcome)", got, want)
	}
	if got, want := testutil.CollectAndCount(rec, "larder_cache_operation_duration_seconds"), numTiers*numOps; got != want {
		t.Errorf("%d histogram series, want %d (every tier × op)", got, want)
	}
	problems, err := testutil.CollectAndLint(rec)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestNewOptions(t *testing.T) {
	tests := []struct {
		name      string
		opts      prommetrics.Options
		wantErr   string // substring; "" for success
		wantName  string // the counter's name
		wantLabel map[string]string
		wantLen   int // number of buckets
	}{
		{name: "defaults", wantName: "larder_cache_operations_total", wantLen: 11},
		{name: "namespace", opts: prommetrics.Options{Namespace: "myapp"}, wantName: "myapp_cache_operations_total", wantLen: 11},
		{
			name:      "const labels",
			opts:      prommetrics.Options{ConstLabels: prometheus.Labels{"cache": "sessions"}},
			wantName:  "larder_cache_operations_total",
			wantLabel: map[string]string{"cache": "sessions"},
			wantLen:   11,
		},
		{name: "buckets", opts: prommetrics.Options{Buckets: []float64{0.001, 0.01, math.Inf(1)}}, wantName: "larder_cache_operations_total", wantLen: 2},
		{name: "reserved label op", opts: prommetrics.Options{ConstLabels: prometheus.Labels{"op": "x"}}, wantErr: `"op"`},
		{name: "reserved label le", opts: prommetrics.Options{ConstLabels: prometheus.Labels{"le": "x"}}, wantErr: `"le"`},
		{name: "invalid label name", opts: prommetrics.Options{ConstLabels: prometheus.Labels{"__x": "y"}}, wantErr: "not a valid label name"},
		{name: "invalid label value", opts: prommetrics.Options{ConstLabels: prometheus.Labels{"x": "\xff"}}, wantErr: "valid UTF-8"},
		{name: "unordered buckets", opts: prommetrics.Options{Buckets: []float64{0.01, 0.001}}, wantErr: "increasing order"},
		{name: "repeated bucket", opts: prommetrics.Options{Buckets: []float64{0.01, 0.01}}, wantErr: "increasing order"},
		{name: "NaN bucket", opts: prommetrics.Options{Buckets: []float64{math.NaN()}}, wantErr: "increasing order"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			rec, err := prommetrics.NewRecorder(reg, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("NewRecorder: error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rec.Record(telemetry.Event{Tier: telemetry.TierStore, Op: telemetry.OpGet, Outcome: telemetry.OutcomeHit, Duration: time.Millisecond})
			labels := map[string]string{"tier": "store", "op": "get", "outcome": "hit"}
			for k, v := range tt.wantLabel {
				labels[k] = v
			}
			if got := sample(t, reg, tt.wantName, labels).GetCounter().GetValue(); got != 1 {
				t.Errorf("%s%v = %v, want 1", tt.wantName, labels, got)
			}
			hname := strings.TrimSuffix(tt.wantName, "operations_total") + "operation_duration_seconds"
			delete(labels, "outcome")
			if got := len(sample(t, reg, hname, labels).GetHistogram().GetBucket()); got != tt.wantLen {
				t.Errorf("%d buckets, want %d", got, tt.wantLen)
			}
		})
	}
}

func TestNewCopiesBuckets(t *testing.T) {
	buckets := []float64{0.001, 0.01}
	rec, reg := newRecorder(t, prommetrics.Options{Buckets: buckets})
	buckets[0] = 5 // the caller reuses its slice
	rec.Record(telemetry.Event{Tier: telemetry.TierStore, Op: telemetry.OpGet, Outcome: telemetry.OutcomeHit, Duration: time.Millisecond})
	if got := histogram(t, reg, "store", "get").GetBucket()[0]; got.GetUpperBound() != 0.001 || got.GetCumulativeCount() != 1 {
		t.Errorf("first bucket le=%v count %d, want le=0.001 count 1", got.GetUpperBound(), got.GetCumulativeCount())
	}
}

func TestRegistration(t *testing.T) {
	t.Run("same options twice", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		if _, err := prommetrics.NewRecorder(reg, prommetrics.Options{}); err != nil {
			t.Fatal(err)
		}
		_, err := prommetrics.NewRecorder(reg, prommetrics.Options{})
		if _, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); !ok {
			t.Errorf("second NewRecorder: error %v, want an AlreadyRegisteredError", err)
		}
	})
	t.Run("two caches told apart by const labels", func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		a, err := prommetrics.NewRecorder(reg, prommetrics.Options{ConstLabels: prometheus.Labels{"cache": "a"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := prommetrics.NewRecorder(reg, prommetrics.Options{ConstLabels: prometheus.Labels{"cache": "b"}}); err != nil {
			t.Fatal(err)
		}
		a.Record(telemetry.Event{Tier: telemetry.TierStore, Op: telemetry.OpGet, Outcome: telemetry.OutcomeHit})
		labels := map[string]string{"tier": "store", "op": "get", "outcome": "hit"}
		for cache, want := range map[string]float64{"a": 1, "b": 0} {
			labels["cache"] = cache
			if got := sample(t, reg, "larder_cache_operations_total", labels).GetCounter().GetValue(); got != want {
				t.Errorf("cache %s: %v, want %v", cache, got, want)
			}
		}
	})
	t.Run("nil registerer", func(t *testing.T) {
		rec, err := prommetrics.NewRecorder(nil, prommetrics.Options{})
		if err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewPedanticRegistry()
		if err := reg.Register(rec); err != nil {
			t.Fatalf("registering a Recorder made with a nil Registerer: %v", err)
		}
	})
}

// TestWithCache checks the events a real Cache sends, for a remote store
// (timed) and for memstore (in-process, untimed).
func TestWithCache(t *testing.T) {
	ctx := context.Background()
	t.Run("remote", func(t *testing.T) {
		rec, reg := newRecorder(t, prommetrics.Options{})
		store := newRemoteStore()
		// The local tier is off: this test is about the store tier's events.
		c := newCache(t, larder.Options{Store: store, Recorder: rec, Clock: steppingClock(time.Millisecond), ProbeInterval: time.Hour, LocalMaxBytes: -1})
		var v string
		if err := c.Set(ctx, "k", "v", 0); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"k", "k", "absent"} {
			if _, err := c.Get(ctx, k, &v); err != nil {
				t.Fatal(err)
			}
		}
		store.broken.Store(true)
		if _, err := c.Get(ctx, "k", &v); err != nil {
			t.Fatal(err)
		}

		for s, want := range map[[2]string]float64{
			{"set", "ok"}: 1, {"get", "hit"}: 2, {"get", "miss"}: 1, {"get", "error"}: 1,
		} {
			if got := counter(t, reg, "store", s[0], s[1]); got != want {
				t.Errorf("operations_total{store,%s,%s} = %v, want %v", s[0], s[1], got, want)
			}
		}
		// Each call took one clock step.
		if h := histogram(t, reg, "store", "get"); h.GetSampleCount() != 4 || math.Abs(h.GetSampleSum()-0.004) > 1e-9 {
			t.Errorf("get durations: count %d sum %v, want 4 and 0.004", h.GetSampleCount(), h.GetSampleSum())
		}
		st := c.Stats().Store
		if float64(st.Hits) != counter(t, reg, "store", "get", "hit") {
			t.Errorf("Stats hits %d disagree with the metric", st.Hits)
		}
	})
	t.Run("memory", func(t *testing.T) {
		rec, reg := newRecorder(t, prommetrics.Options{})
		s, err := memstore.New(memstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		c := newCache(t, larder.Options{Store: s, Recorder: rec})
		var v string
		if err := c.Set(ctx, "k", "v", 0); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctx, "k", &v); err != nil {
			t.Fatal(err)
		}
		if got := counter(t, reg, "store", "get", "hit"); got != 1 {
			t.Errorf("get hits = %v, want 1", got)
		}
		if got := histogram(t, reg, "store", "get").GetSampleCount(); got != 0 {
			t.Errorf("%d durations observed for an in-process store, want 0", got)
		}
	})
}

func TestRecordConcurrent(t *testing.T) {
	rec, reg := newRecorder(t, prommetrics.Options{})
	const goroutines, each = 8, 1000
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				rec.Record(telemetry.Event{Tier: telemetry.TierStore, Op: telemetry.OpGet, Outcome: telemetry.OutcomeHit, Duration: time.Millisecond})
			}
		})
	}
	// Scrape while recording: Collect must be safe alongside Record.
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if got := counter(t, reg, "store", "get", "hit"); got != goroutines*each {
		t.Errorf("hits = %v, want %d", got, goroutines*each)
	}
	if got := histogram(t, reg, "store", "get").GetSampleCount(); got != goroutines*each {
		t.Errorf("durations = %d, want %d", got, goroutines*each)
	}
}
