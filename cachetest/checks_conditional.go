package cachetest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/larderhq/larder/driver"
)

// conditional returns s as a driver.ConditionalStore, or the error that
// makes Run skip the check.
func conditional(s driver.Store) (driver.ConditionalStore, error) {
	cs, ok := s.(driver.ConditionalStore)
	if !ok {
		return nil, &NotImplementedError{Interface: "driver.ConditionalStore"}
	}
	return cs, nil
}

// wantSetNX checks what SetNX reports.
func wantSetNX(ctx context.Context, cs driver.ConditionalStore, key string, v []byte, ttl time.Duration, want bool) error {
	ok, err := cs.SetNX(ctx, key, v, ttl)
	if err != nil {
		return fmt.Errorf("SetNX(%q): %w", key, err)
	}
	if ok != want {
		return fmt.Errorf("SetNX(%q) = %v, want %v", key, ok, want)
	}
	return nil
}

// wantCAS checks what CompareAndSwap reports.
func wantCAS(ctx context.Context, cs driver.ConditionalStore, key string, old, v []byte, ttl time.Duration, want bool) error {
	ok, err := cs.CompareAndSwap(ctx, key, old, v, ttl)
	if err != nil {
		return fmt.Errorf("CompareAndSwap(%q, old %s): %w", key, show(old), err)
	}
	if ok != want {
		return fmt.Errorf("CompareAndSwap(%q, old %s) = %v, want %v", key, show(old), ok, want)
	}
	return nil
}

// wantCAD checks what CompareAndDelete reports.
func wantCAD(ctx context.Context, cs driver.ConditionalStore, key string, old []byte, want bool) error {
	ok, err := cs.CompareAndDelete(ctx, key, old)
	if err != nil {
		return fmt.Errorf("CompareAndDelete(%q, old %s): %w", key, show(old), err)
	}
	if ok != want {
		return fmt.Errorf("CompareAndDelete(%q, old %s) = %v, want %v", key, show(old), ok, want)
	}
	return nil
}

// checkSetNX: SetNX writes an absent key, with its TTL, leaves a present
// one alone, and treats an expired or deleted key as absent.
func checkSetNX(ctx context.Context, s driver.Store, p string) error {
	cs, err := conditional(s)
	if err != nil {
		return err
	}
	key := p + "k"
	if err := wantSetNX(ctx, cs, key, []byte("first"), longTTL, true); err != nil {
		return fmt.Errorf("absent key: %w", err)
	}
	if err := wantValue(ctx, s, key, []byte("first")); err != nil {
		return err
	}
	if err := wantSetNX(ctx, cs, key, []byte("second"), longTTL, false); err != nil {
		return fmt.Errorf("present key: %w", err)
	}
	if err := wantValue(ctx, s, key, []byte("first")); err != nil {
		return fmt.Errorf("after a refused SetNX: %w", err)
	}
	if err := wantDelete(ctx, s, 1, key); err != nil {
		return err
	}
	if err := wantSetNX(ctx, cs, key, []byte("third"), longTTL, true); err != nil {
		return fmt.Errorf("deleted key: %w", err)
	}

	// SetNX sets the TTL, and an expired key is absent.
	short, err := expiring(ctx, s, p+"short", []byte("short"), func(key string, ttl time.Duration) error {
		return wantSetNX(ctx, cs, key, []byte("short"), ttl, true)
	})
	if err != nil {
		return fmt.Errorf("SetNX with a short TTL: %w", err)
	}
	if err := wantSetNX(ctx, cs, short, []byte("again"), longTTL, true); err != nil {
		return fmt.Errorf("expired key: %w", err)
	}
	return wantValue(ctx, s, short, []byte("again"))
}

// checkSetNXConcurrent: of many goroutines racing SetNX on one absent key,
// exactly one wins, and its value is the one stored.
func checkSetNXConcurrent(ctx context.Context, s driver.Store, p string) error {
	cs, err := conditional(s)
	if err != nil {
		return err
	}
	const (
		rounds  = 5
		racers  = 32
		noOwner = -1
	)
	for r := range rounds {
		key := fmt.Sprintf("%slease:%d", p, r)
		var (
			mu      sync.Mutex
			winners []int
			first   error
			wg      sync.WaitGroup
		)
		start := make(chan struct{})
		for i := range racers {
			wg.Go(func() {
				<-start
				err := protect(func() error {
					ok, err := cs.SetNX(ctx, key, []byte(strconv.Itoa(i)), longTTL)
					if ok {
						mu.Lock()
						winners = append(winners, i)
						mu.Unlock()
					}
					return err
				})
				if err != nil {
					mu.Lock()
					first = cmpErr(first, fmt.Errorf("SetNX(%q): %w", key, err))
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		if first != nil {
			return first
		}
		if len(winners) != 1 {
			return fmt.Errorf("round %d: %d of %d concurrent SetNX calls on one key succeeded (%v), want exactly 1", r, len(winners), racers, winners)
		}
		if err := wantValue(ctx, s, key, []byte(strconv.Itoa(winners[0]))); err != nil {
			return fmt.Errorf("round %d: the winner's value was not kept: %w", r, err)
		}
	}
	return nil
}

// cmpErr keeps the first error of several.
func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// checkCompareAndSwap: CompareAndSwap replaces the value and TTL only when
// the key holds exactly old, and never creates a key.
func checkCompareAndSwap(ctx context.Context, s driver.Store, p string) error {
	cs, err := conditional(s)
	if err != nil {
		return err
	}
	key := p + "k"
	if err := s.Set(ctx, key, []byte("v1"), longTTL); err != nil {
		return fmt.Errorf("calling Set: %w", err)
	}
	if err := wantCAS(ctx, cs, key, []byte("v1"), []byte("v2"), longTTL, true); err != nil {
		return fmt.Errorf("matching old: %w", err)
	}
	if err := wantValue(ctx, s, key, []byte("v2")); err != nil {
		return fmt.Errorf("after a successful swap: %w", err)
	}
	for _, old := range [][]byte{[]byte("v1"), []byte("v"), []byte("v2 "), {}, nil} {
		if err := wantCAS(ctx, cs, key, old, []byte("v3"), longTTL, false); err != nil {
			return fmt.Errorf("mismatching old: %w", err)
		}
	}
	if err := wantValue(ctx, s, key, []byte("v2")); err != nil {
		return fmt.Errorf("after refused swaps: %w", err)
	}

	absent := p + "absent"
	for _, old := range [][]byte{nil, {}, []byte("v1")} {
		if err := wantCAS(ctx, cs, absent, old, []byte("new"), longTTL, false); err != nil {
			return fmt.Errorf("absent key: %w", err)
		}
	}
	if err := wantExists(ctx, s, absent, false); err != nil {
		return fmt.Errorf("a refused swap created the key: %w", err)
	}

	// A swap replaces the TTL: a longer one keeps the entry past the old
	// TTL, a shorter one makes it expire.
	longer := p + "longer"
	if err := s.Set(ctx, longer, []byte("old"), shortTTL); err != nil {
		return fmt.Errorf("calling Set: %w", err)
	}
	if err := wantCAS(ctx, cs, longer, []byte("old"), []byte("new"), longTTL, true); err != nil {
		return err
	}
	if err := sleep(ctx, shortTTL+100*time.Millisecond); err != nil {
		return err
	}
	if err := wantValue(ctx, s, longer, []byte("new")); err != nil {
		return fmt.Errorf("swapping in a longer TTL: %w", err)
	}
	shorter, err := expiring(ctx, s, p+"shorter", []byte("new"), func(key string, ttl time.Duration) error {
		if err := s.Set(ctx, key, []byte("old"), longTTL); err != nil {
			return fmt.Errorf("calling Set: %w", err)
		}
		return wantCAS(ctx, cs, key, []byte("old"), []byte("new"), ttl, true)
	})
	if err != nil {
		return fmt.Errorf("swapping in a shorter TTL: %w", err)
	}

	// An expired entry matches nothing, not even its last value.
	if err := wantCAS(ctx, cs, shorter, []byte("new"), []byte("newer"), longTTL, false); err != nil {
		return fmt.Errorf("expired key: %w", err)
	}
	return wantExists(ctx, s, shorter, false)
}

// checkCompareAndSwapConcurrent: CompareAndSwap is atomic: goroutines that
// increment a counter by read-then-swap lose no increment.
func checkCompareAndSwapConcurrent(ctx context.Context, s driver.Store, p string) error {
	cs, err := conditional(s)
	if err != nil {
		return err
	}
	const (
		workers     = 8
		increments  = 25
		maxAttempts = 10000
	)
	key := p + "counter"
	if err := s.Set(ctx, key, []byte("0"), longTTL); err != nil {
		return fmt.Errorf("calling Set: %w", err)
	}
	err = parallel(workers, workers, func(w int) error {
		for range increments {
			for attempt := 0; ; attempt++ {
				if attempt == maxAttempts {
					return fmt.Errorf("worker %d: no CompareAndSwap succeeded in %d attempts", w, maxAttempts)
				}
				cur, err := s.Get(ctx, key)
				if err != nil {
					return fmt.Errorf("Get(%q): %w", key, err)
				}
				n, err := strconv.Atoi(string(cur))
				if err != nil {
					return fmt.Errorf("Get(%q) = %s, which no worker wrote", key, show(cur))
				}
				ok, err := cs.CompareAndSwap(ctx, key, cur, []byte(strconv.Itoa(n+1)), longTTL)
				if err != nil {
					return fmt.Errorf("CompareAndSwap(%q): %w", key, err)
				}
				if ok {
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := wantValue(ctx, s, key, []byte(strconv.Itoa(workers*increments))); err != nil {
		return fmt.Errorf("concurrent increments were lost: %w", err)
	}
	return nil
}

// checkCompareAndDelete: CompareAndDelete removes a key only when it holds
// exactly old.
func checkCompareAndDelete(ctx context.Context, s driver.Store, p string) error {
	cs, err := conditional(s)
	if err != nil {
		return err
	}
	key := p + "k"
	if err := s.Set(ctx, key, []byte("mine"), longTTL); err != nil {
		return fmt.Errorf("calling Set: %w", err)
	}
	for _, old := range [][]byte{[]byte("theirs"), []byte("min"), []byte("mine "), {}, nil} {
		if err := wantCAD(ctx, cs, key, old, false); err != nil {
			return fmt.Errorf("mismatching old: %w", err)
		}
	}
	if err := wantValue(ctx, s, key, []byte("mine")); err != nil {
		return fmt.Errorf("after refused deletes: %w", err)
	}
	if err := wantCAD(ctx, cs, key, []byte("mine"), true); err != nil {
		return fmt.Errorf("matching old: %w", err)
	}
	if err := wantMissing(ctx, s, key); err != nil {
		return fmt.Errorf("after a successful delete: %w", err)
	}
	if err := wantCAD(ctx, cs, key, []byte("mine"), false); err != nil {
		return fmt.Errorf("already deleted: %w", err)
	}
	for _, old := range [][]byte{nil, {}} {
		if err := wantCAD(ctx, cs, p+"absent", old, false); err != nil {
			return fmt.Errorf("absent key: %w", err)
		}
	}
	return nil
}
