package cachetest_test

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/larderhq/larder/cachetest"
	"github.com/larderhq/larder/driver"
)

// TestRunMapStore runs the suite against MapStore, the reference store,
// showing that a store with no faults passes every check (and that the
// store given to tests as a stand-in honours the whole contract).
func TestRunMapStore(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) driver.Store { return cachetest.NewMapStore(nil) })
}

// plainStore hides every optional interface of the store it wraps.
type plainStore struct{ driver.Store }

// TestRunPlainStore runs the suite against a store with no optional
// interfaces: the core checks must pass and the optional ones be skipped.
func TestRunPlainStore(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) driver.Store { return plainStore{cachetest.NewMapStore(nil)} })
}

// TestOptionalChecksReportNotImplemented checks that exactly the checks of
// optional interfaces ask to be skipped for a plain store, and that they
// name the interface.
func TestOptionalChecksReportNotImplemented(t *testing.T) {
	optional := map[string]string{
		"SetNX":                    "driver.ConditionalStore",
		"SetNXConcurrent":          "driver.ConditionalStore",
		"CompareAndSwap":           "driver.ConditionalStore",
		"CompareAndSwapConcurrent": "driver.ConditionalStore",
		"CompareAndDelete":         "driver.ConditionalStore",
		"GetMany":                  "driver.BatchStore",
		"SetMany":                  "driver.BatchStore",
		"Count":                    "driver.KeyCounter",
	}
	for _, c := range cachetest.Checks() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			s := plainStore{cachetest.NewMapStore(nil)}
			err := c.Fn(t.Context(), s, cachetest.NewPrefix())
			var ni *cachetest.NotImplementedError
			iface, isOptional := optional[c.Name]
			switch {
			case isOptional && !errors.As(err, &ni):
				t.Errorf("got %v, want a *NotImplementedError", err)
			case isOptional && ni.Interface != iface:
				t.Errorf("NotImplementedError names %q, want %q", ni.Interface, iface)
			case !isOptional && err != nil:
				t.Errorf("core check failed on a correct store: %v", err)
			}
		})
	}
}

func TestChecksHaveUniqueNames(t *testing.T) {
	seen := map[string]bool{}
	valid := regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
	for _, c := range cachetest.Checks() {
		if seen[c.Name] {
			t.Errorf("two checks are named %q", c.Name)
		}
		seen[c.Name] = true
		if !valid.MatchString(c.Name) {
			t.Errorf("check name %q is not a plain identifier, which makes -run awkward", c.Name)
		}
		if c.Fn == nil {
			t.Errorf("check %q has no function", c.Name)
		}
	}
}

func TestNewPrefix(t *testing.T) {
	valid := regexp.MustCompile(`^ct:[A-Z2-7]{16}:$`)
	seen := map[string]bool{}
	for range 1000 {
		p := cachetest.NewPrefix()
		if !valid.MatchString(p) {
			t.Fatalf("NewPrefix() = %q, want letters and digits between ct: and :", p)
		}
		if seen[p] {
			t.Fatalf("NewPrefix() returned %q twice", p)
		}
		seen[p] = true
	}
}

// TestChecksStayUnderPrefix runs every check against a store that records
// the keys and patterns it is given, and fails if any falls outside the
// check's prefix, which would make the suite unsafe on a shared server.
func TestChecksStayUnderPrefix(t *testing.T) {
	for _, c := range cachetest.Checks() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			p := cachetest.NewPrefix()
			inner := cachetest.NewMapStore(nil)
			outside := make(chan string, 1)
			guard := func(what, s string) {
				if len(s) < len(p) || s[:len(p)] != p {
					select {
					case outside <- what + " " + s:
					default:
					}
				}
			}
			h := &hookStore{fullStore: inner}
			h.get = func(ctx context.Context, k string) ([]byte, error) { guard("Get", k); return inner.Get(ctx, k) }
			h.set = func(ctx context.Context, k string, v []byte, ttl time.Duration) error {
				guard("Set", k)
				return inner.Set(ctx, k, v, ttl)
			}
			h.del = func(ctx context.Context, keys ...string) (int, error) {
				for _, k := range keys {
					guard("Delete", k)
				}
				return inner.Delete(ctx, keys...)
			}
			h.exists = func(ctx context.Context, k string) (bool, error) { guard("Exists", k); return inner.Exists(ctx, k) }
			// The prefix has no metacharacters, so an escaped prefix is the
			// prefix itself.
			h.clear = func(ctx context.Context, pat string) (int, error) { guard("Clear", pat); return inner.Clear(ctx, pat) }
			h.count = func(ctx context.Context, pat string) (int, error) { guard("Count", pat); return inner.Count(ctx, pat) }
			h.setNX = func(ctx context.Context, k string, v []byte, ttl time.Duration) (bool, error) {
				guard("SetNX", k)
				return inner.SetNX(ctx, k, v, ttl)
			}
			h.compareAndSwap = func(ctx context.Context, k string, old, v []byte, ttl time.Duration) (bool, error) {
				guard("CompareAndSwap", k)
				return inner.CompareAndSwap(ctx, k, old, v, ttl)
			}
			h.compareAndDelete = func(ctx context.Context, k string, old []byte) (bool, error) {
				guard("CompareAndDelete", k)
				return inner.CompareAndDelete(ctx, k, old)
			}
			h.getMany = func(ctx context.Context, keys []string) ([][]byte, error) {
				for _, k := range keys {
					guard("GetMany", k)
				}
				return inner.GetMany(ctx, keys)
			}
			h.setMany = func(ctx context.Context, items []driver.Item) error {
				for _, it := range items {
					guard("SetMany", it.Key)
				}
				return inner.SetMany(ctx, items)
			}
			if err := c.Fn(t.Context(), h, p); err != nil {
				t.Fatalf("check failed on a correct store: %v", err)
			}
			select {
			case what := <-outside:
				t.Errorf("check used a key or pattern outside its prefix %q: %q", p, what)
			default:
			}
		})
	}
}
