package cachetest

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/larderhq/larder/driver"
)

// checkGetMany: GetMany returns values in the order asked, a nil slice for
// each missing or expired key and a non-nil empty slice for an empty value,
// and copies like Get.
func checkGetMany(ctx context.Context, s driver.Store, p string) error {
	bs, ok := s.(driver.BatchStore)
	if !ok {
		return &NotImplementedError{Interface: "driver.BatchStore"}
	}
	m := map[string][]byte{p + "a": []byte("va"), p + "b": []byte("vb"), p + "empty": {}}
	if err := setAll(ctx, s, m); err != nil {
		return err
	}
	expired, err := expiring(ctx, s, p+"expired", []byte("gone"), func(key string, ttl time.Duration) error {
		return s.Set(ctx, key, []byte("gone"), ttl)
	})
	if err != nil {
		return err
	}
	keys := []string{p + "a", p + "missing-1", p + "b", p + "empty", expired, p + "missing-2", p + "a"}
	want := [][]byte{[]byte("va"), nil, []byte("vb"), {}, nil, nil, []byte("va")}
	got, err := bs.GetMany(ctx, keys)
	if err != nil {
		return fmt.Errorf("GetMany(%q): %w", keys, err)
	}
	if len(got) != len(want) {
		return fmt.Errorf("GetMany of %d keys returned %d values", len(keys), len(got))
	}
	for i := range want {
		if (got[i] == nil) != (want[i] == nil) || !bytes.Equal(got[i], want[i]) {
			return fmt.Errorf("GetMany(%q)[%d] (key %q) = %s, want %s", keys, i, keys[i], show(got[i]), show(want[i]))
		}
	}
	copy(got[0], "XX")
	if err := wantValue(ctx, s, p+"a", []byte("va")); err != nil {
		return fmt.Errorf("after modifying a slice returned by GetMany: %w", err)
	}
	if !bytes.Equal(got[6], []byte("va")) {
		return fmt.Errorf("modifying one slice returned by GetMany changed another to %s", show(got[6]))
	}
	none, err := bs.GetMany(ctx, nil)
	if err != nil {
		return fmt.Errorf("GetMany of no keys: %w", err)
	}
	if len(none) != 0 {
		return fmt.Errorf("GetMany of no keys returned %d values", len(none))
	}
	return nil
}

// checkSetMany: SetMany stores every item with its own TTL, replaces
// existing values, and copies what it is given.
func checkSetMany(ctx context.Context, s driver.Store, p string) error {
	bs, ok := s.(driver.BatchStore)
	if !ok {
		return &NotImplementedError{Interface: "driver.BatchStore"}
	}
	if err := s.Set(ctx, p+"b", []byte("old"), longTTL); err != nil {
		return fmt.Errorf("calling Set: %w", err)
	}
	items := []driver.Item{
		{Key: p + "a", Value: []byte("va"), TTL: longTTL},
		{Key: p + "b", Value: []byte("vb"), TTL: longTTL},
		{Key: p + "empty", Value: []byte{}, TTL: longTTL},
	}
	if err := bs.SetMany(ctx, items); err != nil {
		return fmt.Errorf("SetMany: %w", err)
	}
	for _, it := range items {
		copy(it.Value, "XX")
	}
	if err := wantValues(ctx, s, map[string][]byte{p + "a": []byte("va"), p + "b": []byte("vb"), p + "empty": {}}); err != nil {
		return fmt.Errorf("after SetMany: %w", err)
	}
	if err := bs.SetMany(ctx, nil); err != nil {
		return fmt.Errorf("SetMany of no items: %w", err)
	}

	// Each item keeps its own TTL.
	long := p + "long"
	if _, err := expiring(ctx, s, p+"short", []byte("short"), func(key string, ttl time.Duration) error {
		return bs.SetMany(ctx, []driver.Item{
			{Key: long, Value: []byte("long"), TTL: longTTL},
			{Key: key, Value: []byte("short"), TTL: ttl},
		})
	}); err != nil {
		return fmt.Errorf("item with a short TTL: %w", err)
	}
	if err := wantValue(ctx, s, long, []byte("long")); err != nil {
		return fmt.Errorf("item with a long TTL next to one with a short TTL: %w", err)
	}
	return nil
}

// checkCount: Count counts live matching keys without removing them, and
// follows deletes, expiry and Clear.
func checkCount(ctx context.Context, s driver.Store, p string) error {
	c, ok := s.(driver.KeyCounter)
	if !ok {
		return &NotImplementedError{Interface: "driver.KeyCounter"}
	}
	wantCount := func(pattern string, want int) error {
		n, err := c.Count(ctx, escape(p)+pattern)
		if err != nil {
			return fmt.Errorf("Count(%q): %w", escape(p)+pattern, err)
		}
		if n != want {
			return fmt.Errorf("Count(%q) = %d, want %d", escape(p)+pattern, n, want)
		}
		return nil
	}
	m := map[string][]byte{}
	for i := range 7 {
		m[fmt.Sprintf("%sc:%d", p, i)] = []byte("v")
	}
	for i := range 3 {
		m[fmt.Sprintf("%sd:%d", p, i)] = []byte("v")
	}
	if err := setAll(ctx, s, m); err != nil {
		return err
	}
	for _, tc := range []struct {
		pattern string
		want    int
	}{{"c:*", 7}, {"?:*", 10}, {"c:[0-2]", 3}, {"c:\\*", 0}, {"e:*", 0}} {
		if err := wantCount(tc.pattern, tc.want); err != nil {
			return err
		}
	}
	if err := wantValues(ctx, s, m); err != nil {
		return fmt.Errorf("calling Count removed a key: %w", err)
	}
	if err := wantDelete(ctx, s, 1, p+"c:0"); err != nil {
		return err
	}
	if err := wantCount("c:*", 6); err != nil {
		return fmt.Errorf("after Delete: %w", err)
	}
	if _, err := expiring(ctx, s, p+"c:short", []byte("v"), func(key string, ttl time.Duration) error {
		return s.Set(ctx, key, []byte("v"), ttl)
	}); err != nil {
		return err
	}
	if err := wantCount("c:*", 6); err != nil {
		return fmt.Errorf("after expiry: %w", err)
	}
	if err := wantClear(ctx, s, escape(p)+"c:*", 6); err != nil {
		return err
	}
	if err := wantCount("c:*", 0); err != nil {
		return fmt.Errorf("after Clear: %w", err)
	}
	return wantCount("d:*", 3)
}
