package memstore

import (
	"bytes"
	"context"
	"time"

	"github.com/maypok86/otter/v2"
)

// The conditional writes run inside otter's Compute, which holds the lock
// of the key's hash-table bucket while it decides, so the test and the
// write are atomic with respect to every other operation on the key. An
// expired entry that otter has not removed yet is reported as absent.
// The decision functions may run more than once, so they assign their
// result rather than accumulate it.

// SetNX stores a copy of value under key for ttl only if key holds no live
// entry, and reports whether it stored it. It validates its arguments as
// Set does. SetNX is safe for concurrent use: of many concurrent calls for
// the same absent key, exactly one stores its value.
func (s *Store) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := s.begin(ctx, "setnx"); err != nil {
		return false, err
	}
	e, err := s.newEntry("setnx", key, value, ttl)
	if err != nil {
		return false, err
	}
	stored := false
	s.cache.Compute(key, func(cur entry, found bool) (entry, otter.ComputeOp) {
		stored = !found
		if found {
			return cur, otter.CancelOp
		}
		return e, otter.WriteOp
	})
	return stored, nil
}

// CompareAndSwap replaces the value under key with a copy of value, and its
// TTL with ttl, only if key holds a live entry equal to old, and reports
// whether it did. An absent key never matches, not even an empty old. It
// validates its arguments as Set does and is safe for concurrent use.
func (s *Store) CompareAndSwap(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	if err := s.begin(ctx, "compare-and-swap"); err != nil {
		return false, err
	}
	e, err := s.newEntry("compare-and-swap", key, value, ttl)
	if err != nil {
		return false, err
	}
	swapped := false
	s.cache.Compute(key, func(cur entry, found bool) (entry, otter.ComputeOp) {
		swapped = found && bytes.Equal(cur.value, old)
		if !swapped {
			return cur, otter.CancelOp
		}
		return e, otter.WriteOp
	})
	return swapped, nil
}

// CompareAndDelete removes key only if it holds a live entry equal to old,
// and reports whether it did. It is safe for concurrent use.
func (s *Store) CompareAndDelete(ctx context.Context, key string, old []byte) (bool, error) {
	if err := s.begin(ctx, "compare-and-delete"); err != nil {
		return false, err
	}
	if err := checkKey("compare-and-delete", key); err != nil {
		return false, err
	}
	deleted := false
	s.cache.Compute(key, func(cur entry, found bool) (entry, otter.ComputeOp) {
		deleted = found && bytes.Equal(cur.value, old)
		if !deleted {
			return cur, otter.CancelOp
		}
		return cur, otter.InvalidateOp
	})
	return deleted, nil
}
