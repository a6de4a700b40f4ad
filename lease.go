package larder

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/telemetry"
)

// Bounds of one fill's attempts at the store.
const (
	fillAttempts = 8                     // writes tried (lease, or swap over an old value)
	fillPause    = 2 * time.Millisecond  // first pause between attempts and lease polls
	fillMaxPause = 20 * time.Millisecond // longest pause
)

// fillOnce takes the key's lease (over what cur holds), loads, and swaps
// the lease for the value. It makes a bounded number of attempts at the
// store and waits for another filler no longer than LeaseWait; past either
// it loads without writing. A store without conditional writes has no
// leases: the value is written after the load.
func (j fetchJob[T]) fillOnce(ctx context.Context, cur slot, gens []tagGen) (T, error) {
	cs, conditional := j.c.call.store.(driver.ConditionalStore)
	if !conditional {
		return j.fillPlain(ctx, gens)
	}
	l := j.newLeaseFill(cs, cur, gens)
	if ok, err := l.readUnknown(ctx); err != nil {
		var zero T
		return zero, err
	} else if !ok {
		return j.direct(ctx)
	}
	won, v, err := l.acquire(ctx)
	if !won {
		return v, err
	}
	return l.loadAndSwap(ctx)
}

// fillPlain loads and writes the value unconditionally.
func (j fetchJob[T]) fillPlain(ctx context.Context, gens []tagGen) (T, error) {
	f := j.c.fill
	v, data, delta, err := runLoad(ctx, f, j.key, j.load, true)
	if err == nil && data != nil {
		f.write(ctx, j.full, f.valueEnvelope(data, delta, j.o, gens, versionOf(v, j.o)))
	}
	return v, encodeErr(j.key, v, data, err)
}

// leaseFill is one fill under a lease: the lease, what the key held, and
// how much of its bounds the fill has used.
type leaseFill[T any] struct {
	fetchJob[T]
	cs        driver.ConditionalStore
	cur       slot     // what the key holds, as last read
	gens      []tagGen // the tags' generations, read before the load
	lease     []byte
	old       slot // what the lease replaced
	attempts  int  // lease writes tried
	polls     int  // polls of another filler's lease left
	waited    bool // counted in LeaseWaits
	pause     time.Duration
	waitUntil time.Time
}

func (j fetchJob[T]) newLeaseFill(cs driver.ConditionalStore, cur slot, gens []tagGen) *leaseFill[T] {
	return &leaseFill[T]{
		fetchJob:  j,
		cs:        cs,
		cur:       cur,
		gens:      gens,
		lease:     newLease(),
		polls:     int(j.o.wait/fillPause) + 1,
		pause:     fillPause,
		waitUntil: j.c.opts.Clock.Now().Add(j.o.wait),
	}
}

// readUnknown reads the key and its tags' generations when the fill was
// not handed them (a caller that joins a later flight). ok is false when
// the generations cannot be had: then nothing may be written.
func (l *leaseFill[T]) readUnknown(ctx context.Context) (ok bool, err error) {
	if l.cur.state != slotUnknown {
		return true, nil
	}
	l.cur, l.gens, ok, err = l.c.tags.read(ctx, l.full, l.o.tags)
	return ok, err
}

// leaseStep is what a fill does after one look at the key.
type leaseStep uint8

const (
	stepReread leaseStep = iota // read the key and look again
	stepWon                     // the lease is the fill's: load
	stepDirect                  // load without writing
)

// acquire takes the key's lease over what it holds. won is false when the
// fill ends without it, with v and err as its answer: what another filler
// left, a load without writing (past the fill's bounds, or the store
// failing), or the caller's own context error.
func (l *leaseFill[T]) acquire(ctx context.Context) (won bool, v T, err error) {
	for {
		var next leaseStep
		switch {
		case l.attempts >= fillAttempts || l.polls <= 0 || l.cur.state == slotFailed:
			next = stepDirect
		case l.cur.state == slotEntry && l.cur.env.lease():
			next = l.waitForLease()
		default: // absent, foreign, or an entry: maybe what another filler left
			if v, ok, err := l.filled(); ok {
				return false, v, err
			}
			next = l.tryLease(ctx)
		}
		switch next {
		case stepWon:
			return true, v, nil
		case stepDirect:
			v, err = l.direct(ctx)
			return false, v, err
		}
		if l.cur, err = l.c.call.read(ctx, l.full); err != nil {
			return false, v, err
		}
	}
}

// waitForLease lets another filler's lease be: taking it over would let
// two loads race to fill. Past LeaseWait the fill loads without writing.
func (l *leaseFill[T]) waitForLease() leaseStep {
	if l.c.opts.Clock.Now().After(l.waitUntil) {
		return stepDirect
	}
	if !l.waited {
		l.waited = true
		l.c.fill.stats.waits.Add(1)
	}
	l.polls--
	l.sleep()
	return stepReread
}

// filled answers from an entry another filler left: a fresh value of the
// Fetch's tags, or a fresh negative entry.
func (l *leaseFill[T]) filled() (v T, ok bool, err error) {
	if l.cur.state != slotEntry {
		return v, false, nil
	}
	if sv, ok := servable[T](l.c, l.key, l.cur, l.gens); ok {
		return sv, true, nil
	}
	if l.cur.env.negative() && sameTags(l.cur.env.tags, l.gens) && l.cur.env.fresh(l.c.opts.Clock.Now()) {
		l.c.fill.stats.negative.Add(1)
		return v, true, notFound(l.key, nil)
	}
	return v, false, nil
}

// servable decodes a fresh, current value from a slot.
func servable[T any](c *Cache, key string, s slot, gens []tagGen) (T, bool) {
	var v T
	if !s.value() || !sameTags(s.env.tags, gens) || !s.env.fresh(c.opts.Clock.Now()) {
		return v, false
	}
	if !c.decode(key, s.env.value, &v, s.d) {
		return v, false
	}
	c.call.count(telemetry.TierStore, telemetry.OpGet, telemetry.OutcomeHit, s.d)
	return v, true
}

// tryLease writes the lease over what the key holds: by SetNX where it is
// absent, by compare-and-swap over anything else (foreign bytes, an old,
// invalidated or undecodable entry).
func (l *leaseFill[T]) tryLease(ctx context.Context) leaseStep {
	l.attempts++
	if l.attempts > 2 {
		l.sleep()
	}
	var won, ok bool
	if l.cur.state == slotAbsent {
		won, ok = l.c.call.cond(ctx, telemetry.OpLease, l.full, func(ctx context.Context) (bool, error) {
			return l.cs.SetNX(ctx, l.full, l.lease, l.o.leaseTTL)
		})
	} else {
		prev := l.cur.raw
		won, ok = l.c.call.cond(ctx, telemetry.OpLease, l.full, func(ctx context.Context) (bool, error) {
			return l.cs.CompareAndSwap(ctx, l.full, prev, l.lease, l.o.leaseTTL)
		})
	}
	switch {
	case !ok:
		// The lease may still land and make every reader wait for a
		// filler that gave up: have it removed.
		l.c.pend.addLease(l.full, l.lease, l.o.leaseTTL)
		return stepDirect
	case won:
		l.old = l.cur
		return stepWon
	}
	return stepReread
}

// sleep pauses between attempts and polls, each pause twice the last, up
// to fillMaxPause.
func (l *leaseFill[T]) sleep() {
	time.Sleep(l.pause)
	l.pause = min(2*l.pause, fillMaxPause)
}

// loadAndSwap loads under the lease and swaps the lease for the value.
func (l *leaseFill[T]) loadAndSwap(ctx context.Context) (T, error) {
	f := l.c.fill
	v, data, delta, err := runLoad(ctx, f, l.key, l.load, true)
	switch {
	case err != nil:
		return l.failedLoad(ctx, delta, err)
	case data == nil:
		f.release(ctx, l.cs, l.full, l.lease)
		return v, encodeErr(l.key, v, data, nil)
	}
	if f.hook != nil {
		f.hook(l.full)
	}
	f.fillValue(ctx, l.cs, l.key, l.full, l.lease, f.valueEnvelope(data, delta, l.o, l.gens, versionOf(v, l.o)), l.o)
	return v, nil
}

// failedLoad ends a fill whose loader failed: "not found" is swapped in as
// a negative entry (NegativeTTL), StaleIfError puts the old value back, and
// anything else releases the lease.
func (l *leaseFill[T]) failedLoad(ctx context.Context, delta time.Duration, err error) (T, error) {
	var zero T
	f := l.c.fill
	now := l.c.opts.Clock.Now()
	switch {
	case errors.Is(err, ErrNotFound) && l.o.negTTL > 0:
		exp := now.Add(l.o.negTTL).UnixMilli()
		f.swap(ctx, l.cs, l.full, l.lease, envelope{flags: flagNegative, soft: exp, hard: exp, delta: delta.Microseconds(), tags: l.gens})
		return zero, err
	case l.staleIfError(now):
		if v, ok := l.putBack(ctx, now); ok {
			return v, fmt.Errorf("%w: %w", ErrStale, err)
		}
	}
	f.release(ctx, l.cs, l.full, l.lease)
	return zero, err
}

// staleIfError reports whether the value the lease replaced may stand in
// for a failed load (StaleIfError).
func (l *leaseFill[T]) staleIfError(now time.Time) bool {
	old := l.old
	return l.o.sie > 0 && old.value() && sameTags(old.env.tags, l.gens) && old.env.usable(now) && now.UnixMilli() < old.env.soft+l.o.sie.Milliseconds()
}

// putBack decodes the value the lease replaced and puts it back, so that
// other instances serve it too; if the lease is gone, an invalidation came
// and the value must not return.
func (l *leaseFill[T]) putBack(ctx context.Context, now time.Time) (T, bool) {
	var v T
	if !l.c.decode(l.key, l.old.env.value, &v, 0) {
		return v, false
	}
	l.c.fill.swapRaw(ctx, l.cs, l.full, l.lease, l.old.raw, time.UnixMilli(l.old.env.hard).Sub(now))
	l.c.fill.stats.staleOnError.Add(1)
	return v, true
}
