package cachetest_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/larderhq/larder/cachetest"
	"github.com/larderhq/larder/driver"
)

// TestMapStoreExpiresByItsClock: an entry lives until the store's clock
// reaches its TTL, whatever the method that looks at it, and TTL reports
// the time left by that clock.
func TestMapStoreExpiresByItsClock(t *testing.T) {
	const ttl = time.Minute
	ctx := t.Context()
	clock := cachetest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	s := cachetest.NewMapStore(clock)
	keys := []string{"get", "exists", "count", "getmany", "keys", "ttl", "setnx"}
	present := map[string]func(key string) bool{
		"get":     func(k string) bool { _, err := s.Get(ctx, k); return err == nil },
		"exists":  func(k string) bool { ok, _ := s.Exists(ctx, k); return ok },
		"count":   func(k string) bool { n, _ := s.Count(ctx, k); return n == 1 },
		"getmany": func(k string) bool { vs, _ := s.GetMany(ctx, []string{k}); return vs[0] != nil },
		"keys":    func(k string) bool { return slices.Contains(s.Keys(), k) },
		"ttl":     func(k string) bool { _, ok := s.TTL(k); return ok },
		"setnx":   func(k string) bool { ok, _ := s.SetNX(ctx, k, []byte("new"), ttl); return !ok },
	}
	for _, k := range keys {
		if err := s.Set(ctx, k, []byte("v"), ttl); err != nil {
			t.Fatal(err)
		}
	}
	if left, ok := s.TTL("ttl"); !ok || left != ttl {
		t.Errorf("TTL just after Set = %v, %v; want %v", left, ok, ttl)
	}
	clock.Advance(ttl - time.Nanosecond)
	if left, ok := s.TTL("ttl"); !ok || left != time.Nanosecond {
		t.Errorf("TTL 1ns before expiry = %v, %v; want 1ns", left, ok)
	}
	for _, k := range keys {
		if !present[k](k) {
			t.Errorf("%s: the entry is gone 1ns before its TTL", k)
		}
	}
	clock.Advance(time.Nanosecond)
	for _, k := range keys {
		if present[k](k) {
			t.Errorf("%s: the entry is still there at its TTL", k)
		}
	}
}

// TestMapStoreRefusesWhatTheContractRulesOut: an empty key, a TTL that
// is not positive and a pattern Redis can never match are refused with
// the contract's errors, and SetMany refuses a bad item before it writes
// any.
func TestMapStoreRefusesWhatTheContractRulesOut(t *testing.T) {
	ctx := t.Context()
	s := cachetest.NewMapStore(nil)
	if err := s.Set(ctx, "", []byte("v"), time.Minute); !errors.Is(err, driver.ErrInvalidKey) {
		t.Errorf("Set of the empty key = %v, want ErrInvalidKey", err)
	}
	for _, ttl := range []time.Duration{0, -time.Second} {
		if err := s.Set(ctx, "k", []byte("v"), ttl); !errors.Is(err, driver.ErrInvalidTTL) {
			t.Errorf("Set with ttl %v = %v, want ErrInvalidTTL", ttl, err)
		}
		if _, err := s.SetNX(ctx, "k", []byte("v"), ttl); !errors.Is(err, driver.ErrInvalidTTL) {
			t.Errorf("SetNX with ttl %v = %v, want ErrInvalidTTL", ttl, err)
		}
		if _, err := s.CompareAndSwap(ctx, "k", nil, []byte("v"), ttl); !errors.Is(err, driver.ErrInvalidTTL) {
			t.Errorf("CompareAndSwap with ttl %v = %v, want ErrInvalidTTL", ttl, err)
		}
	}
	items := []driver.Item{{Key: "a", Value: []byte("v"), TTL: time.Minute}, {Key: "b", Value: []byte("v")}}
	if err := s.SetMany(ctx, items); !errors.Is(err, driver.ErrInvalidTTL) {
		t.Errorf("SetMany with a zero TTL = %v, want ErrInvalidTTL", err)
	}
	if keys := s.Keys(); len(keys) != 0 {
		t.Errorf("refused writes left %q", keys)
	}
	// Redis's matcher gives up past 1000 nested runs of *.
	never := strings.Repeat("*a", 1001) + "b"
	if _, err := s.Clear(ctx, never); !errors.Is(err, driver.ErrInvalidPattern) {
		t.Errorf("Clear(%.10s…) = %v, want ErrInvalidPattern", never, err)
	}
}

// TestMapStoreKeysAfterClose: a closed store refuses calls but still
// shows what it held, for a test that inspects it after the code under
// test closed it.
func TestMapStoreKeysAfterClose(t *testing.T) {
	ctx := t.Context()
	s := cachetest.NewMapStore(cachetest.NewClock(time.Unix(0, 0)))
	for _, k := range []string{"b", "a"} {
		if err := s.Set(ctx, k, []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "a"); !errors.Is(err, driver.ErrClosed) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
	if keys := s.Keys(); !slices.Equal(keys, []string{"a", "b"}) {
		t.Errorf("Keys after Close = %q, want [a b]", keys)
	}
	if left, ok := s.TTL("a"); !ok || left != time.Minute {
		t.Errorf("TTL after Close = %v, %v; want 1m, true", left, ok)
	}
}

// TestMapStoreHonoursContext: a call whose context has ended returns its
// error and does nothing.
func TestMapStoreHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s := cachetest.NewMapStore(nil)
	if err := s.Set(ctx, "k", []byte("v"), time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("Set = %v, want context.Canceled", err)
	}
	if keys := s.Keys(); len(keys) != 0 {
		t.Errorf("a canceled Set wrote %q", keys)
	}
}
