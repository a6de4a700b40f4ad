package cacheadmin_test

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/larderhq/larder/cachetest"
	"github.com/larderhq/larder/driver"
)

// errBroken is what a broken fakeStore returns from every call.
var errBroken = errors.New("fake: connection refused")

// fakeStore is a remote-looking Store (no InProcessStore, so the Cache gives it
// a breaker) that reports a chosen mode and server info, and that can be
// switched to fail every call. It implements driver.KeyCounter and
// driver.Infoer so that the handlers' use of both can be checked, both
// when they work and when they fail. Its entries are kept by the kit's
// MapStore, on a clock that never moves. Real stores are covered by
// memstore in these tests and by the cachetest contract in their own
// packages.
type fakeStore struct {
	mode driver.Mode
	info map[string]string
	m    *cachetest.MapStore

	broken atomic.Bool
	hung   atomic.Bool // every call waits for its context to end
}

func newFakeStore(mode driver.Mode, info map[string]string) *fakeStore {
	return &fakeStore{mode: mode, info: info, m: cachetest.NewMapStore(cachetest.NewClock(time.Time{}))}
}

var (
	_ driver.KeyCounter   = (*fakeStore)(nil)
	_ driver.Infoer       = (*fakeStore)(nil)
	_ driver.ModeReporter = (*fakeStore)(nil)
)

func (f *fakeStore) setBroken(b bool) { f.broken.Store(b) }

func (f *fakeStore) setHung(b bool) { f.hung.Store(b) }

// check returns the error a call must fail with, if any.
func (f *fakeStore) check(ctx context.Context) error {
	if f.hung.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	if f.broken.Load() {
		return errBroken
	}
	return ctx.Err()
}

func (f *fakeStore) Mode() driver.Mode { return f.mode }

func (f *fakeStore) Get(ctx context.Context, key string) ([]byte, error) {
	if err := f.check(ctx); err != nil {
		return nil, err
	}
	return f.m.Get(ctx, key)
}

func (f *fakeStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := f.check(ctx); err != nil {
		return err
	}
	return f.m.Set(ctx, key, value, ttl)
}

func (f *fakeStore) Delete(ctx context.Context, keys ...string) (int, error) {
	if err := f.check(ctx); err != nil {
		return 0, err
	}
	return f.m.Delete(ctx, keys...)
}

func (f *fakeStore) Exists(ctx context.Context, key string) (bool, error) {
	if err := f.check(ctx); err != nil {
		return false, err
	}
	return f.m.Exists(ctx, key)
}

func (f *fakeStore) Clear(ctx context.Context, pattern string) (int, error) {
	if err := f.check(ctx); err != nil {
		return 0, err
	}
	return f.m.Clear(ctx, pattern)
}

func (f *fakeStore) Count(ctx context.Context, pattern string) (int, error) {
	if err := f.check(ctx); err != nil {
		return 0, err
	}
	return f.m.Count(ctx, pattern)
}

func (f *fakeStore) Info(ctx context.Context) (map[string]string, error) {
	if err := f.check(ctx); err != nil {
		return nil, err
	}
	return f.info, nil
}

func (f *fakeStore) Ping(ctx context.Context) error { return f.check(ctx) }

// Close leaves the store usable, as the handlers' tests expect of a fake.
func (f *fakeStore) Close() error { return nil }
