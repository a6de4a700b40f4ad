package redisstore

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/larderhq/larder/driver"
)

func TestClearAndCount(t *testing.T) {
	t.Parallel()
	s, _, _ := sharedStore(t)
	ctx := ctxFor(t, 30*time.Second)
	var items []driver.Item
	for i := range 2500 { // several SCAN batches
		items = append(items, driver.Item{Key: "app:user:" + strconv.Itoa(i), Value: []byte("v"), TTL: time.Minute})
	}
	for _, k := range []string{"app:list:1", "app:list:2", "app:user", "other:user:1", "app:*lit"} {
		items = append(items, driver.Item{Key: k, Value: []byte("v"), TTL: time.Minute})
	}
	if err := s.SetMany(ctx, items); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pattern   string
		wantCount int
		wantClear int
	}{
		{"app:list:?", 2, 2},
		{"app:list:?", 0, 0},
		{`app:\*lit`, 1, 1}, // literal: the fast path
		{"app:user", 1, 1},  // literal too
		{"app:user:*", 2500, 2500},
		{"nothing:*", 0, 0},
		{"", 0, 0}, // matches only the empty key
		{"*", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			n, err := s.Count(ctx, tt.pattern)
			if err != nil || n != tt.wantCount {
				t.Fatalf("Count(%q) = %d, %v; want %d", tt.pattern, n, err, tt.wantCount)
			}
			n, err = s.Clear(ctx, tt.pattern)
			if err != nil || n != tt.wantClear {
				t.Fatalf("Clear(%q) = %d, %v; want %d", tt.pattern, n, err, tt.wantClear)
			}
		})
	}
}

func TestClearInvalidPattern(t *testing.T) {
	t.Parallel()
	s, _, _ := sharedStore(t)
	ctx := ctxFor(t, 10*time.Second)
	// More than 1000 runs of * followed by more pattern: Redis accepts it
	// and never matches, so the store refuses it.
	pattern := strings.Repeat("*a", 1001)
	if _, err := s.Clear(ctx, pattern); !errors.Is(err, driver.ErrInvalidPattern) {
		t.Fatalf("Clear: %v, want ErrInvalidPattern", err)
	}
	if _, err := s.Count(ctx, pattern); !errors.Is(err, driver.ErrInvalidPattern) {
		t.Fatalf("Count: %v, want ErrInvalidPattern", err)
	}
}
