package storetest

import (
	"testing"

	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/redistest"
	"github.com/larderhq/larder/memstore"
	"github.com/larderhq/larder/redisstore"
)

// The modes Open knows, named as driver.Mode names them.
const (
	// ModeMemory is a memstore.
	ModeMemory = string(driver.ModeMemory)
	// ModeRedis is a redisstore on a fresh database of the shared
	// redis-server.
	ModeRedis = string(driver.ModeRedis)
)

// Modes returns the modes of the real stores, in the order that tests run
// them: ModeMemory, then ModeRedis.
func Modes() []string { return []string{ModeMemory, ModeRedis} }

// Open opens a store of mode, one of Modes, closed when tb ends. In
// ModeMemory the store reads clock (nil for the system clock); Redis
// expires entries by its own clock, so ModeRedis ignores it. An unknown
// mode fails tb.
func Open(tb testing.TB, mode string, clock driver.Clock) driver.Store {
	tb.Helper()
	switch mode {
	case ModeMemory:
		return Memory(tb, memstore.Options{Clock: clock})
	case ModeRedis:
		return Redis(tb, redisstore.Options{})
	}
	tb.Fatalf("storetest: no mode %q", mode)
	return nil
}

// Memory opens a memstore with opts, closed when tb ends.
func Memory(tb testing.TB, opts memstore.Options) *memstore.Store {
	tb.Helper()
	s, err := memstore.New(opts)
	if err != nil {
		tb.Fatalf("storetest: memstore.New: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// Redis opens a redisstore with opts, closed when tb ends. When opts has
// neither URL nor Addr, the store uses a fresh database of the shared
// redis-server (redistest.Shared), whatever opts.DB says: a test never
// reaches the default localhost:6379, which may hold someone's data.
// Several stores on one database, as several processes of a service see
// it, take the server's Addr and a database from FreshDB in opts.
func Redis(tb testing.TB, opts redisstore.Options) *redisstore.Store {
	tb.Helper()
	if opts.URL == "" && opts.Addr == "" {
		srv := redistest.Shared(tb)
		opts.Addr, opts.DB = srv.Addr(), srv.FreshDB()
	}
	s, err := redisstore.New(opts)
	if err != nil {
		tb.Fatalf("storetest: redisstore.New: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}
