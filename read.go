package larder

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/larderhq/larder/telemetry"
)

// slotState is what a read found under a key.
type slotState uint8

const (
	// slotAbsent: no entry.
	slotAbsent slotState = iota
	// slotFailed: the store failed or refused (breaker), or holds the key
	// as something it cannot read as a string (WRONGTYPE): the caller goes
	// on as if there were no cache, and writes nothing.
	slotFailed
	// slotForeign: bytes that are not an envelope this version reads (a
	// value written by hand, a future format, a corrupt value). Get
	// reports a miss; Fetch replaces them by compare-and-swap.
	slotForeign
	// slotEntry: an envelope.
	slotEntry
	// slotUnknown: not read yet.
	slotUnknown
)

// slot is what a read found under a full key: its state, the envelope,
// and the stored bytes, which a later compare-and-swap must match.
type slot struct {
	state slotState
	env   envelope
	raw   []byte
	d     time.Duration
}

// value reports whether the slot holds a value (not a lease, not a
// negative entry).
func (s slot) value() bool { return s.state == slotEntry && s.env.isValue() }

// read fetches and unwraps the envelope under a full key; its error is
// only the caller's own (context). An absent key is counted as a miss, a
// failure as a failure and a miss, foreign bytes as a decode error and a
// miss; an entry is counted by the caller.
func (c *caller) read(ctx context.Context, full string) (slot, error) {
	return c.readAs(ctx, telemetry.OpGet, full)
}

// readAs is read counted as op: a write's own read of what it replaces
// (OpLease) is no hit or miss.
func (c *caller) readAs(ctx context.Context, op telemetry.Op, full string) (slot, error) {
	var raw []byte
	r, d, err := c.do(ctx, op, full, func(ctx context.Context) error {
		var err error
		raw, err = c.store.Get(ctx, full)
		return err
	})
	switch r {
	case callAbsent:
		return slot{state: slotAbsent, d: d}, err
	case callFailed:
		return slot{state: slotFailed, d: d}, err
	}
	return c.unwrap(full, raw, d), nil
}

// unwrap decodes stored bytes into a slot.
func (c *caller) unwrap(full string, raw []byte, d time.Duration) slot {
	env, err := decodeEnvelope(raw)
	if err != nil {
		c.count(telemetry.TierStore, telemetry.OpGet, telemetry.OutcomeDecodeError, d)
		c.logs.failure(telemetry.OpGet, telemetry.OutcomeDecodeError, full, fmt.Errorf("%w: %w", ErrDecode, err))
		return slot{state: slotForeign, raw: raw, d: d}
	}
	return slot{state: slotEntry, env: env, raw: raw, d: d}
}

// decode unmarshals a value for key; a failure is counted as a decode error
// and a miss.
func (c *Cache) decode(key string, data []byte, dst any, d time.Duration) bool {
	// Decoders fill what dst already holds: encoding/json appends into its
	// slices and adds to its maps. Those may be shared with a value the
	// local tier handed out earlier, so start from zero.
	if rv := reflect.ValueOf(dst); rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv.Elem().SetZero()
	}
	if err := c.opts.Codec.Unmarshal(data, dst); err != nil {
		c.call.count(telemetry.TierStore, telemetry.OpGet, telemetry.OutcomeDecodeError, d)
		c.call.logs.failure(telemetry.OpGet, telemetry.OutcomeDecodeError, key, fmt.Errorf("%w: %w", ErrDecode, err))
		return false
	}
	return true
}

// checkDst validates Get's destination.
func checkDst(dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("%w: %T is not a non-nil pointer", ErrInvalidDestination, dst)
	}
	return nil
}
