package memstore

import (
	"context"
	"fmt"

	"github.com/larderhq/larder/driver"
)

// GetMany returns copies of the values of keys, in the same order, with a
// nil slice for each key that holds no live entry (an empty value is an
// empty, non-nil slice). It fails as a whole only for a closed store, a
// done ctx or an empty key. GetMany is safe for concurrent use; it is not a
// snapshot, since other writers may run between its reads.
func (s *Store) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	if err := s.begin(ctx, "get-many"); err != nil {
		return nil, err
	}
	for _, key := range keys {
		if err := checkKey("get-many", key); err != nil {
			return nil, err
		}
	}
	values := make([][]byte, len(keys))
	for i, key := range keys {
		if i%ctxCheckEvery == ctxCheckEvery-1 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("memstore: get-many: %w", err)
			}
		}
		if e, ok := s.cache.GetIfPresent(key); ok {
			values[i] = clone(e.value)
		}
	}
	return values, nil
}

// SetMany stores a copy of every item with its own TTL. Every item is
// validated as Set validates it before any is stored, so an invalid item
// stores nothing; once writing starts, a done ctx may leave some items
// stored and others not, as the driver.BatchStore contract allows. SetMany
// is safe for concurrent use.
func (s *Store) SetMany(ctx context.Context, items []driver.Item) error {
	if err := s.begin(ctx, "set-many"); err != nil {
		return err
	}
	entries := make([]entry, len(items))
	for i, it := range items {
		e, err := s.newEntry("set-many", it.Key, it.Value, it.TTL)
		if err != nil {
			return err
		}
		entries[i] = e
	}
	for i, it := range items {
		if i%ctxCheckEvery == ctxCheckEvery-1 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("memstore: set-many: %w", err)
			}
		}
		s.cache.Set(it.Key, entries[i])
	}
	return nil
}
