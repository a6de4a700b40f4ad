package larder

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/telemetry"
)

// Tags are invalidated by generation: each tag has a generation stored
// under a reserved key, and an entry filed under tags records, inside its
// envelope, the generations its tags had when its value was loaded. The
// entry stays under its own key (so Delete, Exists, Get and Clear reach
// it); it is current only while every recorded generation still is.
// InvalidateTags writes a new generation, one write per tag however many
// entries carry it; the entries of the old generation are then misses and
// are replaced by the next fill. A fill that read the old generation
// before an invalidation records the old generation: tags cannot make a
// stale set visible.

// tagger keeps the generations of one namespace's tags: it reads them with
// an entry, starts one for a tag that has none, and tells whether the
// generations an entry recorded are still current.
type tagger struct {
	call   *caller
	prefix string // the namespace's, with its colon
}

// tagPrefix is the reserved part of the namespace where generations live.
const tagPrefix = "_larder:tag:"

// tagTTL keeps a generation alive far longer than the entries filed under
// it; if one is evicted anyway, a new generation starts, which only
// invalidates (the safe direction).
const tagTTL = 30 * 24 * time.Hour

// key is the full key of tag's generation.
func (tg *tagger) key(tag string) string { return tg.prefix + tagPrefix + tag }

// read reads the entry under full and the current generations of tags
// (none: a plain read), in one round trip where the store can
// (driver.BatchStore). ok is false when the generations cannot be had (the
// store failing): then no entry can be trusted and none may be written.
func (tg *tagger) read(ctx context.Context, full string, tags []string) (slot, []tagGen, bool, error) {
	if len(tags) == 0 {
		s, err := tg.call.read(ctx, full)
		return s, nil, true, err
	}
	bs, batch := tg.call.store.(driver.BatchStore)
	if !batch {
		gens, ok := tg.generations(ctx, tags, nil)
		if !ok {
			return slot{state: slotFailed}, nil, false, ctx.Err()
		}
		s, err := tg.call.read(ctx, full)
		return s, gens, true, err
	}
	keys := make([]string, 0, 1+len(tags))
	keys = append(keys, full)
	for _, t := range tags {
		keys = append(keys, tg.key(t))
	}
	var vals [][]byte
	r, d, err := tg.call.do(ctx, telemetry.OpGet, full, func(ctx context.Context) error {
		var err error
		vals, err = bs.GetMany(ctx, keys)
		if err == nil && len(vals) != len(keys) {
			err = fmt.Errorf("larder: GetMany returned %d values for %d keys", len(vals), len(keys))
		}
		return err
	})
	if r != callOK {
		return slot{state: slotFailed, d: d}, nil, false, err
	}
	gens, ok := tg.generations(ctx, tags, vals[1:])
	if !ok {
		return slot{state: slotFailed, d: d}, nil, false, ctx.Err()
	}
	if vals[0] == nil {
		tg.call.count(telemetry.TierStore, telemetry.OpGet, telemetry.OutcomeMiss, d)
		return slot{state: slotAbsent, d: d}, gens, true, nil
	}
	return tg.call.unwrap(full, vals[0], d), gens, true, nil
}

// generations returns the current generation of each tag, starting one for
// a tag that has none; known holds generations already read (nil entries
// for absent ones), or is nil to read them here.
func (tg *tagger) generations(ctx context.Context, tags []string, known [][]byte) ([]tagGen, bool) {
	gens := make([]tagGen, len(tags))
	for i, tag := range tags {
		var gen string
		var ok bool
		if known != nil && known[i] != nil {
			gen, ok = string(known[i]), true
		} else {
			gen, ok = tg.generation(ctx, tag, known == nil)
		}
		if !ok {
			return nil, false
		}
		gens[i] = tagGen{tag, gen}
	}
	return gens, true
}

// generation reads a tag's generation (unless read is false: it is known
// to be absent), starting one if it has none.
func (tg *tagger) generation(ctx context.Context, tag string, read bool) (string, bool) {
	full := tg.key(tag)
	for range 3 {
		if read {
			var raw []byte
			r, _, _ := tg.call.do(ctx, telemetry.OpTag, full, func(ctx context.Context) error {
				var err error
				raw, err = tg.call.store.Get(ctx, full)
				return err
			})
			switch r {
			case callOK:
				return string(raw), true
			case callFailed:
				return "", false
			}
		}
		read = true
		gen := newGeneration()
		if cs, ok := tg.call.store.(driver.ConditionalStore); ok {
			// Two processes starting a generation at once must agree on
			// one, or their entries would record different ones.
			won, ok := tg.call.cond(ctx, telemetry.OpTag, full, func(ctx context.Context) (bool, error) {
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
		r, _, _ := tg.call.do(ctx, telemetry.OpTag, full, func(ctx context.Context) error {
			return tg.call.store.Set(ctx, full, []byte(gen), tagTTL)
		})
		if r != callOK {
			return "", false
		}
		return gen, true
	}
	return "", false
}

// current reports whether the generations an entry recorded are still
// the current ones. A generation that is gone counts as changed.
func (tg *tagger) current(ctx context.Context, tags []tagGen) bool {
	if len(tags) == 0 {
		return true
	}
	keys := make([]string, len(tags))
	for i, t := range tags {
		keys[i] = tg.key(t.tag)
	}
	vals := make([][]byte, len(keys))
	var r callResult
	if bs, ok := tg.call.store.(driver.BatchStore); ok {
		r, _, _ = tg.call.do(ctx, telemetry.OpTag, keys[0], func(ctx context.Context) error {
			var err error
			vals, err = bs.GetMany(ctx, keys)
			if err == nil && len(vals) != len(keys) {
				err = errors.New("larder: GetMany returned the wrong number of values")
			}
			return err
		})
	} else {
		for i, k := range keys {
			r, _, _ = tg.call.do(ctx, telemetry.OpTag, k, func(ctx context.Context) error {
				var err error
				vals[i], err = tg.call.store.Get(ctx, k)
				return err
			})
			if r != callOK {
				break
			}
		}
	}
	if r != callOK {
		return false
	}
	for i, t := range tags {
		if vals[i] == nil || string(vals[i]) != t.gen {
			return false
		}
	}
	return true
}

// sameTags reports whether an entry's recorded generations are exactly
// gens (the tags of this Fetch, with their current generations).
func sameTags(have, want []tagGen) bool {
	if len(have) != len(want) {
		return false
	}
	for i := range have {
		if have[i] != want[i] {
			return false
		}
	}
	return true
}

// InvalidateTags makes every entry filed under any of tags (with the Tags
// option of Fetch) a miss, in one write per tag, each under the time
// budget. A write that fails is not lost: this instance stops trusting
// entries filed under the tag at once, and retries the write in the
// background until the store takes it (see Stats.Pending). The error
// reports such a failure, wrapped in ErrUnavailable, for callers that
// want to know; the invalidation still happens.
func (c *Cache) InvalidateTags(ctx context.Context, tags ...string) error {
	for _, tag := range tags {
		if err := c.check(ctx, tag); err != nil {
			return err
		}
	}
	if c.call.store == nil {
		return nil
	}
	var errs []error
	for _, tag := range tags {
		full := c.tags.key(tag)
		gen := []byte(newGeneration())
		r, _, err := c.call.do(ctx, telemetry.OpInvalidate, full, func(ctx context.Context) error {
			return c.call.store.Set(ctx, full, gen, tagTTL)
		})
		if r != callOK {
			c.pend.addTags(tag)
			if err == nil {
				err = ErrUnavailable
			}
			errs = append(errs, fmt.Errorf("tag %q: %w (kept for retry)", tag, err))
		}
	}
	return errors.Join(errs...)
}

// renew writes a new generation for tag (the retry of a failed
// InvalidateTags).
func (tg *tagger) renew(ctx context.Context, tag string) error {
	return tg.call.store.Set(ctx, tg.key(tag), []byte(newGeneration()), tagTTL)
}

func newGeneration() string { return hex.EncodeToString(token()[:8]) }
