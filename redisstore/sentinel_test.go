package redisstore

import (
	"strings"
	"testing"

	"github.com/larderhq/larder/internal/redistest"
)

// TestSentinel connects through a real Sentinel to the master it monitors.
func TestSentinel(t *testing.T) {
	t.Parallel()
	master := redistest.Start(t, redistest.WithPassword("sentinel-master-pw"))
	sentinel := redistest.StartSentinel(t, master, "mymaster")
	tests := []struct {
		name string
		opts Options
	}{
		{"options", Options{Addr: sentinel.Addr(), SentinelMasterSet: "mymaster", Password: "sentinel-master-pw"}},
		{"url", Options{URL: "redis://:sentinel-master-pw@" + sentinel.Addr() + "?master_set=mymaster"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs logBuffer
			tt.opts.Logger = newLogger(&logs)
			s := newStore(t, tt.opts)
			roundTrip(t, s)
			if got, _ := master.Do("GET", "rt").ToString(); got != "v" {
				t.Fatalf("the master has %q, want the value written through the Sentinel", got)
			}
			if strings.Contains(logs.String(), "sentinel-master-pw") {
				t.Errorf("the password was logged:\n%s", logs.String())
			}
		})
	}
	// The store tracks keys on the master it was directed to.
	t.Run("invalidations", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Options{Addr: sentinel.Addr(), SentinelMasterSet: "mymaster", Password: "sentinel-master-pw",
			TrackingPrefixes: []string{"ns:"}})
		if !s.Tracking() {
			t.Fatal("Tracking() = false through a Sentinel")
		}
		rec := newRecorder().listen(t, s)
		if err := master.Do("SET", "ns:k", "x").Error(); err != nil {
			t.Fatal(err)
		}
		rec.waitKey(t, "ns:k")
	})
	// A store built without prefixes tracks once a Cache registers its
	// namespace.
	t.Run("track", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Options{Addr: sentinel.Addr(), SentinelMasterSet: "mymaster", Password: "sentinel-master-pw"})
		if err := s.Track("tr:"); err != nil {
			t.Fatalf("Track through a Sentinel: %v", err)
		}
		if !s.Tracking() {
			t.Fatal("Tracking() = false after Track through a Sentinel")
		}
		rec := newRecorder().listen(t, s)
		for _, k := range []string{"other:k", "tr:k"} {
			if err := master.Do("SET", k, "x").Error(); err != nil {
				t.Fatal(err)
			}
		}
		rec.waitKey(t, "tr:k")
		if n := rec.count("other:k"); n != 0 {
			t.Errorf("other:k reported %d times, want never", n)
		}
	})
}
