package cachetest_test

import (
	"context"
	"time"

	"github.com/larderhq/larder/driver"
)

// fullStore is a store with every optional interface that cachetest
// checks, so that mutants can override any method.
type fullStore interface {
	driver.ConditionalStore
	driver.BatchStore
	driver.KeyCounter
}

// hookStore wraps a correct store and replaces the methods whose hook is
// set, which is how most mutants get their one fault.
type hookStore struct {
	fullStore

	get              func(ctx context.Context, key string) ([]byte, error)
	set              func(ctx context.Context, key string, value []byte, ttl time.Duration) error
	del              func(ctx context.Context, keys ...string) (int, error)
	exists           func(ctx context.Context, key string) (bool, error)
	clear            func(ctx context.Context, pattern string) (int, error)
	close            func() error
	setNX            func(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	compareAndSwap   func(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error)
	compareAndDelete func(ctx context.Context, key string, old []byte) (bool, error)
	getMany          func(ctx context.Context, keys []string) ([][]byte, error)
	setMany          func(ctx context.Context, items []driver.Item) error
	count            func(ctx context.Context, pattern string) (int, error)
}

func (h *hookStore) Get(ctx context.Context, key string) ([]byte, error) {
	if h.get != nil {
		return h.get(ctx, key)
	}
	return h.fullStore.Get(ctx, key)
}

func (h *hookStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if h.set != nil {
		return h.set(ctx, key, value, ttl)
	}
	return h.fullStore.Set(ctx, key, value, ttl)
}

func (h *hookStore) Delete(ctx context.Context, keys ...string) (int, error) {
	if h.del != nil {
		return h.del(ctx, keys...)
	}
	return h.fullStore.Delete(ctx, keys...)
}

func (h *hookStore) Exists(ctx context.Context, key string) (bool, error) {
	if h.exists != nil {
		return h.exists(ctx, key)
	}
	return h.fullStore.Exists(ctx, key)
}

func (h *hookStore) Clear(ctx context.Context, pattern string) (int, error) {
	if h.clear != nil {
		return h.clear(ctx, pattern)
	}
	return h.fullStore.Clear(ctx, pattern)
}

func (h *hookStore) Close() error {
	if h.close != nil {
		return h.close()
	}
	return h.fullStore.Close()
}

func (h *hookStore) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if h.setNX != nil {
		return h.setNX(ctx, key, value, ttl)
	}
	return h.fullStore.SetNX(ctx, key, value, ttl)
}

func (h *hookStore) CompareAndSwap(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	if h.compareAndSwap != nil {
		return h.compareAndSwap(ctx, key, old, value, ttl)
	}
	return h.fullStore.CompareAndSwap(ctx, key, old, value, ttl)
}

func (h *hookStore) CompareAndDelete(ctx context.Context, key string, old []byte) (bool, error) {
	if h.compareAndDelete != nil {
		return h.compareAndDelete(ctx, key, old)
	}
	return h.fullStore.CompareAndDelete(ctx, key, old)
}

func (h *hookStore) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	if h.getMany != nil {
		return h.getMany(ctx, keys)
	}
	return h.fullStore.GetMany(ctx, keys)
}

func (h *hookStore) SetMany(ctx context.Context, items []driver.Item) error {
	if h.setMany != nil {
		return h.setMany(ctx, items)
	}
	return h.fullStore.SetMany(ctx, items)
}

func (h *hookStore) Count(ctx context.Context, pattern string) (int, error) {
	if h.count != nil {
		return h.count(ctx, pattern)
	}
	return h.fullStore.Count(ctx, pattern)
}
