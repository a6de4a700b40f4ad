package larder

import (
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Tier names one level of the cache.
type Tier uint8

// The tiers a Cache reports on.
const (
	// TierStore is the Store: memstore in memory mode, Redis in redis mode.
	TierStore Tier = iota
	// TierLocal is the in-process tier that stands in front of a remote
	// store.
	TierLocal
)

// NumTiers is the number of Tier values, dense from zero, so that exporters
// can pre-build one series per tier.
const NumTiers = 2

// String returns "store", "local", or "unknown" for any other value.
func (t Tier) String() string {
	switch t {
	case TierStore:
		return "store"
	case TierLocal:
		return "local"
	}
	return "unknown"
}

// Op names a cache operation, for Events.
type Op uint8

// The operations a Cache records.
const (
	OpGet Op = iota
	OpSet
	OpDelete
	OpExists
	OpClear
	OpPing
	OpCount
	OpInfo
	// OpLease is taking or releasing a fill's lease (Fetch).
	OpLease
	// OpInvalidate is writing a tag's new generation (InvalidateTags).
	OpInvalidate
	// OpTag is reading a tag's generation, or starting one (Fetch with
	// Tags, and Get of an entry filed under tags).
	OpTag
)

var opNames = [...]string{"get", "set", "delete", "exists", "clear", "ping", "count", "info", "lease", "invalidate", "tag"}

// NumOps is the number of Op values, dense from zero.
const NumOps = len(opNames)

// String returns the operation's lower-case name.
func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "unknown"
}

// Outcome says how one operation ended.
type Outcome uint8

// The outcomes of an operation.
const (
	// OutcomeOK is a successful write, delete, ping or clear.
	OutcomeOK Outcome = iota
	// OutcomeHit is a read that found a value.
	OutcomeHit
	// OutcomeMiss is a read that found nothing.
	OutcomeMiss
	// OutcomeError is a store failure; the cache failed open.
	OutcomeError
	// OutcomeTimeout is a store call abandoned at its time budget.
	OutcomeTimeout
	// OutcomeRejected is a call not made because the breaker was open.
	OutcomeRejected
	// OutcomeDecodeError is a stored value that did not decode into the
	// caller's type; the read counted as a miss.
	OutcomeDecodeError
)

var outcomeNames = [...]string{"ok", "hit", "miss", "error", "timeout", "rejected", "decode_error"}

// NumOutcomes is the number of Outcome values, dense from zero.
const NumOutcomes = len(outcomeNames)

// String returns the outcome's lower-case name, as used in metric labels.
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "unknown"
}

// Event describes one cache operation. It is passed by value to a Recorder.
type Event struct {
	Tier     Tier
	Op       Op
	Outcome  Outcome
	Duration time.Duration // zero for the local tier, to keep it cheap
}

// Recorder receives an Event for every cache operation; a metrics exporter
// implements it. Record is called on the caller's goroutine, so it must be
// fast, must not block, and must be safe for concurrent use.
type Recorder interface {
	Record(Event)
}

type nopRecorder struct{}

func (nopRecorder) Record(Event) {}

// TierStats counts what happened in one tier since the Cache was created.
type TierStats struct {
	Hits         uint64 `json:"hits"`
	Misses       uint64 `json:"misses"`
	Sets         uint64 `json:"sets"`
	Deletes      uint64 `json:"deletes"`
	Errors       uint64 `json:"errors"`
	Timeouts     uint64 `json:"timeouts"`
	Rejected     uint64 `json:"rejected"`
	DecodeErrors uint64 `json:"decode_errors"`
	// The in-process tier only: entries evicted by the byte bound,
	// invalidation messages received from the store, and what it holds.
	Evictions     uint64 `json:"evictions,omitempty"`
	Invalidations uint64 `json:"invalidations,omitempty"`
	Entries       uint64 `json:"entries,omitempty"`
	Bytes         uint64 `json:"bytes,omitempty"`
}

// HitRatio returns hits/(hits+misses), or 0 before any read.
func (s TierStats) HitRatio() float64 {
	if n := s.Hits + s.Misses; n > 0 {
		return float64(s.Hits) / float64(n)
	}
	return 0
}

// FetchStats counts what Fetch did since the Cache was created.
type FetchStats struct {
	// Loads is how many times a loader ran.
	Loads uint64 `json:"loads"`
	// LoadErrors is how many loads failed (not counting "not found").
	LoadErrors uint64 `json:"load_errors"`
	// Fills is how many loaded values were written to the store.
	Fills uint64 `json:"fills"`
	// FillsDropped is how many fills were refused because the key was
	// invalidated (or its lease expired) while the loader ran: each one is
	// a stale value that did not reach the cache.
	FillsDropped uint64 `json:"fills_dropped"`
	// LeaseWaits is how many Fetches waited for another filler.
	LeaseWaits uint64 `json:"lease_waits"`
	// Stale is how many answers were stale values (stale-while-revalidate).
	Stale uint64 `json:"stale"`
	// StaleOnError is how many answers were stale values given because the
	// loader failed (stale-if-error).
	StaleOnError uint64 `json:"stale_on_error"`
	// Negative is how many answers were a cached "not found".
	Negative uint64 `json:"negative"`
	// Refreshes is how many background refreshes ran (stale-while-
	// revalidate and early refresh).
	Refreshes uint64 `json:"refreshes"`
}

type fetchCounters struct {
	loads, loadErrors, fills, dropped, waits, stale, staleOnError, negative, refreshes atomic.Uint64
}

func (f *fetchCounters) snapshot() FetchStats {
	return FetchStats{
		Loads: f.loads.Load(), LoadErrors: f.loadErrors.Load(), Fills: f.fills.Load(),
		FillsDropped: f.dropped.Load(), LeaseWaits: f.waits.Load(), Stale: f.stale.Load(),
		StaleOnError: f.staleOnError.Load(), Negative: f.negative.Load(), Refreshes: f.refreshes.Load(),
	}
}

// Stats is a snapshot of a Cache's counters, returned by Cache.Stats.
type Stats struct {
	Mode      Mode         `json:"mode"`
	Namespace string       `json:"namespace"`
	Breaker   BreakerState `json:"breaker"`
	Store     TierStats    `json:"store"`
	Local     TierStats    `json:"local"`
	Fetch     FetchStats   `json:"fetch"`
	// LocalCoherence says how the in-process tier in front of a remote
	// store stays coherent: "tracking" (the store reports every change),
	// "ttl" (it cannot; entries live LocalFallbackTTL) or "off" (no tier).
	LocalCoherence string `json:"local_coherence"`
	// LocalTrusted says whether the in-process tier answers now: with a
	// store that reports its own writes (redisstore), only while its
	// stream of changes is known to be current (Options.LocalLag).
	LocalTrusted bool `json:"local_trusted"`
	// Pending is how many invalidations (keys, tags, patterns) failed to
	// reach the store and are being retried; while one is pending, this
	// instance reads around the store for what it covers.
	Pending int `json:"pending"`
}

// tierCounters are the live, atomically updated counters behind TierStats.
// Hits and misses are counted on every read, by every core at once; one
// shared word would bounce between cores on each in-process hit and cost
// more than the hit itself, so they are striped.
type tierCounters struct {
	hits, misses                                            stripedCounter
	sets, deletes, errors, timeouts, rejected, decodeErrors atomic.Uint64
}

// stripedCounter is a counter spread over cells on separate cache lines.
// Each P keeps to one cell through a token in a sync.Pool (per-P, no
// lock), so cores do not contend; a read sums the cells.
type stripedCounter struct {
	cells [16]struct {
		n atomic.Uint64
		_ [56]byte
	}
	tokens sync.Pool // *uint32 cell indexes
}

func (s *stripedCounter) Add(n uint64) {
	t, ok := s.tokens.Get().(*uint32)
	if !ok {
		t = new(uint32)
		*t = mrand.Uint32()
	}
	s.cells[*t&15].n.Add(n)
	s.tokens.Put(t)
}

func (s *stripedCounter) Load() uint64 {
	var sum uint64
	for i := range s.cells {
		sum += s.cells[i].n.Load()
	}
	return sum
}

func (c *tierCounters) add(op Op, o Outcome, n uint64) {
	switch o {
	case OutcomeHit, OutcomeMiss:
		// Only reads of a value are hits or misses: a write's own read,
		// or Exists, is neither.
		if op != OpGet {
			return
		}
		if o == OutcomeHit {
			c.hits.Add(n)
		} else {
			c.misses.Add(n)
		}
	case OutcomeError:
		c.errors.Add(n)
	case OutcomeTimeout:
		c.timeouts.Add(n)
	case OutcomeRejected:
		c.rejected.Add(n)
	case OutcomeDecodeError:
		c.decodeErrors.Add(n)
	case OutcomeOK:
		switch op {
		case OpSet:
			c.sets.Add(n)
		case OpDelete:
			c.deletes.Add(n)
		}
	}
}

func (c *tierCounters) snapshot() TierStats {
	return TierStats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Sets: c.sets.Load(),
		Deletes: c.deletes.Load(), Errors: c.errors.Load(), Timeouts: c.timeouts.Load(),
		Rejected: c.rejected.Load(), DecodeErrors: c.decodeErrors.Load(),
	}
}
