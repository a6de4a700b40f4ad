package memstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/larderhq/larder/cachetest"
	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/memstore"
)

// newStore returns a store that is closed when the test ends.
func newStore(t *testing.T, opts memstore.Options) *memstore.Store {
	t.Helper()
	s, err := memstore.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestExpiryWithFakeClock checks the TTL boundaries exactly, which only an
// injected clock allows, through every method that must ignore expired
// entries.
func TestExpiryWithFakeClock(t *testing.T) {
	const ttl = time.Minute
	tests := []struct {
		name        string
		advance     time.Duration
		wantPresent bool
	}{
		{"just written", 0, true},
		{"one nanosecond before the TTL", ttl - time.Nanosecond, true},
		{"at the TTL", ttl, false},
		{"long after the TTL", 24 * time.Hour, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			clock := cachetest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
			s := newStore(t, memstore.Options{Clock: clock})
			if err := s.Set(ctx, "k", []byte("v"), ttl); err != nil {
				t.Fatal(err)
			}
			clock.Advance(tc.advance)

			_, err := s.Get(ctx, "k")
			if got := err == nil; got != tc.wantPresent {
				t.Errorf("Get error = %v, want present %v", err, tc.wantPresent)
			}
			if ok, _ := s.Exists(ctx, "k"); ok != tc.wantPresent {
				t.Errorf("Exists = %v, want %v", ok, tc.wantPresent)
			}
			if n, _ := s.Count(ctx, "*"); (n == 1) != tc.wantPresent {
				t.Errorf("Count = %d, want present %v", n, tc.wantPresent)
			}
			if vs, _ := s.GetMany(ctx, []string{"k"}); (vs[0] != nil) != tc.wantPresent {
				t.Errorf("GetMany = %q, want present %v", vs, tc.wantPresent)
			}
			if ok, _ := s.SetNX(ctx, "k", []byte("new"), ttl); ok == tc.wantPresent {
				t.Errorf("SetNX = %v, want %v", ok, !tc.wantPresent)
			}
		})
	}
}

// TestTTLIsSetByWritesOnly checks that overwrites and swaps restart the
// TTL and reads do not, as in Redis.
func TestTTLIsSetByWritesOnly(t *testing.T) {
	const ttl = 10 * time.Second
	tests := []struct {
		name  string
		touch func(ctx context.Context, s *memstore.Store) error
		// wantExtended reports whether touch at 8s keeps the entry alive
		// at 16s.
		wantExtended bool
	}{
		{"Set", func(ctx context.Context, s *memstore.Store) error { return s.Set(ctx, "k", []byte("v2"), ttl) }, true},
		{"CompareAndSwap", func(ctx context.Context, s *memstore.Store) error {
			_, err := s.CompareAndSwap(ctx, "k", []byte("v"), []byte("v2"), ttl)
			return err
		}, true},
		{"SetMany", func(ctx context.Context, s *memstore.Store) error {
			return s.SetMany(ctx, []driver.Item{{Key: "k", Value: []byte("v2"), TTL: ttl}})
		}, true},
		{"Get", func(ctx context.Context, s *memstore.Store) error { _, err := s.Get(ctx, "k"); return err }, false},
		{"GetMany", func(ctx context.Context, s *memstore.Store) error {
			_, err := s.GetMany(ctx, []string{"k"})
			return err
		}, false},
		{"refused SetNX", func(ctx context.Context, s *memstore.Store) error {
			_, err := s.SetNX(ctx, "k", []byte("v2"), ttl)
			return err
		}, false},
		{"refused CompareAndSwap", func(ctx context.Context, s *memstore.Store) error {
			_, err := s.CompareAndSwap(ctx, "k", []byte("other"), []byte("v2"), ttl)
			return err
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			clock := cachetest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
			s := newStore(t, memstore.Options{Clock: clock})
			if err := s.Set(ctx, "k", []byte("v"), ttl); err != nil {
				t.Fatal(err)
			}
			clock.Advance(8 * time.Second)
			if err := tc.touch(ctx, s); err != nil {
				t.Fatal(err)
			}
			clock.Advance(8 * time.Second)
			if ok, _ := s.Exists(ctx, "k"); ok != tc.wantExtended {
				t.Errorf("16s after the first write, Exists = %v, want %v", ok, tc.wantExtended)
			}
		})
	}
}

func TestTooLarge(t *testing.T) {
	const maxBytes = 1024
	key := "key"
	fits := make([]byte, maxBytes-memstore.EntryOverhead-len(key))
	tooBig := make([]byte, len(fits)+1)
	tests := []struct {
		name  string
		write func(ctx context.Context, s *memstore.Store, v []byte) error
	}{
		{"Set", func(ctx context.Context, s *memstore.Store, v []byte) error { return s.Set(ctx, key, v, time.Minute) }},
		{"SetNX", func(ctx context.Context, s *memstore.Store, v []byte) error {
			_, err := s.SetNX(ctx, key, v, time.Minute)
			return err
		}},
		{"SetMany", func(ctx context.Context, s *memstore.Store, v []byte) error {
			return s.SetMany(ctx, []driver.Item{{Key: key, Value: v, TTL: time.Minute}})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			s := newStore(t, memstore.Options{MaxBytes: maxBytes})
			err := tc.write(ctx, s, tooBig)
			var tl *memstore.TooLargeError
			if !errors.As(err, &tl) {
				t.Fatalf("writing %d bytes: %v, want a *TooLargeError", len(tooBig), err)
			}
			if tl.Key != key || tl.Weight != maxBytes+1 || tl.MaxWeight != maxBytes {
				t.Errorf("TooLargeError = %+v, want key %q, weight %d, max %d", tl, key, maxBytes+1, maxBytes)
			}
			if ok, _ := s.Exists(ctx, key); ok {
				t.Error("the refused entry was stored")
			}
			if err := tc.write(ctx, s, fits); err != nil {
				t.Fatalf("writing %d bytes, which fit exactly: %v", len(fits), err)
			}
			if _, err := s.Get(ctx, key); err != nil {
				t.Errorf("Get of an entry that fits exactly: %v", err)
			}
		})
	}
	t.Run("CompareAndSwap", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t, memstore.Options{MaxBytes: maxBytes})
		if err := s.Set(ctx, key, []byte("old"), time.Minute); err != nil {
			t.Fatal(err)
		}
		var tl *memstore.TooLargeError
		if _, err := s.CompareAndSwap(ctx, key, []byte("old"), tooBig, time.Minute); !errors.As(err, &tl) {
			t.Fatalf("CompareAndSwap to %d bytes: %v, want a *TooLargeError", len(tooBig), err)
		}
		if v, _ := s.Get(ctx, key); !bytes.Equal(v, []byte("old")) {
			t.Errorf("after a refused swap, Get = %q, want %q", v, "old")
		}
	})
}

func TestInvalidArguments(t *testing.T) {
	const ttl = time.Minute
	v := []byte("v")
	tests := []struct {
		name string
		call func(ctx context.Context, s *memstore.Store) error
		want error
	}{
		{"Get empty key", func(ctx context.Context, s *memstore.Store) error { _, err := s.Get(ctx, ""); return err }, driver.ErrInvalidKey},
		{"Set empty key", func(ctx context.Context, s *memstore.Store) error { return s.Set(ctx, "", v, ttl) }, driver.ErrInvalidKey},
		{"Delete empty key", func(ctx context.Context, s *memstore.Store) error { _, err := s.Delete(ctx, "k", ""); return err }, driver.ErrInvalidKey},
		{"Exists empty key", func(ctx context.Context, s *memstore.Store) error { _, err := s.Exists(ctx, ""); return err }, driver.ErrInvalidKey},
		{"SetNX empty key", func(ctx context.Context, s *memstore.Store) error { _, err := s.SetNX(ctx, "", v, ttl); return err }, driver.ErrInvalidKey},
		{"CompareAndSwap empty key", func(ctx context.Context, s *memstore.Store) error {
			_, err := s.CompareAndSwap(ctx, "", v, v, ttl)
			return err
		}, driver.ErrInvalidKey},
		{"CompareAndDelete empty key", func(ctx context.Context, s *memstore.Store) error {
			_, err := s.CompareAndDelete(ctx, "", v)
			return err
		}, driver.ErrInvalidKey},
		{"GetMany empty key", func(ctx context.Context, s *memstore.Store) error {
			_, err := s.GetMany(ctx, []string{"k", ""})
			return err
		}, driver.ErrInvalidKey},
		{"SetMany empty key", func(ctx context.Context, s *memstore.Store) error {
			return s.SetMany(ctx, []driver.Item{{Key: "k", Value: v, TTL: ttl}, {Key: "", Value: v, TTL: ttl}})
		}, driver.ErrInvalidKey},
		{"Set zero TTL", func(ctx context.Context, s *memstore.Store) error { return s.Set(ctx, "k", v, 0) }, driver.ErrInvalidTTL},
		{"Set negative TTL", func(ctx context.Context, s *memstore.Store) error { return s.Set(ctx, "k", v, -time.Second) }, driver.ErrInvalidTTL},
		{"SetNX zero TTL", func(ctx context.Context, s *memstore.Store) error { _, err := s.SetNX(ctx, "k", v, 0); return err }, driver.ErrInvalidTTL},
		{"SetMany zero TTL", func(ctx context.Context, s *memstore.Store) error {
			return s.SetMany(ctx, []driver.Item{{Key: "k", Value: v, TTL: ttl}, {Key: "k2", Value: v}})
		}, driver.ErrInvalidTTL},
		{"Clear pattern Redis never matches", func(ctx context.Context, s *memstore.Store) error {
			_, err := s.Clear(ctx, manyStars(1001))
			return err
		}, driver.ErrInvalidPattern},
		{"Count pattern Redis never matches", func(ctx context.Context, s *memstore.Store) error {
			_, err := s.Count(ctx, manyStars(1001))
			return err
		}, driver.ErrInvalidPattern},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			s := newStore(t, memstore.Options{})
			if err := tc.call(ctx, s); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want an error wrapping %v", err, tc.want)
			}
			// A refused call changes nothing, even in a batch whose first
			// item was valid.
			if n, _ := s.Count(ctx, "*"); n != 0 {
				t.Errorf("a refused call left %d entries", n)
			}
		})
	}
}

// manyStars returns a pattern with n runs of * each followed by a byte.
func manyStars(n int) string {
	var b bytes.Buffer
	for range n {
		b.WriteString("*a")
	}
	return b.String()
}

// flakyCtx is a context whose Err starts reporting cancellation after a
// number of calls, to cancel a long operation at a known point.
type flakyCtx struct {
	context.Context
	calls, after atomic.Int64
}

func (c *flakyCtx) Err() error {
	if c.calls.Add(1) > c.after.Load() {
		return context.Canceled
	}
	return nil
}

// TestClearStopsWhenCanceled checks that Clear notices a context canceled
// partway and reports what it removed until then.
func TestClearStopsWhenCanceled(t *testing.T) {
	const keys = 10000
	ctx := t.Context()
	s := newStore(t, memstore.Options{})
	for i := range keys {
		if err := s.Set(ctx, fmt.Sprintf("k:%d", i), []byte("v"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	fc := &flakyCtx{Context: ctx}
	fc.after.Store(5)
	n, err := s.Clear(fc, "k:*")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Clear error = %v, want context.Canceled", err)
	}
	if n <= 0 || n >= keys {
		t.Errorf("Clear removed %d keys before stopping, want some but not all of %d", n, keys)
	}
	if left, _ := s.Count(ctx, "k:*"); left != keys-n {
		t.Errorf("%d keys left, want %d - %d = %d", left, keys, n, keys-n)
	}
}

// TestClearLiteralPattern checks the shortcut for patterns that name a
// single key, including escaped metacharacters.
func TestClearLiteralPattern(t *testing.T) {
	tests := []struct {
		pattern string
		want    int
	}{
		{"a*b", 3},
		{`a\*b`, 1},
		{"ab", 1},
		{"missing", 0},
		{"", 0},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			ctx := t.Context()
			s := newStore(t, memstore.Options{})
			for _, k := range []string{"a*b", "axb", "ab"} {
				if err := s.Set(ctx, k, []byte("v"), time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			if n, err := s.Clear(ctx, tc.pattern); err != nil || n != tc.want {
				t.Errorf("Clear(%q) = %d, %v, want %d", tc.pattern, n, err, tc.want)
			}
		})
	}
}

// TestEvictionBoundsBytes checks that the store stays within MaxBytes by
// evicting, and that Size reports the weights.
func TestEvictionBoundsBytes(t *testing.T) {
	const maxBytes = 64 << 10
	ctx := t.Context()
	s := newStore(t, memstore.Options{MaxBytes: maxBytes})
	v := make([]byte, 1000)
	for i := range 500 {
		if err := s.Set(ctx, fmt.Sprintf("k:%03d", i), v, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	// Eviction is asynchronous; Size runs what is pending, but a write that
	// raced with it may need another pass.
	perEntry := uint64(len("k:000") + len(v) + memstore.EntryOverhead)
	deadline := time.Now().Add(5 * time.Second)
	for {
		entries, size := s.Size()
		if size <= maxBytes && entries > 0 && uint64(entries)*perEntry == size {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Size() = %d entries, %d bytes, want at most MaxBytes %d at %d bytes per entry",
				entries, size, maxBytes, perEntry)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSize(t *testing.T) {
	ctx := t.Context()
	s := newStore(t, memstore.Options{})
	items := map[string]string{"a": "", "bb": "12345", "ccc": "x"}
	var want uint64
	for k, v := range items {
		if err := s.Set(ctx, k, []byte(v), time.Minute); err != nil {
			t.Fatal(err)
		}
		want += uint64(len(k) + len(v) + memstore.EntryOverhead)
	}
	if entries, size := s.Size(); entries != len(items) || size != want {
		t.Errorf("Size() = %d, %d, want %d, %d", entries, size, len(items), want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := s.Size(); entries != 0 {
		t.Errorf("after Close, Size() reports %d entries, want 0", entries)
	}
}

func TestCloseTwice(t *testing.T) {
	s, err := memstore.New(memstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := s.Close(); !errors.Is(err, driver.ErrClosed) {
		t.Fatalf("second Close: %v, want an error wrapping driver.ErrClosed", err)
	}
}

// TestReportsLocalMemoryMode checks the optional interfaces through which
// a Cache learns that it may skip the budget and breaker for this store.
func TestReportsLocalMemoryMode(t *testing.T) {
	var s driver.Store = newStore(t, memstore.Options{})
	tests := []struct {
		name string
		ok   bool
	}{
		{"InProcessStore", func() bool { l, ok := s.(driver.InProcessStore); return ok && l.InProcess() }()},
		{"ModeReporter", func() bool { m, ok := s.(driver.ModeReporter); return ok && m.Mode() == driver.ModeMemory }()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.ok {
				t.Errorf("memstore does not report itself through %s", tc.name)
			}
		})
	}
}
