package driver

import "errors"

// Errors of the Store contract. A Store wraps them with %w; the Cache tests
// for them with errors.Is. Package larder exports the same values under the
// same names where an application meets them too (ErrNotFound from a
// loader, ErrClosed, ErrInvalidKey, ErrInvalidTTL, ErrInvalidPattern,
// ErrInvalidOptions, ErrUnavailable).
var (
	// ErrNotFound is returned by Get when a key holds no live entry.
	ErrNotFound = errors.New("larder: not found")
	// ErrClosed is returned by every call made after Close.
	ErrClosed = errors.New("larder: closed")
	// ErrInvalidTTL is returned for a TTL that is not positive.
	ErrInvalidTTL = errors.New("larder: invalid ttl")
	// ErrInvalidPattern is returned by Clear and Count for a glob pattern
	// that can never match.
	ErrInvalidPattern = errors.New("larder: invalid pattern")
	// ErrInvalidKey is returned for an empty key.
	ErrInvalidKey = errors.New("larder: invalid key")
	// ErrInvalidOptions is returned by a store's constructor for options
	// that fail validation.
	ErrInvalidOptions = errors.New("larder: invalid options")
	// ErrUnavailable is returned when the back end cannot be reached or
	// has failed; the Cache fails open on it.
	ErrUnavailable = errors.New("larder: store unavailable")
	// ErrTooLarge is returned for a value the store cannot hold.
	ErrTooLarge = errors.New("larder: value too large")
	// ErrRefused is returned when a healthy server refused an operation on
	// one key (a command error, such as Redis's WRONGTYPE for a key of
	// another type). The Cache fails open for that key and counts an error,
	// but not against its circuit breaker: the server is fine.
	ErrRefused = errors.New("larder: the store refused the operation on this key")
)
