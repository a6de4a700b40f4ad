package larder

import (
	"errors"
	"fmt"

	"github.com/larderhq/larder/driver"
)

// Sentinel errors. Callers test for them with errors.Is; the errors a Cache
// returns wrap them with context using %w.
var (
	// ErrNotFound is what a loader returns to say that nothing exists
	// under its key (Fetch then answers with a *NotFoundError and may cache
	// the absence, see NegativeTTL). It is the same value as
	// driver.ErrNotFound, which a Store returns for a missing key.
	ErrNotFound = driver.ErrNotFound
	// ErrClosed is returned by calls made after Close (driver.ErrClosed).
	ErrClosed = driver.ErrClosed
	// ErrInvalidKey is returned for an empty key or one that is too long
	// (driver.ErrInvalidKey).
	ErrInvalidKey = driver.ErrInvalidKey
	// ErrInvalidTTL is returned for a negative TTL (driver.ErrInvalidTTL).
	ErrInvalidTTL = driver.ErrInvalidTTL
	// ErrInvalidPattern is returned by Clear and Count for a malformed glob
	// pattern (driver.ErrInvalidPattern).
	ErrInvalidPattern = driver.ErrInvalidPattern
	// ErrEncode is returned when a value cannot be encoded by the codec;
	// nothing is stored.
	ErrEncode = errors.New("larder: cannot encode value")
	// ErrDecode is counted (never returned by Get) when a stored value does
	// not decode into the caller's type.
	ErrDecode = errors.New("larder: cannot decode value")
	// ErrUnavailable is returned by operations that do not fail open (Clear,
	// Ping, Count, Info) when the store is failing or the circuit breaker is open
	// (driver.ErrUnavailable).
	ErrUnavailable = driver.ErrUnavailable
	// ErrTimeout is counted when a store call exceeds its time budget.
	ErrTimeout = errors.New("larder: store timeout")
	// ErrStale is wrapped around a loader's error when Fetch answers with a
	// stale value instead (StaleIfError): the value returned beside it is
	// usable.
	ErrStale = errors.New("larder: stale value served after a load error")
	// ErrInvalidOptions is returned by New for options that fail validation,
	// and by Fetch for FetchOptions that do (driver.ErrInvalidOptions).
	ErrInvalidOptions = driver.ErrInvalidOptions
	// ErrPanic is wrapped by the error every waiter of a Fetch gets when its
	// loader panicked (see PanicError); the process keeps running.
	ErrPanic = errors.New("larder: loader panicked")
	// ErrInvalidDestination is returned by Get for a destination that is not
	// a non-nil pointer.
	ErrInvalidDestination = errors.New("larder: invalid destination")
)

// PanicError is the error Fetch returns when its loader panicked: the
// panic's value and the stack of the goroutine that panicked. It wraps
// ErrPanic, and the value too when the value is an error.
type PanicError struct {
	Key   string
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("larder: loader of %q panicked: %v\n%s", e.Key, e.Value, e.Stack)
}

// Unwrap makes errors.Is(err, ErrPanic) hold, and errors.Is against the
// panic's value when it is an error.
func (e *PanicError) Unwrap() []error {
	if err, ok := e.Value.(error); ok {
		return []error{ErrPanic, err}
	}
	return []error{ErrPanic}
}
