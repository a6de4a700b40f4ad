package memstore_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/larderhq/larder/cachetest"
	"github.com/larderhq/larder/memstore"
)

// TestCloseStopsGoroutines checks that Close leaves no goroutine behind,
// with the real clock and with an injected one (whose ticker the store runs
// itself).
func TestCloseStopsGoroutines(t *testing.T) {
	tests := []struct {
		name string
		opts memstore.Options
	}{
		{"real clock", memstore.Options{}},
		{"injected clock", memstore.Options{Clock: cachetest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			s, err := memstore.New(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			for i := range 1000 {
				_ = s.Set(ctx, string(rune('a'+i%26))+"key", []byte("v"), time.Minute)
			}
			if _, err := s.Clear(ctx, "*"); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
