package cachetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime/debug"
	"testing"
	"time"

	"github.com/larderhq/larder/driver"
)

// CheckTimeout bounds each check run by Run, so that a store that hangs
// fails its check instead of stalling the whole test binary until its
// -timeout. It is generous because the checks also run against remote
// stores under the race detector.
const CheckTimeout = 2 * time.Minute

// Check is one rule of the store contract, as a function that returns nil
// if s honours it and an error describing the violation otherwise.
//
// Fn must be given a store that no other goroutine uses with keys under p,
// and p must be a prefix that no other user of the store writes under (see
// NewPrefix). Fn writes only keys that start with p, with TTLs of at most a
// few minutes, so that keys it leaves behind on a shared server expire by
// themselves. Some checks close s. Fn is safe to call concurrently with
// other checks as long as each call has its own p.
type Check struct {
	// Name identifies the check; Run uses it as the subtest name.
	Name string
	// Fn runs the check. It returns a *NotImplementedError if the check
	// concerns an optional interface that s does not implement.
	Fn func(ctx context.Context, s driver.Store, p string) error
}

// NotImplementedError is returned by a check of an optional interface when
// the store does not implement that interface. It is not a failure: the
// interfaces are optional.
type NotImplementedError struct {
	// Interface is the name of the missing interface, such as
	// "driver.ConditionalStore".
	Interface string
}

// Error reports which interface the store lacks.
func (e *NotImplementedError) Error() string {
	return "store does not implement " + e.Interface
}

// NewPrefix returns a new key prefix of the form "ct:<random>:", unique
// with overwhelming probability, for one run of one check. The random part
// uses only letters and digits, so the prefix contains no glob
// metacharacters. NewPrefix is safe for concurrent use.
func NewPrefix() string {
	return "ct:" + rand.Text()[:16] + ":"
}

// Checks returns every check of the contract, in a new slice that the
// caller may modify. Each call returns the same checks in the same order.
func Checks() []Check {
	return []Check{
		{"GetSetRoundTrip", checkRoundTrip},
		{"GetMissing", checkGetMissing},
		{"OverwriteReplacesValueAndTTL", checkOverwrite},
		{"TTLExpiry", checkTTLExpiry},
		{"DeleteCounts", checkDeleteCounts},
		{"DeleteMissing", checkDeleteMissing},
		{"ExistsLifecycle", checkExists},
		{"EmptyValue", checkEmptyValue},
		{"BinaryValues", checkBinaryValues},
		{"BinaryKeys", checkBinaryKeys},
		{"LargeValue", checkLargeValue},
		{"ValuesAreCopied", checkValuesAreCopied},
		{"NamespaceIsolation", checkNamespaceIsolation},
		{"ClearGlobStar", checkClearStar},
		{"ClearGlobQuestion", checkClearQuestion},
		{"ClearGlobClass", checkClearClass},
		{"ClearEscapedMetacharacters", checkClearEscaped},
		{"ClearManyKeys", checkClearMany},
		{"ConcurrentUse", checkConcurrentUse},
		{"CanceledContext", checkCanceledContext},
		{"CallsAfterClose", checkCallsAfterClose},
		{"SetNX", checkSetNX},
		{"SetNXConcurrent", checkSetNXConcurrent},
		{"CompareAndSwap", checkCompareAndSwap},
		{"CompareAndSwapConcurrent", checkCompareAndSwapConcurrent},
		{"CompareAndDelete", checkCompareAndDelete},
		{"GetMany", checkGetMany},
		{"SetMany", checkSetMany},
		{"Count", checkCount},
	}
}

// Run runs every check as a parallel subtest of t, each against its own
// store from newStore and under its own prefix, with a time limit of
// CheckTimeout. A check that returns an error fails its subtest with that
// error; a check of an optional interface that the store lacks is skipped.
//
// Run closes each store when its subtest ends, after a best-effort removal
// of the keys the check left under its prefix (through a second store from
// newStore if the check closed the first); newStore need not register a
// cleanup of its own. Because the subtests are parallel, newStore may be
// called concurrently and must be safe for that.
func Run(t *testing.T, newStore func(t *testing.T) driver.Store) {
	t.Helper()
	for _, c := range Checks() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			if s == nil {
				t.Fatal("newStore returned nil")
			}
			p := NewPrefix()
			t.Cleanup(func() { cleanUp(t, newStore, s, p) })
			ctx, cancel := context.WithTimeout(t.Context(), CheckTimeout)
			defer cancel()
			err := runCheck(ctx, c, s, p)
			var ni *NotImplementedError
			switch {
			case errors.As(err, &ni):
				t.Skip(err)
			case err != nil:
				t.Error(err)
			}
		})
	}
}

// runCheck runs c and turns a panic in the check's goroutine, typically a
// store dereferencing something it should not, into an error, so that one
// broken method fails one check rather than the whole test binary.
func runCheck(ctx context.Context, c Check, s driver.Store, p string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("check %s panicked: %v\n%s", c.Name, r, debug.Stack())
		}
	}()
	return c.Fn(ctx, s, p)
}

// cleanUp removes what a check left under p, so that a shared server does
// not accumulate keys until their TTLs pass, and closes s. If the check
// closed s itself, a fresh store from newStore does the removal. Errors are
// only logged: the check has already passed or failed on its own merits.
func cleanUp(t *testing.T, newStore func(t *testing.T) driver.Store, s driver.Store, p string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s.Clear(ctx, escape(p)+"*")
	if errors.Is(err, driver.ErrClosed) {
		fresh := newStore(t)
		defer fresh.Close()
		_, err = fresh.Clear(ctx, escape(p)+"*")
	}
	if err != nil {
		t.Logf("cleaning up keys under %q: %v", p, err)
	}
	if err := s.Close(); err != nil && !errors.Is(err, driver.ErrClosed) {
		t.Logf("closing the store: %v", err)
	}
}
