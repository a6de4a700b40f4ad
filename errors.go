package larder

import "errors"

// Sentinel errors. Callers test for them with errors.Is; the errors a Cache
// returns wrap them with context using %w.
var (
	// ErrNotFound is returned by a Store when a key holds no live entry.
	ErrNotFound = errors.New("larder: not found")
	// ErrClosed is returned by calls made after Close.
	ErrClosed = errors.New("larder: closed")
	// ErrInvalidKey is returned for an empty key or one that is too long.
	ErrInvalidKey = errors.New("larder: invalid key")
	// ErrInvalidTTL is returned by the Cache for a negative TTL, and by a
	// Store for a TTL that is not positive.
	ErrInvalidTTL = errors.New("larder: invalid ttl")
	// ErrInvalidPattern is returned for a malformed glob pattern.
	ErrInvalidPattern = errors.New("larder: invalid pattern")
	// ErrTooLarge is returned by a Store for a value it cannot hold.
	ErrTooLarge = errors.New("larder: value too large")
	// ErrEncode is returned when a value cannot be encoded by the codec;
	// nothing is stored.
	ErrEncode = errors.New("larder: cannot encode value")
	// ErrDecode is counted (never returned by Get) when a stored value does
	// not decode into the caller's type.
	ErrDecode = errors.New("larder: cannot decode value")
	// ErrUnavailable is returned by operations that do not fail open (Clear,
	// Ping, Count, Info) when the store is failing or the circuit breaker is open.
	ErrUnavailable = errors.New("larder: store unavailable")
	// ErrTimeout is counted when a store call exceeds its time budget.
	ErrTimeout = errors.New("larder: store timeout")
	// ErrStale is wrapped around a loader's error when Fetch answers with a
	// stale value instead (StaleIfError): the value returned beside it is
	// usable.
	ErrStale = errors.New("larder: stale value served after a load error")
	// ErrInvalidOptions is returned by New for options that fail validation.
	ErrInvalidOptions = errors.New("larder: invalid options")
)
