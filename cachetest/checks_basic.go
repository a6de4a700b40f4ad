package cachetest

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/larderhq/larder/driver"
)

// checkRoundTrip: a value that was set is returned by Get, keys do not
// share values, and Ping succeeds on a working store.
func checkRoundTrip(ctx context.Context, s driver.Store, p string) error {
	if err := s.Ping(ctx); err != nil {
		return fmt.Errorf("calling Ping: %w", err)
	}
	m := map[string][]byte{
		p + "a":          []byte("alpha"),
		p + "b":          []byte("beta"),
		p + "nested:a:b": []byte("gamma"),
	}
	if err := setAll(ctx, s, m); err != nil {
		return err
	}
	return wantValues(ctx, s, m)
}

// checkGetMissing: Get of a key never written, or deleted, fails with an
// error wrapping driver.ErrNotFound.
func checkGetMissing(ctx context.Context, s driver.Store, p string) error {
	if err := wantMissing(ctx, s, p+"never-written"); err != nil {
		return err
	}
	key := p + "deleted"
	if err := s.Set(ctx, key, []byte("v"), longTTL); err != nil {
		return fmt.Errorf("calling Set: %w", err)
	}
	if err := wantDelete(ctx, s, 1, key); err != nil {
		return err
	}
	return wantMissing(ctx, s, key)
}

// checkOverwrite: Set replaces both the value and the TTL of an existing
// entry, whether the new TTL is longer or shorter.
func checkOverwrite(ctx context.Context, s driver.Store, p string) error {
	key := p + "value"
	for _, v := range []string{"first", "second", "third, longer than the others"} {
		if err := s.Set(ctx, key, []byte(v), longTTL); err != nil {
			return fmt.Errorf("Set(%q): %w", key, err)
		}
		if err := wantValue(ctx, s, key, []byte(v)); err != nil {
			return fmt.Errorf("after overwrite: %w", err)
		}
	}

	// Short TTL replaced by a long one: the entry must outlive the old TTL.
	extended := p + "extended"
	if err := s.Set(ctx, extended, []byte("old"), shortTTL); err != nil {
		return fmt.Errorf("Set(%q): %w", extended, err)
	}
	if err := s.Set(ctx, extended, []byte("new"), longTTL); err != nil {
		return fmt.Errorf("Set(%q): %w", extended, err)
	}
	if err := sleep(ctx, shortTTL+100*time.Millisecond); err != nil {
		return err
	}
	if err := wantValue(ctx, s, extended, []byte("new")); err != nil {
		return fmt.Errorf("overwriting with a longer TTL: %w", err)
	}

	// Long TTL replaced by a short one: the entry must expire.
	_, err := expiring(ctx, s, p+"shortened", []byte("new"), func(key string, ttl time.Duration) error {
		if err := s.Set(ctx, key, []byte("old"), longTTL); err != nil {
			return fmt.Errorf("Set(%q): %w", key, err)
		}
		return s.Set(ctx, key, []byte("new"), ttl)
	})
	if err != nil {
		return fmt.Errorf("overwriting with a shorter TTL: %w", err)
	}
	return nil
}

// checkTTLExpiry: an entry is readable before its TTL and gone after it,
// for Get, Exists, Delete and Clear alike, while a neighbour with a long TTL
// stays.
func checkTTLExpiry(ctx context.Context, s driver.Store, p string) error {
	neighbour := p + "neighbour"
	if err := s.Set(ctx, neighbour, []byte("stays"), longTTL); err != nil {
		return fmt.Errorf("calling Set: %w", err)
	}
	value := []byte("expires")
	key, err := expiring(ctx, s, p+"short", value, func(key string, ttl time.Duration) error {
		return s.Set(ctx, key, value, ttl)
	})
	if err != nil {
		return err
	}
	if err := wantExists(ctx, s, key, false); err != nil {
		return fmt.Errorf("after expiry: %w", err)
	}
	if err := wantDelete(ctx, s, 0, key); err != nil {
		return fmt.Errorf("after expiry: %w", err)
	}
	if err := wantClear(ctx, s, escape(key), 0); err != nil {
		return fmt.Errorf("after expiry: %w", err)
	}
	return wantValue(ctx, s, neighbour, []byte("stays"))
}

// checkDeleteCounts: Delete removes exactly the keys it is given and counts
// those that existed, once each.
func checkDeleteCounts(ctx context.Context, s driver.Store, p string) error {
	m := map[string][]byte{}
	for _, k := range []string{"a", "b", "c", "d", "keep"} {
		m[p+k] = []byte("v:" + k)
	}
	if err := setAll(ctx, s, m); err != nil {
		return err
	}
	if err := wantDelete(ctx, s, 1, p+"a"); err != nil {
		return err
	}
	if err := wantMissing(ctx, s, p+"a"); err != nil {
		return fmt.Errorf("after Delete: %w", err)
	}
	if err := wantDelete(ctx, s, 2, p+"b", p+"missing", p+"c"); err != nil {
		return err
	}
	if err := wantDelete(ctx, s, 1, p+"d", p+"d"); err != nil {
		return fmt.Errorf("a key given twice counts once: %w", err)
	}
	if err := wantAllMissing(ctx, s, p+"b", p+"c", p+"d"); err != nil {
		return fmt.Errorf("after Delete: %w", err)
	}
	if err := wantDelete(ctx, s, 0); err != nil {
		return fmt.Errorf("no keys at all: %w", err)
	}
	return wantValue(ctx, s, p+"keep", []byte("v:keep"))
}

// checkDeleteMissing: deleting keys that do not exist is not an error and
// counts nothing.
func checkDeleteMissing(ctx context.Context, s driver.Store, p string) error {
	if err := wantDelete(ctx, s, 0, p+"missing"); err != nil {
		return err
	}
	return wantDelete(ctx, s, 0, p+"missing-1", p+"missing-2", p+"missing-3")
}

// checkExists: Exists follows an entry through its life: absent, set,
// deleted, set again with a short TTL, expired.
func checkExists(ctx context.Context, s driver.Store, p string) error {
	key := p + "k"
	if err := wantExists(ctx, s, key, false); err != nil {
		return fmt.Errorf("before Set: %w", err)
	}
	if err := s.Set(ctx, key, []byte("v"), longTTL); err != nil {
		return fmt.Errorf("calling Set: %w", err)
	}
	if err := wantExists(ctx, s, key, true); err != nil {
		return fmt.Errorf("after Set: %w", err)
	}
	if err := wantDelete(ctx, s, 1, key); err != nil {
		return err
	}
	if err := wantExists(ctx, s, key, false); err != nil {
		return fmt.Errorf("after Delete: %w", err)
	}
	short, err := expiring(ctx, s, p+"short", []byte("v"), func(key string, ttl time.Duration) error {
		if err := s.Set(ctx, key, []byte("v"), ttl); err != nil {
			return err
		}
		return wantExists(ctx, s, key, true)
	})
	if err != nil {
		return err
	}
	if err := wantExists(ctx, s, short, false); err != nil {
		return fmt.Errorf("after expiry: %w", err)
	}
	return nil
}

// checkEmptyValue: an empty value is a value, not a miss, whether given as
// an empty slice or as nil.
func checkEmptyValue(ctx context.Context, s driver.Store, p string) error {
	for name, v := range map[string][]byte{"empty": {}, "nil": nil} {
		key := p + name
		if err := s.Set(ctx, key, v, longTTL); err != nil {
			return fmt.Errorf("Set(%q, %s): %w", key, show(v), err)
		}
		got, err := s.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("Get(%q) of an empty value: %w", key, err)
		}
		if len(got) != 0 {
			return fmt.Errorf("Get(%q) = %s, want an empty value", key, show(got))
		}
		if err := wantExists(ctx, s, key, true); err != nil {
			return fmt.Errorf("empty value: %w", err)
		}
	}
	return nil
}

// checkBinaryValues: values are bytes, not text: zero bytes, invalid UTF-8
// and every byte value survive the round trip.
func checkBinaryValues(ctx context.Context, s driver.Store, p string) error {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	m := map[string][]byte{
		p + "zero":         {0},
		p + "zeros":        {0, 0, 0, 0},
		p + "inner-zero":   []byte("a\x00b"),
		p + "trailing-nul": []byte("abc\x00"),
		p + "invalid-utf8": {0xff, 0xfe, 0xc3, 0x28},
		p + "lone-cont":    {0x80},
		p + "every-byte":   all,
		p + "crlf":         []byte("line\r\nline\r\n"),
	}
	if err := setAll(ctx, s, m); err != nil {
		return err
	}
	return wantValues(ctx, s, m)
}

// checkBinaryKeys: keys are used exactly as given, so keys that differ only
// in bytes a text-minded store might mangle stay distinct.
func checkBinaryKeys(ctx context.Context, s driver.Store, p string) error {
	keys := []string{
		p + "k",
		p + "k\x00",
		p + "k\x00x",
		p + "k ",
		p + "k\t",
		p + "K",
		p + "\xff\xfe",
		p + "ключ",
		p + "k\r\nSET x y",
	}
	m := map[string][]byte{}
	for i, k := range keys {
		m[k] = []byte(fmt.Sprintf("value %d", i))
	}
	if err := setAll(ctx, s, m); err != nil {
		return err
	}
	if err := wantValues(ctx, s, m); err != nil {
		return err
	}
	// The NUL must not end the pattern either.
	if err := wantClear(ctx, s, escape(p+"k\x00")+"*", 2); err != nil {
		return err
	}
	delete(m, p+"k\x00")
	delete(m, p+"k\x00x")
	return wantValues(ctx, s, m)
}

// checkLargeValue: a 4 MiB value round-trips intact and can be replaced by
// a small one.
func checkLargeValue(ctx context.Context, s driver.Store, p string) error {
	key := p + "large"
	v := pseudoRandom(4<<20, 1)
	if err := s.Set(ctx, key, v, longTTL); err != nil {
		return fmt.Errorf("storing %d bytes: %w", len(v), err)
	}
	got, err := s.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("reading %d bytes back: %w", len(v), err)
	}
	if !bytes.Equal(got, v) {
		return fmt.Errorf("read back %d bytes that differ from the %d written", len(got), len(v))
	}
	if err := s.Set(ctx, key, []byte("small"), longTTL); err != nil {
		return fmt.Errorf("calling Set: %w", err)
	}
	return wantValue(ctx, s, key, []byte("small"))
}

// checkValuesAreCopied: the store keeps its own copy of what it is given
// and hands out copies, so no caller can change a stored value or another
// caller's result by writing into a slice.
func checkValuesAreCopied(ctx context.Context, s driver.Store, p string) error {
	key := p + "k"
	in := []byte("original")
	if err := s.Set(ctx, key, in, longTTL); err != nil {
		return fmt.Errorf("calling Set: %w", err)
	}
	copy(in, "XXXXXXXX")
	if err := wantValue(ctx, s, key, []byte("original")); err != nil {
		return fmt.Errorf("after modifying the slice given to Set: %w", err)
	}

	first, err := s.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("calling Get: %w", err)
	}
	second, err := s.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("calling Get: %w", err)
	}
	copy(first, "YYYYYYYY")
	if !bytes.Equal(second, []byte("original")) {
		return fmt.Errorf("modifying the slice from one Get changed the slice from another to %s", show(second))
	}
	if err := wantValue(ctx, s, key, []byte("original")); err != nil {
		return fmt.Errorf("after modifying the slice returned by Get: %w", err)
	}
	return nil
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
