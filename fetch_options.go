package larder

import (
	"fmt"
	"math"
	"time"
)

// FetchOption tunes one call of Fetch. Options take and return the
// settings by value, so that a Fetch on a hit allocates nothing for them.
// A negative duration, a Jitter outside [0, 0.5], a negative or infinite
// EarlyRefresh weight, an empty tag or a nil option makes Fetch return an
// error wrapping ErrInvalidOptions (ErrInvalidTTL for TTL) without loading.
type FetchOption func(fetchOptions) fetchOptions

type fetchOptions struct {
	ttl      time.Duration
	jitter   float64
	tags     []string
	swr      time.Duration
	sie      time.Duration
	negTTL   time.Duration
	beta     float64
	leaseTTL time.Duration
	wait     time.Duration
	// version reads the version of a loaded value (Version); nil: fills
	// carry version 0.
	version func(any) (int64, bool)
	err     error // the first invalid option, reported by Fetch
}

// Defaults of the Fetch options.
const (
	DefaultJitter    = 0.10
	DefaultLeaseTTL  = 3 * time.Second
	DefaultLeaseWait = 2 * time.Second
)

// TTL sets how long the loaded value is fresh. Zero means
// Options.DefaultTTL; a negative d makes Fetch return an error wrapping
// ErrInvalidTTL.
func TTL(d time.Duration) FetchOption {
	return func(o fetchOptions) fetchOptions { o.ttl = d; return o }
}

// Jitter spreads the TTL by ±f (0.1 = ±10 %, the default; 0 turns it
// off), so that entries filled together do not all expire together. f
// outside [0, 0.5] makes Fetch return an error wrapping ErrInvalidOptions.
func Jitter(f float64) FetchOption {
	return func(o fetchOptions) fetchOptions { o.jitter = f; return o }
}

// Tags files the entry under tags; InvalidateTags(ctx, tag) then makes
// every entry filed under tag a miss with one write, however many there
// are. A Fetch reads its tags' generations with the entry, in one round
// trip when the store can batch (driver.BatchStore); entries filed under
// tags are not kept in the local tier.
func Tags(tags ...string) FetchOption {
	return func(o fetchOptions) fetchOptions { o.tags = append(o.tags, tags...); return o }
}

// StaleWhileRevalidate lets Fetch answer with the old value for d after it
// expires while one caller, in the background, loads the new one: nobody
// waits for the loader in that window.
func StaleWhileRevalidate(d time.Duration) FetchOption {
	return func(o fetchOptions) fetchOptions { o.swr = d; return o }
}

// StaleIfError lets Fetch answer with the old value for d after it expires
// when the loader fails; the error is still returned, wrapped in ErrStale,
// beside the value.
func StaleIfError(d time.Duration) FetchOption {
	return func(o fetchOptions) fetchOptions { o.sie = d; return o }
}

// NegativeTTL caches "not found" for d: a loader error wrapping ErrNotFound
// is remembered, so that requests for a missing id do not all reach the
// database. Zero (the default) caches no negatives.
func NegativeTTL(d time.Duration) FetchOption {
	return func(o fetchOptions) fetchOptions { o.negTTL = d; return o }
}

// EarlyRefresh turns on probabilistic early refresh (XFetch, Vattani et
// al., VLDB 2015) with weight beta (1 is the paper's choice; larger
// refreshes earlier). A hit refreshes in the background when
// now − Δ·beta·ln(rand()) ≥ expiry, where Δ is how long the last load
// took, so hot keys are reloaded before they expire, by about one caller.
func EarlyRefresh(beta float64) FetchOption {
	return func(o fetchOptions) fetchOptions { o.beta = beta; return o }
}

// LeaseTTL bounds how long a filler holds a key's lease: a filler that dies
// blocks fills of that key for at most d. Default 3 s; it should exceed the
// loader's usual duration.
func LeaseTTL(d time.Duration) FetchOption {
	return func(o fetchOptions) fetchOptions { o.leaseTTL = d; return o }
}

// LeaseWait bounds how long a Fetch waits for another filler (in this
// process or another) before loading by itself, without writing. Default 2 s.
func LeaseWait(d time.Duration) FetchOption {
	return func(o fetchOptions) fetchOptions { o.wait = d; return o }
}

// Version tells Fetch how to read the version of a loaded value (a row
// version or updated_at, strictly increasing per row), so that the entries
// it fills carry the same version that SetVersioned compares: a delayed
// write-through of an older version then never replaces a newer value that
// a reader filled, and a fill never replaces a newer write-through. The
// function must be cheap and must not fail; it is called on the value the
// loader returned, of the Fetch's type T. Without it a fill carries version
// 0, which any SetVersioned replaces.
func Version[T any](f func(T) int64) FetchOption {
	return func(o fetchOptions) fetchOptions {
		if f == nil {
			o.err = errOption("Version with a nil function")
			return o
		}
		o.version = func(v any) (int64, bool) {
			t, ok := v.(T)
			if !ok {
				return 0, false
			}
			return f(t), true
		}
		return o
	}
}

// options returns the settings of one Fetch given opts.
func (f *filler) options(opts []FetchOption) (fetchOptions, error) {
	if len(opts) == 0 {
		return f.defaults, nil // computed once, in New: the common hit path
	}
	o := fetchOptions{jitter: DefaultJitter, leaseTTL: DefaultLeaseTTL, wait: DefaultLeaseWait}
	for _, opt := range opts {
		if opt == nil {
			return o, errOption("nil FetchOption")
		}
		o = opt(o)
	}
	return f.finishOptions(o)
}

// finishOptions checks what the options set and fills defaults.
func (f *filler) finishOptions(o fetchOptions) (fetchOptions, error) {
	switch {
	case o.err != nil:
		return o, o.err
	case o.ttl < 0:
		return o, fmt.Errorf("%w: TTL %v is negative", ErrInvalidTTL, o.ttl)
	case !(o.jitter >= 0 && o.jitter <= 0.5):
		return o, errOption(fmt.Sprintf("Jitter %v is outside [0, 0.5]", o.jitter))
	case o.swr < 0 || o.sie < 0 || o.negTTL < 0:
		return o, errOption("StaleWhileRevalidate, StaleIfError and NegativeTTL must not be negative")
	case o.leaseTTL < 0 || o.wait < 0:
		return o, errOption("LeaseTTL and LeaseWait must not be negative")
	case !(o.beta >= 0) || math.IsInf(o.beta, 1):
		return o, errOption(fmt.Sprintf("EarlyRefresh %v must be a finite number ≥ 0", o.beta))
	}
	for _, t := range o.tags {
		if t == "" || len(t) > MaxKeyLen {
			return o, errOption(fmt.Sprintf("tag %q is empty or too long", t))
		}
	}
	if o.ttl == 0 {
		o.ttl = f.defaultTTL
	}
	if o.ttl < time.Millisecond {
		o.ttl = time.Millisecond
	}
	if o.leaseTTL == 0 {
		o.leaseTTL = DefaultLeaseTTL
	}
	if o.wait == 0 {
		o.wait = DefaultLeaseWait
	}
	return o, nil
}

// errOption reports an invalid FetchOption.
func errOption(what string) error { return fmt.Errorf("%w: %s", ErrInvalidOptions, what) }
