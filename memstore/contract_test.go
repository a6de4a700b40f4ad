package memstore_test

import (
	"testing"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/cachetest"
	"github.com/larderhq/larder/memstore"
)

// TestContract holds memstore to the contract every larder.Store honours.
func TestContract(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) larder.Store {
		s, err := memstore.New(memstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
