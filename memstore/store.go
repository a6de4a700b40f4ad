package memstore

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/maypok86/otter/v2"
)

// Store is an in-process driver.Store bounded in bytes. Create one with
// New; the zero value is not usable. All methods are safe for concurrent
// use. Values are copied on the way in and on the way out, so neither the
// caller nor the store can change what the other holds.
type Store struct {
	cache *otter.Cache[string, entry]
	// clock is the adapter for an injected Clock, nil for real time.
	clock *otterClock
	// maxWeight is the heaviest single entry accepted: MaxBytes, or less
	// when otter's uint32 weights cannot express MaxBytes.
	maxWeight int64
	closed    atomic.Bool
}

// entry is what the store keeps per key. The TTL travels with the value
// because otter's expiry calculator sees only the entry being written; it
// is read once, when the entry is written, and turned into a deadline.
type entry struct {
	value []byte
	ttl   time.Duration
}

// The store must keep implementing every interface it advertises.
var (
	_ driver.Store            = (*Store)(nil)
	_ driver.ConditionalStore = (*Store)(nil)
	_ driver.BatchStore       = (*Store)(nil)
	_ driver.KeyCounter       = (*Store)(nil)
	_ driver.InProcessStore   = (*Store)(nil)
	_ driver.Sizer            = (*Store)(nil)
	_ driver.ModeReporter     = (*Store)(nil)
)

// New returns an empty store configured by opts. It returns an error
// wrapping driver.ErrInvalidOptions if opts are invalid. The store starts a
// goroutine that removes expired entries; Close stops it.
func New(opts Options) (*Store, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	maxBytes := opts.maxBytes()
	s := &Store{maxWeight: min(maxBytes, math.MaxUint32)}
	oo := &otter.Options[string, entry]{
		MaximumWeight: uint64(maxBytes),
		// newEntry has refused every entry heavier than maxWeight, so the
		// conversion cannot overflow.
		Weigher: func(key string, e entry) uint32 { return uint32(weight(key, e.value)) },
		// The deadline is set by writes only: a read must not extend an
		// entry's life, as it does not in Redis.
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, entry]) time.Duration {
			return e.Value.ttl
		}),
	}
	if opts.Clock != nil {
		s.clock = &otterClock{clock: opts.Clock}
		oo.Clock = s.clock
	}
	c, err := otter.New(oo)
	if err != nil {
		// Only an invalid otter configuration can fail, and the options
		// above are always valid; keep the error rather than panic anyway.
		return nil, fmt.Errorf("memstore: %w", err)
	}
	s.cache = c
	return s, nil
}

// weight is what an entry counts against MaxBytes.
func weight(key string, value []byte) int64 {
	return int64(len(key)) + int64(len(value)) + EntryOverhead
}

// begin returns the error that op must return before doing anything, if
// the store is closed or ctx is done.
func (s *Store) begin(ctx context.Context, op string) error {
	if s.closed.Load() {
		return fmt.Errorf("memstore: %s: %w", op, driver.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %s: %w", op, err)
	}
	return nil
}

// checkKey refuses the empty key, which the driver.Store contract rules out
// and which no Redis glob other than "" could address.
func checkKey(op, key string) error {
	if key == "" {
		return fmt.Errorf("memstore: %s: empty key: %w", op, driver.ErrInvalidKey)
	}
	return nil
}

// newEntry validates a write and returns the entry to store, holding its
// own copy of value so that the caller may reuse its slice.
func (s *Store) newEntry(op, key string, value []byte, ttl time.Duration) (entry, error) {
	if err := checkKey(op, key); err != nil {
		return entry{}, err
	}
	if ttl <= 0 {
		return entry{}, fmt.Errorf("memstore: %s: ttl %v is not positive: %w", op, ttl, driver.ErrInvalidTTL)
	}
	if w := weight(key, value); w > s.maxWeight {
		return entry{}, fmt.Errorf("memstore: %s: %w", op, &TooLargeError{Key: key, Weight: w, MaxWeight: s.maxWeight})
	}
	return entry{value: clone(value), ttl: ttl}, nil
}

// clone copies b into a new slice that is never nil, so that an empty value
// stays distinguishable from a missing one in GetMany.
func clone(b []byte) []byte {
	c := make([]byte, len(b))
	copy(c, b)
	return c
}

// Get returns a copy of the value stored under key, or driver.ErrNotFound
// (unwrapped, to keep misses free of allocations) if there is no live entry.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.begin(ctx, "get"); err != nil {
		return nil, err
	}
	if err := checkKey("get", key); err != nil {
		return nil, err
	}
	e, ok := s.cache.GetIfPresent(key)
	if !ok {
		return nil, driver.ErrNotFound
	}
	return clone(e.value), nil
}

// Set stores a copy of value under key for ttl, replacing any earlier value
// and TTL. It returns an error wrapping driver.ErrInvalidTTL if ttl is not
// positive, and one holding a *TooLargeError if the entry would weigh more
// than the store accepts. An entry may be evicted at any time once stored.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.begin(ctx, "set"); err != nil {
		return err
	}
	e, err := s.newEntry("set", key, value, ttl)
	if err != nil {
		return err
	}
	s.cache.Set(key, e)
	return nil
}

// Delete removes keys and returns how many of them held a live entry.
// Deleting a missing or expired key is not an error. All keys are checked
// before any is removed, so an invalid key removes nothing.
func (s *Store) Delete(ctx context.Context, keys ...string) (int, error) {
	if err := s.begin(ctx, "delete"); err != nil {
		return 0, err
	}
	for _, key := range keys {
		if err := checkKey("delete", key); err != nil {
			return 0, err
		}
	}
	n := 0
	for i, key := range keys {
		if i%ctxCheckEvery == ctxCheckEvery-1 {
			if err := ctx.Err(); err != nil {
				return n, fmt.Errorf("memstore: delete: %w", err)
			}
		}
		if _, ok := s.cache.Invalidate(key); ok {
			n++
		}
	}
	return n, nil
}

// Exists reports whether key holds a live entry. It does not count as a use
// of the entry for eviction.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	if err := s.begin(ctx, "exists"); err != nil {
		return false, err
	}
	if err := checkKey("exists", key); err != nil {
		return false, err
	}
	_, ok := s.cache.GetEntryQuietly(key)
	return ok, nil
}

// Ping reports whether the store is usable: it fails only once the store is
// closed or ctx is done, as there is no back end to reach.
func (s *Store) Ping(ctx context.Context) error {
	return s.begin(ctx, "ping")
}

// Close drops every entry and stops the store's periodic clean-up
// goroutine. Later calls, Close included, return errors wrapping
// driver.ErrClosed. A call that started before Close may still complete.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return fmt.Errorf("memstore: close: %w", driver.ErrClosed)
	}
	// Dropping the entries frees their memory even while callers still hold
	// the *Store.
	s.cache.InvalidateAll()
	s.cache.StopAllGoroutines()
	if s.clock != nil {
		s.clock.stop()
	}
	return nil
}

// Mode reports driver.ModeMemory, so that a Cache over a Store says it
// keeps its values in process. It is safe for concurrent use.
func (s *Store) Mode() driver.Mode {
	return driver.ModeMemory
}

// InProcess reports true: no call waits on I/O or another process, so a Cache
// can skip the time budget and circuit breaker that guard remote stores.
// It is safe for concurrent use.
func (s *Store) InProcess() bool {
	return true
}

// Size returns the number of entries and their total weight in bytes (see
// EntryOverhead), for statistics. It first runs the maintenance that otter
// would otherwise run in the background (applying buffered writes, evicting,
// removing expired entries), so that the two numbers agree with each other
// and with completed writes; that costs a lock, so call Size for
// statistics, not on every request. Writes that run concurrently may or may
// not be counted. Size is safe for concurrent use, also after Close.
func (s *Store) Size() (entries int, bytes uint64) {
	s.cache.CleanUp()
	return s.cache.EstimatedSize(), s.cache.WeightedSize()
}
