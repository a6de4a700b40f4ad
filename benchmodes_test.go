package larder_test

import (
	"testing"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/internal/storetest"
)

// benchMode is modes for benchmarks (and tests) that take a testing.TB: a
// Cache with options o on a memstore ("memory") or on a fresh database of
// the shared redis-server ("redis"), warmed up and closed when tb ends.
// The wall-clock figures that tests do not assert are measured on these.
func benchMode(tb testing.TB, name string, o larder.Options) *larder.Cache {
	tb.Helper()
	o.Store = storetest.Open(tb, name, nil)
	c, err := larder.New(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	warm(tb, c)
	return c
}
