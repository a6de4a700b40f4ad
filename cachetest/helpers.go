package cachetest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/glob"
)

const (
	// longTTL is the TTL of entries that must outlive the check. It is
	// short enough that keys a failed check leaves on a shared server go
	// away by themselves.
	longTTL = 5 * time.Minute
	// shortTTL is the TTL of entries that a check waits to see expire:
	// long enough to read the entry back first even over a network, short
	// enough to keep the suite fast.
	shortTTL = 150 * time.Millisecond
	// expiryGrace is how long after its TTL an entry may still be seen.
	// Stores that expire lazily on read (memstore, Redis) need none, but
	// the reads themselves take time under load.
	expiryGrace = 2 * time.Second
	// pollInterval is the pause between reads while waiting for expiry.
	pollInterval = 10 * time.Millisecond
	// prompt is how soon a call with a done context must return.
	prompt = time.Second
)

// escape returns a glob pattern that matches exactly s, for building
// patterns from prefixes and keys that may contain metacharacters.
func escape(s string) string { return glob.Escape(s) }

// wantValue checks that key holds exactly want.
func wantValue(ctx context.Context, s driver.Store, key string, want []byte) error {
	got, err := s.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("Get(%q): %w, want %s", key, err, show(want))
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("Get(%q) = %s, want %s", key, show(got), show(want))
	}
	return nil
}

// wantValues checks wantValue for every key of m.
func wantValues(ctx context.Context, s driver.Store, m map[string][]byte) error {
	for k, v := range m {
		if err := wantValue(ctx, s, k, v); err != nil {
			return err
		}
	}
	return nil
}

// wantMissing checks that Get of key fails with driver.ErrNotFound.
func wantMissing(ctx context.Context, s driver.Store, key string) error {
	got, err := s.Get(ctx, key)
	switch {
	case err == nil:
		return fmt.Errorf("Get(%q) = %s, want an error wrapping driver.ErrNotFound", key, show(got))
	case !errors.Is(err, driver.ErrNotFound):
		return fmt.Errorf("Get(%q): %v, want an error wrapping driver.ErrNotFound", key, err)
	}
	return nil
}

// wantAllMissing checks wantMissing for every key.
func wantAllMissing(ctx context.Context, s driver.Store, keys ...string) error {
	for _, k := range keys {
		if err := wantMissing(ctx, s, k); err != nil {
			return err
		}
	}
	return nil
}

// wantExists checks what Exists reports for key.
func wantExists(ctx context.Context, s driver.Store, key string, want bool) error {
	got, err := s.Exists(ctx, key)
	if err != nil {
		return fmt.Errorf("Exists(%q): %w", key, err)
	}
	if got != want {
		return fmt.Errorf("Exists(%q) = %v, want %v", key, got, want)
	}
	return nil
}

// wantDelete checks the count that Delete returns for keys.
func wantDelete(ctx context.Context, s driver.Store, want int, keys ...string) error {
	n, err := s.Delete(ctx, keys...)
	if err != nil {
		return fmt.Errorf("Delete(%q): %w", keys, err)
	}
	if n != want {
		return fmt.Errorf("Delete(%q) = %d, want %d", keys, n, want)
	}
	return nil
}

// wantClear checks the count that Clear returns for pattern.
func wantClear(ctx context.Context, s driver.Store, pattern string, want int) error {
	n, err := s.Clear(ctx, pattern)
	if err != nil {
		return fmt.Errorf("Clear(%q): %w", pattern, err)
	}
	if n != want {
		return fmt.Errorf("Clear(%q) = %d, want %d", pattern, n, want)
	}
	return nil
}

// setAll stores every entry of m with longTTL.
func setAll(ctx context.Context, s driver.Store, m map[string][]byte) error {
	for k, v := range m {
		if err := s.Set(ctx, k, v, longTTL); err != nil {
			return fmt.Errorf("Set(%q): %w", k, err)
		}
	}
	return nil
}

// waitGone polls key until Get reports it missing, and fails if it is still
// there expiryGrace after ttl has passed since written.
func waitGone(ctx context.Context, s driver.Store, key string, written time.Time, ttl time.Duration) error {
	deadline := written.Add(ttl + expiryGrace)
	for {
		_, err := s.Get(ctx, key)
		switch {
		case errors.Is(err, driver.ErrNotFound):
			return nil
		case err != nil:
			return fmt.Errorf("Get(%q) while waiting for expiry: %w", key, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("Get(%q) still returns the entry %v after it was written with a TTL of %v",
				key, time.Since(written).Round(time.Millisecond), ttl)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %q to expire: %w", key, ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// expiring writes an entry with a short TTL through write, checks that it
// can be read back before the TTL passes, and then that it expires. It
// returns the key it used.
//
// A read that comes back only after the TTL has passed proves nothing
// either way, so then expiring tries again with a fresh key and a longer
// TTL, rather than fail a slow but correct store or pass an early-expiring
// one. write must store value under key with the given ttl.
func expiring(ctx context.Context, s driver.Store, base string, value []byte,
	write func(key string, ttl time.Duration) error,
) (string, error) {
	ttl := shortTTL
	for attempt := range 4 {
		key := fmt.Sprintf("%s#%d", base, attempt)
		written := time.Now()
		if err := write(key, ttl); err != nil {
			return key, err
		}
		got, err := s.Get(ctx, key)
		elapsed := time.Since(written)
		switch {
		case err == nil && !bytes.Equal(got, value):
			return key, fmt.Errorf("Get(%q) = %s right after writing %s", key, show(got), show(value))
		case err == nil:
			return key, waitGone(ctx, s, key, written, ttl)
		case !errors.Is(err, driver.ErrNotFound):
			return key, fmt.Errorf("Get(%q): %w", key, err)
		case elapsed < ttl:
			return key, fmt.Errorf("Get(%q) reported the entry missing %v after writing it with a TTL of %v",
				key, elapsed.Round(time.Millisecond), ttl)
		}
		ttl *= 4
	}
	return base, fmt.Errorf("could not read %q back within its TTL in four attempts, the last with a TTL of %v", base, ttl/4)
}

// show formats a value for an error message, shortened if it is long.
func show(b []byte) string {
	if b == nil {
		return "nil"
	}
	if len(b) > 48 {
		return fmt.Sprintf("%q... (%d bytes)", b[:48], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// selfCheckingValue returns a value of size bytes (at least 16) that
// records who wrote it: a header with writer, seq and size, then bytes
// generated from them. checkValue recomputes the bytes, so a value spliced
// together from two writes, or truncated, or altered, never passes.
func selfCheckingValue(writer, seq uint32, size int) []byte {
	size = max(size, 16)
	b := make([]byte, size)
	binary.BigEndian.PutUint32(b[0:], writer)
	binary.BigEndian.PutUint32(b[4:], seq)
	binary.BigEndian.PutUint64(b[8:], uint64(size))
	fill(b[16:], writer, seq)
	return b
}

// fill writes bytes determined by writer and seq into b.
func fill(b []byte, writer, seq uint32) {
	r := rand.New(rand.NewPCG(uint64(writer), uint64(seq)))
	for i := 0; i < len(b); i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], r.Uint64())
		copy(b[i:], w[:])
	}
}

// checkValue verifies a value made by selfCheckingValue.
func checkValue(b []byte) error {
	if len(b) < 16 {
		return fmt.Errorf("value of %d bytes is too short to be one that was written", len(b))
	}
	writer := binary.BigEndian.Uint32(b[0:])
	seq := binary.BigEndian.Uint32(b[4:])
	if size := binary.BigEndian.Uint64(b[8:]); size != uint64(len(b)) {
		return fmt.Errorf("value from writer %d, write %d has %d bytes, its header says %d", writer, seq, len(b), size)
	}
	want := make([]byte, len(b)-16)
	fill(want, writer, seq)
	if !bytes.Equal(b[16:], want) {
		return fmt.Errorf("value from writer %d, write %d is torn or corrupted", writer, seq)
	}
	return nil
}

// pseudoRandom returns n deterministic bytes that cover every byte value.
func pseudoRandom(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// parallel runs fn(i) for i in [0, n) on at most workers goroutines and
// returns the first error, turning a panic into an error as runCheck does.
// It stops handing out work after the first error.
func parallel(n, workers int, fn func(i int) error) error {
	var (
		mu    sync.Mutex
		next  int
		first error
		wg    sync.WaitGroup
	)
	for range min(workers, n) {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				stop := first != nil || i >= n
				mu.Unlock()
				if stop {
					return
				}
				if err := protect(func() error { return fn(i) }); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return first
}

// protect calls fn, turning a panic into an error.
func protect(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return fn()
}
