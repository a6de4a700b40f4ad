package cachetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/larderhq/larder/driver"
)

// checkConcurrentUse: many goroutines setting, reading and deleting both
// their own keys and keys they share never see a torn value, never lose
// their own last write, and never make the store fail.
func checkConcurrentUse(ctx context.Context, s driver.Store, p string) error {
	const (
		writers    = 12
		iterations = 150
		ownKeys    = 4
		sharedKeys = 3
		// Shared values keep one size, so a store that writes in place
		// has the chance to tear them.
		sharedSize = 4096
	)
	ownKey := func(w, i int) string { return fmt.Sprintf("%sown:%d:%d", p, w, i%ownKeys) }
	sharedKey := func(i int) string { return fmt.Sprintf("%sshared:%d", p, i%sharedKeys) }

	return parallel(writers, writers, func(w int) error {
		for i := range iterations {
			// A key of this writer alone: its last write must be read back.
			v := selfCheckingValue(uint32(w), uint32(i), 16+(i*97)%8192)
			k := ownKey(w, i)
			if err := s.Set(ctx, k, v, longTTL); err != nil {
				return fmt.Errorf("writer %d: Set(%q): %w", w, k, err)
			}
			if err := wantValue(ctx, s, k, v); err != nil {
				return fmt.Errorf("writer %d, own key: %w", w, err)
			}

			// A shared key: any whole value written by anyone may be read.
			sk := sharedKey(i + w)
			switch i % 5 {
			case 0, 1:
				sv := selfCheckingValue(uint32(w), uint32(i), sharedSize)
				if err := s.Set(ctx, sk, sv, longTTL); err != nil {
					return fmt.Errorf("writer %d: Set(%q): %w", w, sk, err)
				}
			case 2:
				if _, err := s.Delete(ctx, sk); err != nil {
					return fmt.Errorf("writer %d: Delete(%q): %w", w, sk, err)
				}
			case 3:
				if _, err := s.Exists(ctx, sk); err != nil {
					return fmt.Errorf("writer %d: Exists(%q): %w", w, sk, err)
				}
			}
			got, err := s.Get(ctx, sk)
			switch {
			case errors.Is(err, driver.ErrNotFound):
			case err != nil:
				return fmt.Errorf("writer %d: Get(%q): %w", w, sk, err)
			default:
				if err := checkValue(got); err != nil {
					return fmt.Errorf("writer %d: Get(%q): %w", w, sk, err)
				}
			}
		}
		return nil
	})
}

// storeCall is one call of a store method, for the checks that try every
// method under the same condition.
type storeCall struct {
	name string
	call func(ctx context.Context) error
}

// allCalls returns a call of every method of s, including those of the
// optional interfaces that s implements, all on keys under p.
func allCalls(s driver.Store, p string) []storeCall {
	key, v := p+"k", []byte("v")
	calls := []storeCall{
		{"Get", func(ctx context.Context) error { _, err := s.Get(ctx, key); return err }},
		{"Set", func(ctx context.Context) error { return s.Set(ctx, key, v, longTTL) }},
		{"Delete", func(ctx context.Context) error { _, err := s.Delete(ctx, key); return err }},
		{"Exists", func(ctx context.Context) error { _, err := s.Exists(ctx, key); return err }},
		{"Clear", func(ctx context.Context) error { _, err := s.Clear(ctx, escape(p)+"*"); return err }},
		{"Ping", func(ctx context.Context) error { return s.Ping(ctx) }},
	}
	if cs, ok := s.(driver.ConditionalStore); ok {
		calls = append(calls,
			storeCall{"SetNX", func(ctx context.Context) error { _, err := cs.SetNX(ctx, key, v, longTTL); return err }},
			storeCall{"CompareAndSwap", func(ctx context.Context) error {
				_, err := cs.CompareAndSwap(ctx, key, v, v, longTTL)
				return err
			}},
			storeCall{"CompareAndDelete", func(ctx context.Context) error {
				_, err := cs.CompareAndDelete(ctx, key, v)
				return err
			}},
		)
	}
	if bs, ok := s.(driver.BatchStore); ok {
		calls = append(calls,
			storeCall{"GetMany", func(ctx context.Context) error { _, err := bs.GetMany(ctx, []string{key}); return err }},
			storeCall{"SetMany", func(ctx context.Context) error {
				return bs.SetMany(ctx, []driver.Item{{Key: key, Value: v, TTL: longTTL}})
			}},
		)
	}
	if c, ok := s.(driver.KeyCounter); ok {
		calls = append(calls, storeCall{"Count", func(ctx context.Context) error {
			_, err := c.Count(ctx, escape(p)+"*")
			return err
		}})
	}
	return calls
}

// checkCanceledContext: every method given a context that is already
// canceled, or past its deadline, returns promptly with an error that wraps
// the context's error (so that a Cache can tell a timeout from a failing
// back end).
func checkCanceledContext(ctx context.Context, s driver.Store, p string) error {
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	expired, cancel2 := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel2()
	for _, c := range []struct {
		name string
		ctx  context.Context
	}{{"canceled", canceled}, {"past its deadline", expired}} {
		for _, sc := range allCalls(s, p) {
			start := time.Now()
			err := sc.call(c.ctx)
			if took := time.Since(start); took > prompt {
				return fmt.Errorf("%s with a context %s took %v, want at most %v", sc.name, c.name, took, prompt)
			}
			if err == nil {
				return fmt.Errorf("%s with a context %s returned no error", sc.name, c.name)
			}
			if !errors.Is(err, c.ctx.Err()) {
				return fmt.Errorf("%s with a context %s: %v, want an error wrapping %v", sc.name, c.name, err, c.ctx.Err())
			}
		}
	}
	return nil
}

// checkCallsAfterClose: after Close, every method fails with an error
// wrapping driver.ErrClosed (not, say, a miss), closing again does too,
// and concurrent second closes do not race.
func checkCallsAfterClose(ctx context.Context, s driver.Store, p string) error {
	if err := s.Set(ctx, p+"k", []byte("v"), longTTL); err != nil {
		return fmt.Errorf("calling Set before Close: %w", err)
	}
	if err := s.Close(); err != nil {
		return fmt.Errorf("calling Close: %w", err)
	}
	for _, sc := range allCalls(s, p) {
		if err := sc.call(ctx); !errors.Is(err, driver.ErrClosed) {
			return fmt.Errorf("%s after Close: %v, want an error wrapping driver.ErrClosed", sc.name, err)
		}
	}
	// A second Close is a call after Close like any other.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = protect(s.Close) })
	}
	wg.Wait()
	for _, err := range errs {
		if !errors.Is(err, driver.ErrClosed) {
			return fmt.Errorf("second Close: %v, want an error wrapping driver.ErrClosed", err)
		}
	}
	return nil
}
