package memstore_test

import (
	"testing"

	"github.com/larderhq/larder/cachetest"
	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/memstore"
)

// TestContract holds memstore to the contract every driver.Store honours.
func TestContract(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) driver.Store {
		s, err := memstore.New(memstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
