package storetest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/larderhq/larder/cachetest"
	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/redistest"
	"github.com/larderhq/larder/internal/storetest"
	"github.com/larderhq/larder/redisstore"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// TestOpen: each mode opens a working store of that mode, and the store
// is closed once the test that opened it has ended.
func TestOpen(t *testing.T) {
	for _, mode := range storetest.Modes() {
		t.Run(mode, func(t *testing.T) {
			var s driver.Store
			t.Run("open", func(t *testing.T) {
				ctx := t.Context()
				s = storetest.Open(t, mode, nil)
				if m := s.(driver.ModeReporter).Mode(); string(m) != mode {
					t.Fatalf("Mode = %q, want %q", m, mode)
				}
				if err := s.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
					t.Fatal(err)
				}
				if v, err := s.Get(ctx, "k"); err != nil || string(v) != "v" {
					t.Fatalf("Get = %q, %v", v, err)
				}
			})
			if err := s.Ping(context.Background()); !errors.Is(err, driver.ErrClosed) {
				t.Fatalf("Ping after the test ended = %v, want ErrClosed", err)
			}
		})
	}
}

// TestOpenMemoryReadsTheClock: in memory mode the store expires entries
// by the clock it is given.
func TestOpenMemoryReadsTheClock(t *testing.T) {
	ctx := t.Context()
	clock := cachetest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	s := storetest.Open(t, storetest.ModeMemory, clock)
	if err := s.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if ok, err := s.Exists(ctx, "k"); ok || err != nil {
		t.Fatalf("Exists at the TTL = %v, %v; want false", ok, err)
	}
}

// TestRedisFreshDatabases: a store opened without an address gets a
// database of its own; two opened on one address and database share keys.
func TestRedisFreshDatabases(t *testing.T) {
	ctx := t.Context()
	a := storetest.Redis(t, redisstore.Options{})
	b := storetest.Redis(t, redisstore.Options{DB: 0})
	if err := a.Set(ctx, "k", []byte("a"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Exists(ctx, "k"); ok || err != nil {
		t.Fatalf("another fresh store sees a's key: %v, %v", ok, err)
	}
	srv := redistest.Shared(t)
	db := srv.FreshDB()
	c := storetest.Redis(t, redisstore.Options{Addr: srv.Addr(), DB: db})
	d := storetest.Redis(t, redisstore.Options{Addr: srv.Addr(), DB: db})
	if err := c.Set(ctx, "k", []byte("c"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, err := d.Get(ctx, "k"); err != nil || string(v) != "c" {
		t.Fatalf("a second client of the database reads %q, %v; want c", v, err)
	}
}
