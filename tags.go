package larder

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Tags are invalidated by generation: each tag has a generation stored
// under a reserved key, and the key of every entry filed under tags carries
// their generations. InvalidateTags writes a new generation, one write per
// tag however many entries carry it; the entries of the old generation are
// never read again and leave by their TTL. A fill that read the old
// generation before an invalidation lands under the old key, where nobody
// looks: tags cannot make a stale set visible.

// tagPrefix is the reserved part of the namespace where generations live.
const tagPrefix = "_larder:tag:"

// tagTTL keeps a generation alive far longer than the entries filed under
// it; if one is evicted anyway, a new generation starts, which only
// invalidates (the safe direction).
const tagTTL = 30 * 24 * time.Hour

// taggedKey returns the full key of key filed under tags. ok is false when
// the generations cannot be read (the store failing): then no key is safe.
func (c *Cache) taggedKey(ctx context.Context, key string, tags []string) (string, bool) {
	if len(tags) == 0 {
		return c.prefix + key, true
	}
	var b strings.Builder
	b.WriteString(c.prefix)
	b.WriteString(key)
	b.WriteString("\x00#")
	for i, tag := range tags {
		gen, ok := c.generation(ctx, tag)
		if !ok {
			return "", false
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(gen)
	}
	return b.String(), true
}

// generation reads a tag's generation, starting one if it has none.
func (c *Cache) generation(ctx context.Context, tag string) (string, bool) {
	full := c.prefix + tagPrefix + tag
	for range 3 {
		var raw []byte
		found, _, _ := c.do(ctx, OpGet, full, func(ctx context.Context) error {
			var err error
			raw, err = c.store.Get(ctx, full)
			return err
		})
		if found {
			return string(raw), true
		}
		gen := newGeneration()
		var err error
		if cs, ok := c.store.(ConditionalStore); ok {
			// Two processes starting a generation at once must agree on
			// one, or their fills would land under different keys.
			won, ok := c.cond(ctx, full, func(ctx context.Context) (bool, error) {
				return cs.SetNX(ctx, full, []byte(gen), tagTTL)
			})
			if !ok {
				return "", false
			}
			if won {
				return gen, true
			}
			continue // lost the race: read the winner's
		}
		ok, _, err := c.do(ctx, OpSet, full, func(ctx context.Context) error {
			return c.store.Set(ctx, full, []byte(gen), tagTTL)
		})
		if err != nil || !ok {
			return "", false
		}
		return gen, true
	}
	return "", false
}

// InvalidateTags makes every entry filed under any of tags (with the Tags
// option of Fetch) a miss, in one write per tag. Unlike the fail-open
// calls it reports a store failure (wrapped in ErrUnavailable), since a
// lost invalidation leaves stale entries until their TTL.
func (c *Cache) InvalidateTags(ctx context.Context, tags ...string) error {
	for _, tag := range tags {
		if err := c.check(ctx, tag); err != nil {
			return err
		}
	}
	if c.store == nil {
		return nil
	}
	var errs []error
	for _, tag := range tags {
		full := c.prefix + tagPrefix + tag
		gen := []byte(newGeneration())
		_, err := c.admin(ctx, OpDelete, func(ctx context.Context) (int, error) {
			return 1, c.store.Set(ctx, full, gen, tagTTL)
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("tag %q: %w", tag, err))
		}
	}
	return errors.Join(errs...)
}

func newGeneration() string { return hex.EncodeToString(token()[:8]) }
