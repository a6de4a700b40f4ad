package cachetest_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/glob"
)

// fullStore is a store with every optional interface that cachetest
// checks, so that mutants can override any method.
type fullStore interface {
	driver.ConditionalStore
	driver.BatchStore
	driver.KeyCounter
}

// bugs are the deliberate faults a mapStore can have, for the mutants that
// cannot be built by wrapping a correct store.
type bugs struct {
	// aliasGet makes Get return the stored slice itself.
	aliasGet bool
	// aliasSet makes Set keep the caller's slice instead of a copy.
	aliasSet bool
	// tornWrites makes Set overwrite a value of the same length in place,
	// a chunk at a time, releasing the lock between chunks. It is free of
	// data races, so -race stays quiet, but readers can see half of one
	// value and half of another.
	tornWrites bool
	// keepTTL makes Set keep the deadline of an entry it overwrites.
	keepTTL bool
	// clearLimit makes Clear stop after removing this many keys, like a
	// Redis store that runs only one SCAN batch. Zero means no limit.
	clearLimit int
	// match replaces glob.Match in Clear and Count.
	match func(pattern, key string) bool
}

// mapStore is a deliberately simple reference store: one mutex around a
// map. Without bugs it passes the whole suite, which shows the checks ask
// for nothing beyond the contract.
type mapStore struct {
	bugs bugs

	mu     sync.Mutex
	m      map[string]mapEntry
	closed bool
}

type mapEntry struct {
	value    []byte
	deadline time.Time
}

var _ fullStore = (*mapStore)(nil)

func newMapStore(b bugs) *mapStore {
	if b.match == nil {
		b.match = glob.Match
	}
	return &mapStore{bugs: b, m: map[string]mapEntry{}}
}

// begin checks closure and ctx, and on success returns with the lock held.
func (s *mapStore) begin(ctx context.Context) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("mapstore: %w", driver.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("mapstore: %w", err)
	}
	return nil
}

// live returns the entry under key if it has not expired. The lock is held.
func (s *mapStore) live(key string) (mapEntry, bool) {
	e, ok := s.m[key]
	if ok && !time.Now().Before(e.deadline) {
		delete(s.m, key)
		return mapEntry{}, false
	}
	return e, ok
}

// put stores a copy of value. The lock is held.
func (s *mapStore) put(key string, value []byte, ttl time.Duration) {
	if !s.bugs.aliasSet {
		value = bytes.Clone(value)
	}
	if value == nil {
		value = []byte{}
	}
	s.m[key] = mapEntry{value: value, deadline: time.Now().Add(ttl)}
}

func (s *mapStore) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	e, ok := s.live(key)
	if !ok {
		return nil, driver.ErrNotFound
	}
	if s.bugs.aliasGet {
		return e.value, nil
	}
	return bytes.Clone(e.value), nil
}

func (s *mapStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	e, ok := s.live(key)
	switch {
	case ok && s.bugs.tornWrites && len(e.value) == len(value):
		s.mu.Unlock()
		const chunk = 1024
		for off := 0; off < len(value); off += chunk {
			s.mu.Lock()
			copy(e.value[off:], value[off:min(off+chunk, len(value))])
			s.mu.Unlock()
			runtime.Gosched()
			time.Sleep(time.Microsecond)
		}
		return nil
	case ok && s.bugs.keepTTL:
		s.put(key, value, time.Until(e.deadline))
	default:
		s.put(key, value, ttl)
	}
	s.mu.Unlock()
	return nil
}

func (s *mapStore) Delete(ctx context.Context, keys ...string) (int, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	n := 0
	for _, k := range keys {
		if _, ok := s.live(k); ok {
			delete(s.m, k)
			n++
		}
	}
	return n, nil
}

func (s *mapStore) Exists(ctx context.Context, key string) (bool, error) {
	if err := s.begin(ctx); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	_, ok := s.live(key)
	return ok, nil
}

func (s *mapStore) Clear(ctx context.Context, pattern string) (int, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	n := 0
	for k := range s.m {
		if s.bugs.clearLimit > 0 && n == s.bugs.clearLimit {
			break
		}
		if _, ok := s.live(k); ok && s.bugs.match(pattern, k) {
			delete(s.m, k)
			n++
		}
	}
	return n, nil
}

func (s *mapStore) Count(ctx context.Context, pattern string) (int, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	defer s.mu.Unlock()
	n := 0
	for k := range s.m {
		if _, ok := s.live(k); ok && s.bugs.match(pattern, k) {
			n++
		}
	}
	return n, nil
}

func (s *mapStore) Ping(ctx context.Context) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	s.mu.Unlock()
	return nil
}

func (s *mapStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("mapstore: %w", driver.ErrClosed)
	}
	s.closed = true
	s.m = nil
	return nil
}

func (s *mapStore) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := s.begin(ctx); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	if _, ok := s.live(key); ok {
		return false, nil
	}
	s.put(key, value, ttl)
	return true, nil
}

func (s *mapStore) CompareAndSwap(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	if err := s.begin(ctx); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	if e, ok := s.live(key); !ok || !bytes.Equal(e.value, old) {
		return false, nil
	}
	s.put(key, value, ttl)
	return true, nil
}

func (s *mapStore) CompareAndDelete(ctx context.Context, key string, old []byte) (bool, error) {
	if err := s.begin(ctx); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	if e, ok := s.live(key); !ok || !bytes.Equal(e.value, old) {
		return false, nil
	}
	delete(s.m, key)
	return true, nil
}

func (s *mapStore) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	values := make([][]byte, len(keys))
	for i, k := range keys {
		if e, ok := s.live(k); ok {
			values[i] = append([]byte{}, e.value...)
		}
	}
	return values, nil
}

func (s *mapStore) SetMany(ctx context.Context, items []driver.Item) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	for _, it := range items {
		s.put(it.Key, it.Value, it.TTL)
	}
	return nil
}
