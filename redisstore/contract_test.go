package redisstore

import (
	"testing"

	"github.com/larderhq/larder/cachetest"
	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/redistest"
)

// TestContract holds the store to the driver.Store contract, and to the
// contracts of the optional interfaces it implements, against a real
// server. Each check gets its own store on a fresh database of the shared
// server, so checks that clear "*" cannot disturb each other.
func TestContract(t *testing.T) {
	t.Parallel()
	srv := redistest.Shared(t)
	cachetest.Run(t, func(t *testing.T) driver.Store {
		s, err := New(Options{Addr: srv.Addr(), DB: srv.FreshDB()})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return s // cachetest.Run closes it
	})
}
