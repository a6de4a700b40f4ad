package redisstore

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/redistest"
)

func TestSetNX(t *testing.T) {
	t.Parallel()
	s, _, _ := sharedStore(t)
	ctx := ctxFor(t, 10*time.Second)
	if ok, err := s.SetNX(ctx, "lease", []byte("a"), time.Minute); !ok || err != nil {
		t.Fatalf("first SetNX = %v, %v", ok, err)
	}
	if ok, err := s.SetNX(ctx, "lease", []byte("b"), time.Minute); ok || err != nil {
		t.Fatalf("second SetNX = %v, %v; want false", ok, err)
	}
	if got, _ := s.Get(ctx, "lease"); string(got) != "a" {
		t.Fatalf("value = %q, want the first writer's", got)
	}
	if _, err := s.SetNX(ctx, "lease", nil, 0); !errors.Is(err, driver.ErrInvalidTTL) {
		t.Fatalf("SetNX with ttl 0: %v, want ErrInvalidTTL", err)
	}
	// A sub-millisecond TTL is rounded up for conditional writes, which
	// must report truthfully whether they wrote.
	if ok, err := s.SetNX(ctx, "tiny", []byte("v"), time.Microsecond); !ok || err != nil {
		t.Fatalf("SetNX with 1µs = %v, %v", ok, err)
	}

	var winners atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if ok, err := s.SetNX(ctx, "race", []byte("v"), time.Minute); err != nil {
				t.Error(err)
			} else if ok {
				winners.Add(1)
			}
		})
	}
	wg.Wait()
	if winners.Load() != 1 {
		t.Fatalf("%d concurrent SetNX won, want 1", winners.Load())
	}
}

func TestCompareAndSwapAndDelete(t *testing.T) {
	t.Parallel()
	s, srv, db := sharedStore(t)
	ctx := ctxFor(t, 10*time.Second)
	tests := []struct {
		name    string
		initial []byte // nil means the key is absent
		op      func(key string) (bool, error)
		want    bool
		after   []byte // nil means the key must be absent
	}{
		{"cas absent", nil, func(k string) (bool, error) { return s.CompareAndSwap(ctx, k, []byte(""), []byte("new"), time.Minute) }, false, nil},
		{"cas match", []byte("old"), func(k string) (bool, error) {
			return s.CompareAndSwap(ctx, k, []byte("old"), []byte("new"), time.Minute)
		}, true, []byte("new")},
		{"cas mismatch", []byte("other"), func(k string) (bool, error) {
			return s.CompareAndSwap(ctx, k, []byte("old"), []byte("new"), time.Minute)
		}, false, []byte("other")},
		{"cas empty matches empty", []byte(""), func(k string) (bool, error) { return s.CompareAndSwap(ctx, k, nil, []byte("x"), time.Minute) }, true, []byte("x")},
		{"cas binary", []byte("\x00\xff"), func(k string) (bool, error) {
			return s.CompareAndSwap(ctx, k, []byte("\x00\xff"), []byte("\xfe"), time.Minute)
		}, true, []byte("\xfe")},
		{"cad match", []byte("old"), func(k string) (bool, error) { return s.CompareAndDelete(ctx, k, []byte("old")) }, true, nil},
		{"cad mismatch", []byte("other"), func(k string) (bool, error) { return s.CompareAndDelete(ctx, k, []byte("old")) }, false, []byte("other")},
		{"cad absent", nil, func(k string) (bool, error) { return s.CompareAndDelete(ctx, k, []byte("")) }, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "cond:" + tt.name
			if tt.initial != nil {
				if err := s.Set(ctx, key, tt.initial, time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			got, err := tt.op(key)
			if err != nil || got != tt.want {
				t.Fatalf("= %v, %v; want %v", got, err, tt.want)
			}
			v, err := s.Get(ctx, key)
			switch {
			case tt.after == nil && !errors.Is(err, driver.ErrNotFound):
				t.Fatalf("after: Get = %q, %v; want not found", v, err)
			case tt.after != nil && string(v) != string(tt.after):
				t.Fatalf("after: Get = %q, %v; want %q", v, err, tt.after)
			}
		})
	}
	// A successful swap replaces the TTL too.
	if err := s.Set(ctx, "cond:ttl", []byte("a"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.CompareAndSwap(ctx, "cond:ttl", []byte("a"), []byte("b"), 10*time.Second); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if pttl, _ := srv.DoDB(db, "PTTL", "cond:ttl").AsInt64(); pttl > 10_000 || pttl < 9_000 {
		t.Fatalf("PTTL after CompareAndSwap = %d, want about 10000", pttl)
	}
	if _, err := s.CompareAndSwap(ctx, "cond:ttl", nil, nil, -1); !errors.Is(err, driver.ErrInvalidTTL) {
		t.Fatalf("CompareAndSwap with a negative ttl: %v", err)
	}
}

// TestScriptsSurviveScriptFlush checks the EVALSHA → EVAL fallback: a
// server that lost its script cache (restart, failover, SCRIPT FLUSH) must
// not break compare-and-swap.
func TestScriptsSurviveScriptFlush(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := newStore(t, Options{Addr: srv.Addr()})
	ctx := ctxFor(t, 10*time.Second)
	for i := range 3 {
		if err := s.Set(ctx, "k", []byte("a"), time.Minute); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.CompareAndSwap(ctx, "k", []byte("a"), []byte("b"), time.Minute); !ok || err != nil {
			t.Fatalf("round %d: CompareAndSwap = %v, %v", i, ok, err)
		}
		if ok, err := s.CompareAndDelete(ctx, "k", []byte("b")); !ok || err != nil {
			t.Fatalf("round %d: CompareAndDelete = %v, %v", i, ok, err)
		}
		if err := srv.Do("SCRIPT", "FLUSH").Error(); err != nil {
			t.Fatal(err)
		}
	}
}
