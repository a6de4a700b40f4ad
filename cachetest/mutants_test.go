package cachetest_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/larderhq/larder/cachetest"
	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/glob"
	"github.com/larderhq/larder/internal/storetest"
	"github.com/larderhq/larder/memstore"
)

// mutant is a store with one deliberate fault and the check expected to
// catch it. Every check must catch at least one mutant: a check that no
// broken store can fail checks nothing.
type mutant struct {
	name     string
	caughtBy string
	store    func(t *testing.T) driver.Store
}

// hooked returns a mutant store: a memstore with the hooks that fn sets.
func hooked(fn func(h *hookStore, m *memstore.Store)) func(t *testing.T) driver.Store {
	return func(t *testing.T) driver.Store {
		m := storetest.Memory(t, memstore.Options{})
		h := &hookStore{fullStore: m}
		fn(h, m)
		return h
	}
}

// mapped returns a mutant store: a MapStore with the hooks that fn sets,
// for the faults that need what only MapStore shows, its keys and TTLs.
func mapped(fn func(h *hookStore, m *cachetest.MapStore)) func(t *testing.T) driver.Store {
	return func(t *testing.T) driver.Store {
		m := cachetest.NewMapStore(nil)
		h := &hookStore{fullStore: m}
		fn(h, m)
		return h
	}
}

// matching returns m's keys that match pattern by match, at most limit of
// them (no limit if limit is 0).
func matching(m *cachetest.MapStore, pattern string, match func(pattern, key string) bool, limit int) []string {
	var keys []string
	for _, k := range m.Keys() {
		if limit > 0 && len(keys) == limit {
			break
		}
		if match(pattern, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// mismatched returns a mutant store whose Clear and Count match keys by
// match instead of glob.Match.
func mismatched(match func(pattern, key string) bool) func(t *testing.T) driver.Store {
	return mapped(func(h *hookStore, m *cachetest.MapStore) {
		h.clear = func(ctx context.Context, pattern string) (int, error) {
			return m.Delete(ctx, matching(m, pattern, match, 0)...)
		}
		h.count = func(ctx context.Context, pattern string) (int, error) {
			if err := m.Ping(ctx); err != nil {
				return 0, err
			}
			return len(matching(m, pattern, match, 0)), nil
		}
	})
}

// tornSet overwrites a value of the same length a chunk at a time, each
// chunk written into what the key holds by then. Every write is whole, so
// -race stays quiet, but readers and other writers can see half of one
// value and half of another.
func tornSet(ctx context.Context, m *cachetest.MapStore, key string, value []byte, ttl time.Duration) error {
	const chunk = 1024
	if len(value) == 0 {
		return m.Set(ctx, key, value, ttl)
	}
	for off := 0; off < len(value); off += chunk {
		cur, err := m.Get(ctx, key)
		if err != nil || len(cur) != len(value) {
			return m.Set(ctx, key, value, ttl)
		}
		copy(cur[off:], value[off:min(off+chunk, len(value))])
		if err := m.Set(ctx, key, cur, ttl); err != nil {
			return err
		}
		runtime.Gosched()
		time.Sleep(time.Microsecond)
	}
	return nil
}

// rewrittenGets makes h's Get pass each value that m returns through fn,
// with mu held.
func rewrittenGets(h *hookStore, m *cachetest.MapStore, mu *sync.Mutex, fn func(key string, v []byte) []byte) {
	h.get = func(ctx context.Context, key string) ([]byte, error) {
		v, err := m.Get(ctx, key)
		if err != nil {
			return v, err
		}
		mu.Lock()
		defer mu.Unlock()
		return fn(key, v), nil
	}
}

// aliasedGets makes m's Get hand out one slice per key for as long as the
// value stays the same, as a store that returns the slice it holds.
func aliasedGets(h *hookStore, m *cachetest.MapStore) {
	handed := map[string][]byte{}
	rewrittenGets(h, m, new(sync.Mutex), func(key string, v []byte) []byte {
		if prev, ok := handed[key]; ok && bytes.Equal(prev, v) {
			return prev
		}
		handed[key] = v
		return v
	})
}

// aliasedSets makes m's Get read the caller's slice of the key's last
// Set, as a store that keeps that slice instead of a copy.
func aliasedSets(h *hookStore, m *cachetest.MapStore) {
	var mu sync.Mutex
	kept := map[string][]byte{}
	h.set = func(ctx context.Context, key string, value []byte, ttl time.Duration) error {
		if err := m.Set(ctx, key, value, ttl); err != nil {
			return err
		}
		mu.Lock()
		kept[key] = value
		mu.Unlock()
		return nil
	}
	rewrittenGets(h, m, &mu, func(key string, v []byte) []byte {
		if k, ok := kept[key]; ok {
			return bytes.Clone(k)
		}
		return v
	})
}

// truncateAtNUL imitates a store that passes bytes through C strings.
func truncateAtNUL(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}

func mutants() []mutant {
	return []mutant{
		{"Set drops writes", "GetSetRoundTrip", hooked(func(h *hookStore, m *memstore.Store) {
			h.set = func(ctx context.Context, key string, value []byte, ttl time.Duration) error { return nil }
		})},
		{"miss returns nil, nil", "GetMissing", hooked(func(h *hookStore, m *memstore.Store) {
			h.get = func(ctx context.Context, key string) ([]byte, error) {
				v, err := m.Get(ctx, key)
				if errors.Is(err, driver.ErrNotFound) {
					return nil, nil
				}
				return v, err
			}
		})},
		{"overwrite keeps the old TTL", "OverwriteReplacesValueAndTTL", mapped(func(h *hookStore, m *cachetest.MapStore) {
			h.set = func(ctx context.Context, key string, value []byte, ttl time.Duration) error {
				if left, ok := m.TTL(key); ok {
					ttl = left
				}
				return m.Set(ctx, key, value, ttl)
			}
		})},
		{"Set does not overwrite", "OverwriteReplacesValueAndTTL", hooked(func(h *hookStore, m *memstore.Store) {
			h.set = func(ctx context.Context, key string, value []byte, ttl time.Duration) error {
				_, err := m.SetNX(ctx, key, value, ttl)
				return err
			}
		})},
		{"TTL ignored", "TTLExpiry", hooked(func(h *hookStore, m *memstore.Store) {
			h.set = func(ctx context.Context, key string, value []byte, ttl time.Duration) error {
				return m.Set(ctx, key, value, time.Hour)
			}
		})},
		{"TTL in seconds, rounded down", "TTLExpiry", hooked(func(h *hookStore, m *memstore.Store) {
			h.set = func(ctx context.Context, key string, value []byte, ttl time.Duration) error {
				return m.Set(ctx, key, value, max(ttl.Truncate(time.Second), time.Nanosecond))
			}
		})},
		{"Delete does nothing", "DeleteCounts", hooked(func(h *hookStore, m *memstore.Store) {
			h.del = func(ctx context.Context, keys ...string) (int, error) { return len(keys), nil }
		})},
		{"Delete counts keys asked for", "DeleteMissing", hooked(func(h *hookStore, m *memstore.Store) {
			h.del = func(ctx context.Context, keys ...string) (int, error) {
				_, err := m.Delete(ctx, keys...)
				return len(keys), err
			}
		})},
		{"Exists always true", "ExistsLifecycle", hooked(func(h *hookStore, m *memstore.Store) {
			h.exists = func(ctx context.Context, key string) (bool, error) { return true, nil }
		})},
		{"empty value stored as a miss", "EmptyValue", hooked(func(h *hookStore, m *memstore.Store) {
			h.set = func(ctx context.Context, key string, value []byte, ttl time.Duration) error {
				if len(value) == 0 {
					_, err := m.Delete(ctx, key)
					return err
				}
				return m.Set(ctx, key, value, ttl)
			}
		})},
		{"values end at NUL", "BinaryValues", hooked(func(h *hookStore, m *memstore.Store) {
			h.set = func(ctx context.Context, key string, value []byte, ttl time.Duration) error {
				return m.Set(ctx, key, truncateAtNUL(value), ttl)
			}
		})},
		{"values forced to UTF-8", "BinaryValues", hooked(func(h *hookStore, m *memstore.Store) {
			h.set = func(ctx context.Context, key string, value []byte, ttl time.Duration) error {
				return m.Set(ctx, key, []byte(strings.ToValidUTF8(string(value), "\uFFFD")), ttl)
			}
		})},
		{"keys end at NUL", "BinaryKeys", hooked(func(h *hookStore, m *memstore.Store) {
			cut := func(k string) string { return string(truncateAtNUL([]byte(k))) }
			h.set = func(ctx context.Context, key string, value []byte, ttl time.Duration) error {
				return m.Set(ctx, cut(key), value, ttl)
			}
			h.get = func(ctx context.Context, key string) ([]byte, error) { return m.Get(ctx, cut(key)) }
		})},
		{"values capped at 1 MiB", "LargeValue", hooked(func(h *hookStore, m *memstore.Store) {
			h.set = func(ctx context.Context, key string, value []byte, ttl time.Duration) error {
				return m.Set(ctx, key, value[:min(len(value), 1<<20)], ttl)
			}
		})},
		{"Get returns the stored slice", "ValuesAreCopied", mapped(aliasedGets)},
		{"Set keeps the caller's slice", "ValuesAreCopied", mapped(aliasedSets)},
		{"Clear ignores the pattern", "NamespaceIsolation", hooked(func(h *hookStore, m *memstore.Store) {
			h.clear = func(ctx context.Context, pattern string) (int, error) { return m.Clear(ctx, "*") }
		})},
		{"Clear reports nothing removed", "ClearGlobStar", hooked(func(h *hookStore, m *memstore.Store) {
			h.clear = func(ctx context.Context, pattern string) (int, error) {
				_, err := m.Clear(ctx, pattern)
				return 0, err
			}
		})},
		{"? matches any run", "ClearGlobQuestion", mismatched(func(pattern, key string) bool {
			return glob.Match(strings.ReplaceAll(pattern, "?", "*"), key)
		})},
		{"[^...] not negated", "ClearGlobClass", mismatched(func(pattern, key string) bool {
			return glob.Match(strings.ReplaceAll(pattern, "[^", "["), key)
		})},
		{"Clear treats \\* as *", "ClearEscapedMetacharacters", mismatched(func(pattern, key string) bool {
			return glob.Match(strings.ReplaceAll(pattern, `\`, ""), key)
		})},
		{"Clear runs one SCAN batch", "ClearManyKeys", mapped(func(h *hookStore, m *cachetest.MapStore) {
			h.clear = func(ctx context.Context, pattern string) (int, error) {
				return m.Delete(ctx, matching(m, pattern, glob.Match, 1000)...)
			}
		})},
		{"Set tears values", "ConcurrentUse", mapped(func(h *hookStore, m *cachetest.MapStore) {
			h.set = func(ctx context.Context, key string, value []byte, ttl time.Duration) error {
				return tornSet(ctx, m, key, value, ttl)
			}
		})},
		{"Get ignores its context", "CanceledContext", hooked(func(h *hookStore, m *memstore.Store) {
			h.get = func(ctx context.Context, key string) ([]byte, error) { return m.Get(context.Background(), key) }
		})},
		{"Close does nothing", "CallsAfterClose", hooked(func(h *hookStore, m *memstore.Store) {
			h.close = func() error { return nil }
		})},
		{"SetNX always stores", "SetNX", hooked(func(h *hookStore, m *memstore.Store) {
			h.setNX = func(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
				return true, m.Set(ctx, key, value, ttl)
			}
		})},
		{"SetNX checks, then sets", "SetNXConcurrent", hooked(func(h *hookStore, m *memstore.Store) {
			h.setNX = func(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
				if ok, err := m.Exists(ctx, key); ok || err != nil {
					return false, err
				}
				time.Sleep(time.Millisecond)
				return true, m.Set(ctx, key, value, ttl)
			}
		})},
		{"CompareAndSwap ignores old", "CompareAndSwap", hooked(func(h *hookStore, m *memstore.Store) {
			h.compareAndSwap = func(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
				return true, m.Set(ctx, key, value, ttl)
			}
		})},
		{"CompareAndSwap creates absent keys", "CompareAndSwap", hooked(func(h *hookStore, m *memstore.Store) {
			h.compareAndSwap = func(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
				if len(old) == 0 {
					return m.SetNX(ctx, key, value, ttl)
				}
				return m.CompareAndSwap(ctx, key, old, value, ttl)
			}
		})},
		{"CompareAndSwap compares, then sets", "CompareAndSwapConcurrent", hooked(func(h *hookStore, m *memstore.Store) {
			h.compareAndSwap = func(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
				cur, err := m.Get(ctx, key)
				if err != nil || !bytes.Equal(cur, old) {
					return false, nil
				}
				time.Sleep(time.Millisecond)
				return true, m.Set(ctx, key, value, ttl)
			}
		})},
		{"CompareAndDelete ignores old", "CompareAndDelete", hooked(func(h *hookStore, m *memstore.Store) {
			h.compareAndDelete = func(ctx context.Context, key string, old []byte) (bool, error) {
				n, err := m.Delete(ctx, key)
				return n == 1, err
			}
		})},
		{"GetMany drops missing keys", "GetMany", hooked(func(h *hookStore, m *memstore.Store) {
			h.getMany = func(ctx context.Context, keys []string) ([][]byte, error) {
				all, err := m.GetMany(ctx, keys)
				var found [][]byte
				for _, v := range all {
					if v != nil {
						found = append(found, v)
					}
				}
				return found, err
			}
		})},
		{"GetMany returns empty values as missing", "GetMany", hooked(func(h *hookStore, m *memstore.Store) {
			h.getMany = func(ctx context.Context, keys []string) ([][]byte, error) {
				all, err := m.GetMany(ctx, keys)
				for i, v := range all {
					if len(v) == 0 {
						all[i] = nil
					}
				}
				return all, err
			}
		})},
		{"SetMany ignores TTLs", "SetMany", hooked(func(h *hookStore, m *memstore.Store) {
			h.setMany = func(ctx context.Context, items []driver.Item) error {
				for _, it := range items {
					if err := m.Set(ctx, it.Key, it.Value, time.Hour); err != nil {
						return err
					}
				}
				return nil
			}
		})},
		{"Count counts every key", "Count", hooked(func(h *hookStore, m *memstore.Store) {
			h.count = func(ctx context.Context, pattern string) (int, error) { return m.Count(ctx, "*") }
		})},
	}
}

// TestChecksCatchMutants runs, against each mutant, the check that should
// catch it, and fails if the check passes.
func TestChecksCatchMutants(t *testing.T) {
	checks := map[string]cachetest.Check{}
	for _, c := range cachetest.Checks() {
		checks[c.Name] = c
	}
	for _, m := range mutants() {
		t.Run(m.name, func(t *testing.T) {
			t.Parallel()
			c, ok := checks[m.caughtBy]
			if !ok {
				t.Fatalf("no check is named %q", m.caughtBy)
			}
			s := m.store(t)
			t.Cleanup(func() { _ = s.Close() })
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			err := c.Fn(ctx, s, cachetest.NewPrefix())
			var ni *cachetest.NotImplementedError
			switch {
			case err == nil:
				t.Errorf("check %s passed a store where %s", m.caughtBy, m.name)
			case errors.As(err, &ni):
				t.Errorf("check %s skipped a store that implements every interface: %v", m.caughtBy, err)
			default:
				t.Logf("check %s caught it: %v", m.caughtBy, err)
			}
		})
	}
}

// TestEveryCheckCatchesAMutant guards against adding a check that no mutant
// proves able to fail.
func TestEveryCheckCatchesAMutant(t *testing.T) {
	caught := map[string]bool{}
	for _, m := range mutants() {
		caught[m.caughtBy] = true
	}
	for _, c := range cachetest.Checks() {
		t.Run(c.Name, func(t *testing.T) {
			if !caught[c.Name] {
				t.Errorf("no mutant is expected to be caught by check %s", c.Name)
			}
		})
	}
}
