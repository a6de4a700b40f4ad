package larder

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/telemetry"
)

// Defaults applied by New to zero-valued Options fields.
const (
	DefaultNamespace        = "larder"
	DefaultTTL              = time.Hour
	DefaultTimeout          = 50 * time.Millisecond
	DefaultBreakerThreshold = 5
	DefaultProbeInterval    = time.Second
	DefaultLogInterval      = 10 * time.Second
	DefaultLocalMaxBytes    = 64 << 20
	DefaultLocalTTL         = time.Minute
	DefaultLocalFallbackTTL = time.Second
	DefaultMaxRefreshes     = 64
	DefaultLocalLag         = 50 * time.Millisecond
	// MaxKeyLen bounds a caller's key (before the namespace is added), so a
	// key built from unbounded input cannot make every call expensive.
	MaxKeyLen = 8 << 10
)

// Options configures a Cache. The zero value is valid and gives a disabled
// (off mode) cache; every zero field means its documented default.
type Options struct {
	// Store is where values live. Nil means off mode: every read misses,
	// every write succeeds without storing, and Enabled reports false.
	Store driver.Store

	// BorrowStore makes the Cache a borrower of Store: Close leaves the
	// store open for its owner to close, as a database/sql pool is shared.
	// Several Caches, one per namespace, can then share one store and its
	// connections. By default the Cache owns the store and Close closes it.
	BorrowStore bool

	// Namespace prefixes every key as "<Namespace>:<key>", so that several
	// applications, or several versions of one, can share a Redis. Clear,
	// Count and the statistics see only their namespace. Default "larder".
	Namespace string

	// DefaultTTL is used by Set when it is given a zero TTL. Default 1 h.
	DefaultTTL time.Duration

	// Timeout is the budget of one store call. A call that takes longer is
	// abandoned, counted as a timeout and treated as a miss (reads) or
	// dropped (writes). Default 50 ms. Stores that never block
	// (driver.InProcessStore) are called without a budget.
	Timeout time.Duration

	// Codec turns values into bytes and back. Default JSON.
	Codec Codec

	// BreakerThreshold is the number of consecutive store failures that
	// opens the circuit breaker. While it is open the store is not called
	// at all; a background probe pings it every ProbeInterval and closes the
	// breaker on the first success. Default 5.
	BreakerThreshold int

	// ProbeInterval is how often an open breaker pings the store.
	// Default 1 s.
	ProbeInterval time.Duration

	// LogInterval rate-limits the logging of store failures: at most one
	// record per operation kind per interval, with the count of those
	// suppressed. Default 10 s.
	LogInterval time.Duration

	// Logger receives warnings about store failures and breaker changes.
	// Default: discard.
	Logger *slog.Logger

	// LocalMaxBytes bounds the local tier that stands in front of a
	// remote store (Redis), holding decoded values. Zero means 64 MiB;
	// negative turns the tier off. Stores that are themselves in-process
	// (memstore) never get one.
	LocalMaxBytes int64

	// LocalTTL is the longest an entry stays in the local tier (never
	// longer than its own TTL). It applies while the store reports changes
	// (driver.InvalidationSource, e.g. RESP3 tracking): then any change to a key,
	// by any instance or redis-cli, drops it at once. Default 1 min.
	LocalTTL time.Duration

	// LocalLag bounds how long after a change by another instance this
	// instance may still answer from its local tier, when the store
	// reports its own writes (driver.SelfReporter: redisstore). The Cache writes a
	// heartbeat key every LocalLag/4 and trusts the tier only while the
	// newest heartbeat the store reported back was sent less than LocalLag
	// ago; otherwise reads go to the store. Default 50 ms; negative turns
	// the heartbeats off and trusts the stream of changes as it comes.
	LocalLag time.Duration

	// LocalFallbackTTL replaces LocalTTL while the store cannot report
	// changes (no InvalidationSource, RESP2, tracking refused): then an
	// instance may serve a value changed elsewhere for this long. Default
	// 1 s.
	LocalFallbackTTL time.Duration

	// LocalClone, when set, is applied to every value handed out by the
	// local tier. Values from the tier are shared between callers and
	// must not be mutated; give a clone function for types whose callers
	// mutate what they get (maps, slices, pointers).
	LocalClone func(any) any

	// MaxPending bounds how many failed invalidations (keys, tags and
	// patterns) the Cache keeps for retrying. Past it, the Cache reads
	// around the store for every key until one Clear of the whole
	// namespace has succeeded: an invalidation is never dropped.
	// Default DefaultMaxPending.
	MaxPending int

	// MaxRefreshes bounds the background loads that stale-while-revalidate
	// and early refresh run at once, across all keys; a refresh that
	// finds no slot is skipped (the value serves on, and a later hit
	// tries again). Default DefaultMaxRefreshes.
	MaxRefreshes int

	// Clock tells the time: it judges every expiry (soft and hard TTLs,
	// the local tier, negative entries), times loads and store
	// calls, and rate-limits logging. Default: the system clock.
	Clock driver.Clock

	// Recorder receives one Event per cache operation, for metrics
	// exporters. Default: none. Counters readable through Cache.Stats are
	// kept whether or not a Recorder is set.
	Recorder telemetry.Recorder
}

// withDefaults returns a copy of o with defaults filled in and checks it.
func (o Options) withDefaults() (Options, error) {
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.DefaultTTL == 0 {
		o.DefaultTTL = DefaultTTL
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Codec == nil {
		o.Codec = JSON{}
	}
	if o.BreakerThreshold == 0 {
		o.BreakerThreshold = DefaultBreakerThreshold
	}
	if o.ProbeInterval == 0 {
		o.ProbeInterval = DefaultProbeInterval
	}
	if o.LogInterval == 0 {
		o.LogInterval = DefaultLogInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.LocalMaxBytes == 0 {
		o.LocalMaxBytes = DefaultLocalMaxBytes
	}
	if o.LocalTTL == 0 {
		o.LocalTTL = DefaultLocalTTL
	}
	if o.LocalFallbackTTL == 0 {
		o.LocalFallbackTTL = DefaultLocalFallbackTTL
	}
	if o.LocalLag == 0 {
		o.LocalLag = DefaultLocalLag
	}
	if o.MaxPending == 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.MaxRefreshes == 0 {
		o.MaxRefreshes = DefaultMaxRefreshes
	}
	if o.Clock == nil {
		o.Clock = driver.SystemClock
	}
	if o.Recorder == nil {
		o.Recorder = nopRecorder{}
	}
	return o, o.validate()
}

func (o Options) validate() error {
	switch {
	case strings.ContainsAny(o.Namespace, " \t\r\n"):
		return fmt.Errorf("%w: Namespace %q contains white space", ErrInvalidOptions, o.Namespace)
	case len(o.Namespace) > 256:
		return fmt.Errorf("%w: Namespace is longer than 256 bytes", ErrInvalidOptions)
	case o.DefaultTTL < 0:
		return fmt.Errorf("%w: DefaultTTL %v is negative", ErrInvalidOptions, o.DefaultTTL)
	case o.Timeout < 0:
		return fmt.Errorf("%w: Timeout %v is negative", ErrInvalidOptions, o.Timeout)
	case o.BreakerThreshold < 0:
		return fmt.Errorf("%w: BreakerThreshold %d is negative", ErrInvalidOptions, o.BreakerThreshold)
	case o.ProbeInterval < 0:
		return fmt.Errorf("%w: ProbeInterval %v is negative", ErrInvalidOptions, o.ProbeInterval)
	case o.LocalTTL < 0 || o.LocalFallbackTTL < 0:
		return fmt.Errorf("%w: LocalTTL and LocalFallbackTTL must not be negative", ErrInvalidOptions)
	case o.MaxPending < 0 || o.MaxRefreshes < 0:
		return fmt.Errorf("%w: MaxPending and MaxRefreshes must not be negative", ErrInvalidOptions)
	case o.LogInterval < 0:
		return fmt.Errorf("%w: LogInterval %v is negative", ErrInvalidOptions, o.LogInterval)
	}
	return nil
}
