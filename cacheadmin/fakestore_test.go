package cacheadmin_test

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/driver"
)

// errBroken is what a broken fakeStore returns from every call.
var errBroken = errors.New("fake: connection refused")

// fakeStore is a remote-looking Store (no InProcessStore, so the Cache gives it
// a breaker) that reports a chosen mode and server info, and that can be
// switched to fail every call. It implements driver.KeyCounter and
// driver.Infoer so that the handlers' use of both can be checked, both
// when they work and when they fail. Real stores are covered by memstore
// in these tests and by the cachetest contract in their own packages.
type fakeStore struct {
	mode driver.Mode
	info map[string]string

	mu     sync.Mutex
	broken bool
	hung   bool // every call waits for its context to end
	data   map[string][]byte
}

func newFakeStore(mode driver.Mode, info map[string]string) *fakeStore {
	return &fakeStore{mode: mode, info: info, data: map[string][]byte{}}
}

var (
	_ driver.KeyCounter   = (*fakeStore)(nil)
	_ driver.Infoer       = (*fakeStore)(nil)
	_ driver.ModeReporter = (*fakeStore)(nil)
)

func (f *fakeStore) setBroken(b bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.broken = b
}

func (f *fakeStore) setHung(b bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hung = b
}

// check returns the error a call must fail with, if any; f.mu is held.
func (f *fakeStore) check(ctx context.Context) error {
	if f.hung {
		// Wait without the lock, as a real store's call would.
		f.mu.Unlock()
		<-ctx.Done()
		f.mu.Lock()
		return ctx.Err()
	}
	if f.broken {
		return errBroken
	}
	return ctx.Err()
}

func (f *fakeStore) Mode() driver.Mode { return f.mode }

func (f *fakeStore) Get(ctx context.Context, key string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(ctx); err != nil {
		return nil, err
	}
	v, ok := f.data[key]
	if !ok {
		return nil, larder.ErrNotFound
	}
	return append([]byte(nil), v...), nil
}

func (f *fakeStore) Set(ctx context.Context, key string, value []byte, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(ctx); err != nil {
		return err
	}
	f.data[key] = append([]byte(nil), value...)
	return nil
}

func (f *fakeStore) Delete(ctx context.Context, keys ...string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(ctx); err != nil {
		return 0, err
	}
	n := 0
	for _, k := range keys {
		if _, ok := f.data[k]; ok {
			delete(f.data, k)
			n++
		}
	}
	return n, nil
}

func (f *fakeStore) Exists(ctx context.Context, key string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(ctx); err != nil {
		return false, err
	}
	_, ok := f.data[key]
	return ok, nil
}

// Clear and Count understand only "<prefix>*" patterns, which is all the
// tests send.
func (f *fakeStore) Clear(ctx context.Context, pattern string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(ctx); err != nil {
		return 0, err
	}
	n := 0
	for k := range f.data {
		if matchPrefix(pattern, k) {
			delete(f.data, k)
			n++
		}
	}
	return n, nil
}

func (f *fakeStore) Count(ctx context.Context, pattern string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(ctx); err != nil {
		return 0, err
	}
	n := 0
	for k := range f.data {
		if matchPrefix(pattern, k) {
			n++
		}
	}
	return n, nil
}

func (f *fakeStore) Info(ctx context.Context) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check(ctx); err != nil {
		return nil, err
	}
	return f.info, nil
}

func (f *fakeStore) Ping(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.check(ctx)
}

func (f *fakeStore) Close() error { return nil }

func matchPrefix(pattern, key string) bool {
	if len(pattern) == 0 || pattern[len(pattern)-1] != '*' {
		return pattern == key
	}
	p := pattern[:len(pattern)-1]
	return len(key) >= len(p) && key[:len(p)] == p
}
