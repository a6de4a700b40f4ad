package cachetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/glob"
)

// MapStore is a deliberately simple driver.Store for tests: one mutex
// around a map, with entries that expire by a driver.Clock. It implements
// driver.ConditionalStore, driver.BatchStore and driver.KeyCounter, and
// passes Run, so a test can stand it in for a real store wherever the
// test is about the code above the store rather than about the store.
//
// It is not an in-process store in the Cache's sense (it does not
// implement driver.InProcessStore), so a Cache over it keeps its time
// budget and circuit breaker, as over a remote store. Wrap it in NewFaults
// to give it errors, latency and timeouts whose outcome is unknown; to
// give it fewer powers, embed it in a struct behind only the interfaces
// the test wants, such as struct{ driver.Store }.
//
// Every method is safe for concurrent use.
type MapStore struct {
	clock driver.Clock

	mu     sync.Mutex
	m      map[string]mapEntry
	closed bool
}

// mapEntry is one value and the instant, by the store's clock, from which
// it is expired.
type mapEntry struct {
	value    []byte
	deadline time.Time
}

var (
	_ driver.ConditionalStore = (*MapStore)(nil)
	_ driver.BatchStore       = (*MapStore)(nil)
	_ driver.KeyCounter       = (*MapStore)(nil)
)

// NewMapStore returns an empty MapStore whose entries expire by clock, or
// by the system clock if clock is nil. A Clock that the test never moves
// makes entries that never expire.
func NewMapStore(clock driver.Clock) *MapStore {
	if clock == nil {
		clock = driver.SystemClock
	}
	return &MapStore{clock: clock, m: map[string]mapEntry{}}
}

// begin checks that the store is open and ctx alive, and on success
// returns with the lock held.
func (s *MapStore) begin(ctx context.Context, op string) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("cachetest: mapstore: %s: %w", op, driver.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("cachetest: mapstore: %s: %w", op, err)
	}
	return nil
}

// live returns the entry under key if it has not expired at now, dropping
// an expired one. The lock is held. Each method reads the clock once, so
// that all the keys of one call are judged at one instant and a stepping
// Clock steps once per call.
func (s *MapStore) live(key string, now time.Time) (mapEntry, bool) {
	e, ok := s.m[key]
	if ok && !now.Before(e.deadline) {
		delete(s.m, key)
		return mapEntry{}, false
	}
	return e, ok
}

// checkWrite refuses what the driver.Store contract rules out: an empty
// key and a TTL that is not positive.
func checkWrite(op, key string, ttl time.Duration) error {
	if key == "" {
		return fmt.Errorf("cachetest: mapstore: %s: empty key: %w", op, driver.ErrInvalidKey)
	}
	if ttl <= 0 {
		return fmt.Errorf("cachetest: mapstore: %s: ttl %v is not positive: %w", op, ttl, driver.ErrInvalidTTL)
	}
	return nil
}

// put stores a copy of value, never nil, so that an empty value stays
// distinguishable from a missing one. The lock is held.
func (s *MapStore) put(key string, value []byte, now time.Time, ttl time.Duration) {
	s.m[key] = mapEntry{value: append([]byte{}, value...), deadline: now.Add(ttl)}
}

// Get returns a copy of the value under key, or an error wrapping
// driver.ErrNotFound if there is no live entry.
func (s *MapStore) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.begin(ctx, "get"); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	now := s.clock.Now()
	e, ok := s.live(key, now)
	if !ok {
		return nil, driver.ErrNotFound
	}
	return bytes.Clone(e.value), nil
}

// Set stores a copy of value under key for ttl, replacing any entry.
func (s *MapStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := checkWrite("set", key, ttl); err != nil {
		return err
	}
	if err := s.begin(ctx, "set"); err != nil {
		return err
	}
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.put(key, value, now, ttl)
	return nil
}

// Delete removes keys and returns how many had a live entry.
func (s *MapStore) Delete(ctx context.Context, keys ...string) (int, error) {
	if err := s.begin(ctx, "delete"); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	now := s.clock.Now()
	n := 0
	for _, k := range keys {
		if _, ok := s.live(k, now); ok {
			delete(s.m, k)
			n++
		}
	}
	return n, nil
}

// Exists reports whether key has a live entry.
func (s *MapStore) Exists(ctx context.Context, key string) (bool, error) {
	if err := s.begin(ctx, "exists"); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	now := s.clock.Now()
	_, ok := s.live(key, now)
	return ok, nil
}

// Clear removes every live key that matches pattern, a Redis glob, and
// returns how many it removed. A pattern Redis could never match returns
// an error wrapping driver.ErrInvalidPattern.
func (s *MapStore) Clear(ctx context.Context, pattern string) (int, error) {
	return s.scan(ctx, "clear", pattern, func(key string) { delete(s.m, key) })
}

// Count returns how many live keys match pattern, a Redis glob as in
// Clear.
func (s *MapStore) Count(ctx context.Context, pattern string) (int, error) {
	return s.scan(ctx, "count", pattern, func(string) {})
}

// scan calls fn, with the lock held, for each live key that matches
// pattern, and returns how many there were.
func (s *MapStore) scan(ctx context.Context, op, pattern string, fn func(key string)) (int, error) {
	if err := glob.Valid(pattern); err != nil {
		return 0, fmt.Errorf("cachetest: mapstore: %s: %w: %w", op, driver.ErrInvalidPattern, err)
	}
	if err := s.begin(ctx, op); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	now := s.clock.Now()
	n := 0
	for k := range s.m {
		if _, ok := s.live(k, now); ok && glob.Match(pattern, k) {
			fn(k)
			n++
		}
	}
	return n, nil
}

// Ping reports whether the store is open.
func (s *MapStore) Ping(ctx context.Context) error {
	if err := s.begin(ctx, "ping"); err != nil {
		return err
	}
	s.mu.Unlock()
	return nil
}

// Close makes every later call, a second Close included, return an error
// wrapping driver.ErrClosed. Keys and TTL still report what the store
// held, so that a test can inspect it after the code under test closed it.
func (s *MapStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("cachetest: mapstore: close: %w", driver.ErrClosed)
	}
	s.closed = true
	return nil
}

// SetNX stores a copy of value under key for ttl only if key has no live
// entry, and reports whether it stored it.
func (s *MapStore) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := checkWrite("setnx", key, ttl); err != nil {
		return false, err
	}
	if err := s.begin(ctx, "setnx"); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	now := s.clock.Now()
	if _, ok := s.live(key, now); ok {
		return false, nil
	}
	s.put(key, value, now, ttl)
	return true, nil
}

// CompareAndSwap replaces the value under key with a copy of value, for
// ttl, only if key holds exactly old, and reports whether it did.
func (s *MapStore) CompareAndSwap(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	if err := checkWrite("cas", key, ttl); err != nil {
		return false, err
	}
	if err := s.begin(ctx, "cas"); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	now := s.clock.Now()
	if e, ok := s.live(key, now); !ok || !bytes.Equal(e.value, old) {
		return false, nil
	}
	s.put(key, value, now, ttl)
	return true, nil
}

// CompareAndDelete removes key only if it holds exactly old, and reports
// whether it did.
func (s *MapStore) CompareAndDelete(ctx context.Context, key string, old []byte) (bool, error) {
	if err := s.begin(ctx, "cad"); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	now := s.clock.Now()
	if e, ok := s.live(key, now); !ok || !bytes.Equal(e.value, old) {
		return false, nil
	}
	delete(s.m, key)
	return true, nil
}

// GetMany returns copies of the values under keys, in order, with nil
// where a key has no live entry.
func (s *MapStore) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	if err := s.begin(ctx, "getmany"); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	now := s.clock.Now()
	values := make([][]byte, len(keys))
	for i, k := range keys {
		if e, ok := s.live(k, now); ok {
			values[i] = bytes.Clone(e.value)
		}
	}
	return values, nil
}

// SetMany stores every item as Set would. It checks every item before it
// stores any, so an invalid item leaves the store as it was.
func (s *MapStore) SetMany(ctx context.Context, items []driver.Item) error {
	for _, it := range items {
		if err := checkWrite("setmany", it.Key, it.TTL); err != nil {
			return err
		}
	}
	if err := s.begin(ctx, "setmany"); err != nil {
		return err
	}
	defer s.mu.Unlock()
	now := s.clock.Now()
	for _, it := range items {
		s.put(it.Key, it.Value, now, it.TTL)
	}
	return nil
}

// Keys returns the keys that have a live entry, sorted, for a test to
// check what code under test wrote.
func (s *MapStore) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	keys := make([]string, 0, len(s.m))
	for k := range s.m {
		if _, ok := s.live(k, now); ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// TTL returns how long the entry under key has left to live by the
// store's clock, and whether there is a live entry. Until the clock moves,
// that is the TTL the entry was written with.
func (s *MapStore) TTL(key string) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	e, ok := s.live(key, now)
	if !ok {
		return 0, false
	}
	return e.deadline.Sub(now), true
}
