package memstore

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/larderhq/larder/cachetest"
	"github.com/larderhq/larder/driver"
)

func TestNewOptions(t *testing.T) {
	tests := []struct {
		name          string
		opts          Options
		wantErr       error
		wantMaximum   uint64
		wantMaxWeight int64
	}{
		{"zero value uses the default", Options{}, nil, uint64(DefaultMaxBytes), DefaultMaxBytes},
		{"explicit bound", Options{MaxBytes: 1 << 20}, nil, 1 << 20, 1 << 20},
		{"bound above otter's entry weight", Options{MaxBytes: 8 << 30}, nil, 8 << 30, math.MaxUint32},
		{"negative bound", Options{MaxBytes: -1}, driver.ErrInvalidOptions, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.opts)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("New(%+v) error = %v, want %v", tc.opts, err, tc.wantErr)
			}
			if err != nil {
				if s != nil {
					t.Errorf("New returned a store with an error")
				}
				return
			}
			defer s.Close()
			if got := s.cache.GetMaximum(); got != tc.wantMaximum {
				t.Errorf("otter maximum = %d, want %d", got, tc.wantMaximum)
			}
			if s.maxWeight != tc.wantMaxWeight {
				t.Errorf("largest entry accepted = %d, want %d", s.maxWeight, tc.wantMaxWeight)
			}
		})
	}
}

// TestCloseStopsClockTicker checks that Close stops the ticker that the
// adapter runs for an injected clock, which otter would leave running.
func TestCloseStopsClockTicker(t *testing.T) {
	s, err := New(Options{Clock: cachetest.NewClock(time.Unix(0, 0))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.clock.mu.Lock()
	stopped := s.clock.stopped
	s.clock.mu.Unlock()
	if !stopped {
		t.Error("the clock adapter was not stopped by Close")
	}
	if ch := s.clock.Tick(time.Second); ch != nil {
		t.Error("a stopped clock adapter still hands out ticks")
	}
}
