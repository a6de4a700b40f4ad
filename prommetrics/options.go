package prommetrics

import (
	"fmt"
	"math"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultNamespace is the first part of every metric name unless
// Options.Namespace says otherwise.
const DefaultNamespace = "larder"

// DefaultBuckets returns the default upper bounds, in seconds, of the
// operation duration histogram: 50 µs to 100 ms. A Redis round trip on a
// local network takes from about 100 µs to a few milliseconds, and larder
// abandons calls at Options.Timeout (50 ms by default), so finer buckets
// at the bottom and none beyond 100 ms put the resolution where the
// latencies are. It returns a new slice on each call, so callers may
// change it.
func DefaultBuckets() []float64 {
	return []float64{
		0.00005, 0.0001, 0.00025, 0.0005,
		0.001, 0.0025, 0.005,
		0.01, 0.025, 0.05, 0.1,
	}
}

// Options configures NewRecorder. The zero value is ready to use.
type Options struct {
	// Namespace is the first part of every metric name, as in
	// prometheus.Opts: "<Namespace>_cache_operations_total". It is not the
	// cache's key namespace (larder.Options.Namespace); to tell several
	// caches apart, use ConstLabels. Default "larder".
	Namespace string

	// ConstLabels are added to every metric, for example
	// prometheus.Labels{"cache": "sessions"} when one process runs several
	// caches: each gets its own Recorder with its own label value, and all
	// of them can be registered with the same Registerer. The names
	// "tier", "op", "outcome" and "le" are taken.
	ConstLabels prometheus.Labels

	// Buckets are the upper bounds, in seconds and in increasing order, of
	// the duration histogram's buckets. Default DefaultBuckets().
	Buckets []float64
}

// withDefaults returns a copy of o with defaults filled in, checked, and
// sharing no slice or map with the caller.
func (o Options) withDefaults() (Options, error) {
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if len(o.Buckets) == 0 {
		o.Buckets = DefaultBuckets()
	} else {
		// The histogram keeps the slice it is given; a copy keeps a caller
		// who reuses theirs from changing the buckets under it.
		o.Buckets = append([]float64(nil), o.Buckets...)
	}
	for i, b := range o.Buckets {
		// The client library panics on unordered buckets; an error is kinder.
		if math.IsNaN(b) || (i > 0 && b <= o.Buckets[i-1]) {
			return o, fmt.Errorf("prommetrics: Buckets %v are not in strictly increasing order", o.Buckets)
		}
	}
	// The Recorder's own labels, and the histogram's bucket label.
	for _, name := range [...]string{"tier", "op", "outcome", "le"} {
		if _, ok := o.ConstLabels[name]; ok {
			return o, fmt.Errorf("prommetrics: ConstLabels holds %q, a label of the Recorder's own metrics", name)
		}
	}
	return o, nil
}
