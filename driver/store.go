package driver

import (
	"context"
	"time"
)

// Store is the back end a Cache keeps its bytes in. It is deliberately small,
// like database/sql/driver: a Store moves opaque byte values under full keys
// and knows nothing of namespaces, codecs, time budgets or fail-open
// behaviour, which the Cache adds on top.
//
// The contract every implementation must honour (checked by [github.com/larderhq/larder/cachetest.Run]):
//
//   - Keys are non-empty byte strings used exactly as given; the Cache has
//     already added its namespace prefix.
//   - Get returns a copy of the stored bytes (a present empty value is a
//     non-nil empty slice), or an error wrapping ErrNotFound when the key is
//     absent or expired. The caller may keep and modify the returned slice.
//   - Set stores a copy of value, replacing any earlier value and its TTL. A
//     ttl <= 0 is invalid: the Cache always passes a positive TTL, and a store
//     rejects anything else with an error wrapping ErrInvalidTTL. An entry
//     must not be returned after its TTL has passed. A value the store cannot
//     hold returns an error wrapping ErrTooLarge.
//   - Delete removes the given keys and returns how many existed (a key
//     given twice counts once; expired keys count as absent). Deleting a
//     missing key, or no key at all, is not an error.
//   - Exists reports whether a live entry exists under key.
//   - Clear removes every key that matches pattern and returns how many
//     live keys it removed. Patterns follow Redis's stringmatchlen: *, ?,
//     [abc], [^a], [a-z] (reversed ranges allowed), and \ escaping the next
//     character; a pattern Redis can never match may be refused with
//     ErrInvalidPattern. Clear must not block the server (Redis: SCAN and
//     UNLINK in batches, never KEYS or FLUSH*), and keys written while it
//     runs may or may not be removed.
//   - Ping checks that the back end is reachable.
//   - Close releases the store's resources and stops its goroutines. Calls
//     after Close, including a second Close, return an error wrapping
//     ErrClosed.
//   - Every method is safe for concurrent use and honours ctx: once ctx is
//     done it returns promptly with an error wrapping ctx.Err(), so that the
//     Cache can tell its own time budget from a failing back end.
//   - Errors other than ErrNotFound mean the back end failed; the Cache
//     counts them and fails open.
//
// Optional powers are separate interfaces, detected by the Cache with a
// type assertion, in the way net/http detects http.Flusher; without one
// the Cache does without that power:
//
//   - [ConditionalStore]: leases and compare-and-swap. Without it, Fetch
//     fills by plain Set (no protection across processes) and
//     SetVersioned is a plain Set.
//   - [BatchStore]: a tagged entry and its tags' generations in one round
//     trip. Without it, one round trip each.
//   - [InvalidationSource]: keeps the local tier coherent. Without
//     it, tier entries live for Options.LocalFallbackTTL only.
//   - [SelfReporter]: heartbeats bound the tier's lag (Options.LocalLag).
//     Without it, the tier trusts the stream of changes as it comes.
//   - [KeyCounter], [Infoer], [Sizer]: statistics. Without them, Count
//     returns an error wrapping errors.ErrUnsupported, Info a nil map.
//   - [ModeReporter]: the Mode a Cache reports. Without it, ModeCustom.
//   - [InProcessStore]: an in-process store, called without a budget or a
//     breaker. Without it, the store is treated as remote.
type Store interface {
	Get(ctx context.Context, key string) ([]byte, error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	Delete(ctx context.Context, keys ...string) (int, error)
	Exists(ctx context.Context, key string) (bool, error)
	Clear(ctx context.Context, pattern string) (int, error)
	Ping(ctx context.Context) error
	Close() error
}

// ConditionalStore is implemented by stores that can write conditionally.
// It is what leases (a placeholder written only when the key is absent) and
// versioned write-through (a value replaced only when it is still the one
// the writer read) are built on. Both operations are atomic with respect to
// every other operation on the same key, including operations made by other
// processes sharing the back end. Without it, Fetch fills by plain Set,
// with no protection against a concurrent fill or invalidation in another
// process, and SetVersioned is a plain Set.
type ConditionalStore interface {
	Store
	// SetNX stores value under key with the given ttl only if the key holds
	// no live entry, and reports whether it stored it.
	SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error)
	// CompareAndSwap replaces the value under key with value (and its TTL with
	// ttl) only if the key currently holds exactly old, and reports whether it
	// did. An absent key never matches.
	CompareAndSwap(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error)
	// CompareAndDelete removes key only if it currently holds exactly old, and
	// reports whether it did.
	CompareAndDelete(ctx context.Context, key string, old []byte) (bool, error)
}

// BatchStore is implemented by stores that can read and write many keys in
// one round trip. The Cache reads a tagged entry and its tags' generations
// with one GetMany; without it, it makes one round trip per key.
type BatchStore interface {
	Store
	// GetMany returns the values of keys in the same order; a missing key
	// yields a nil slice at its position (never an ErrNotFound error), a
	// present empty value a non-nil empty slice. No keys is no error.
	GetMany(ctx context.Context, keys []string) ([][]byte, error)
	// SetMany stores every item; it is not atomic across items. No items
	// is no error.
	SetMany(ctx context.Context, items []Item) error
}

// Item is one entry written by BatchStore.SetMany.
type Item struct {
	Key   string
	Value []byte
	TTL   time.Duration
}

// InvalidationSource is implemented by stores shared between processes that
// can tell a process when keys change elsewhere (Redis: RESP3 client
// tracking). The Cache uses it to keep its local tier coherent; without
// it, local-tier entries live for Options.LocalFallbackTTL only.
type InvalidationSource interface {
	Store
	// OnInvalidate registers fn to be called with the full keys that changed.
	// A nil keys slice means "anything may have changed" (for example after a
	// reconnect) and the receiver must drop everything it holds. fn must not
	// block. The returned function unregisters fn.
	OnInvalidate(fn func(keys []string)) (cancel func())
	// Track asks the source to report changes to every key that starts
	// with prefix (a Cache passes its namespace and the colon). It returns
	// an error when it cannot cover prefix; the Cache then keeps local-tier
	// entries only for Options.LocalFallbackTTL and says so in Stats.
	// Tracking a prefix already covered is no error.
	Track(prefix string) error
	// Tracking reports whether invalidations flow now. While it is false
	// (not connected yet, or the server cannot track) the Cache keeps
	// local-tier entries only for Options.LocalFallbackTTL.
	Tracking() bool
}

// SelfReporter is implemented by InvalidationSources that report changes
// made through themselves too, as redisstore does. The Cache then bounds
// its local tier's lag (Options.LocalLag) by writing heartbeats and
// waiting for them to be reported; without it the tier trusts the stream
// of changes as it comes.
type SelfReporter interface {
	// ReportsOwnWrites reports whether a write through this store is
	// reported to the functions registered with OnInvalidate.
	ReportsOwnWrites() bool
}

// KeyCounter is implemented by stores that can count the keys matching a
// pattern without removing them, for statistics. Without it, the Cache's
// Count returns an error wrapping errors.ErrUnsupported.
type KeyCounter interface {
	Store
	// Count returns how many keys match pattern (a Redis glob, as in Clear).
	Count(ctx context.Context, pattern string) (int, error)
}

// Infoer is implemented by stores that can describe their server, for the
// admin handlers (Redis INFO: used_memory, connected_clients, …). Without
// it, the Cache's Info returns a nil map.
type Infoer interface {
	Store
	// Info returns server facts as flat string pairs.
	Info(ctx context.Context) (map[string]string, error)
}

// Sizer is implemented by in-process stores that can say how much they
// hold, for the admin statistics; without it they report no size.
type Sizer interface {
	// Size returns the number of entries and the bytes they weigh.
	Size() (entries int, bytes uint64)
}

// InProcessStore is implemented by stores whose calls never wait on I/O or on
// another process (memstore). The Cache calls them without a time budget
// and without the circuit breaker, which would only add cost; without it,
// a store is treated as remote and gets both.
type InProcessStore interface {
	Store
	// InProcess reports whether the store is in-process; false means the
	// store is treated as remote.
	InProcess() bool
}
