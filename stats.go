package larder

import (
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/telemetry"
)

type nopRecorder struct{}

func (nopRecorder) Record(telemetry.Event) {}

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
	// The local tier only: entries evicted by the byte bound,
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
	Mode      driver.Mode  `json:"mode"`
	Namespace string       `json:"namespace"`
	Breaker   BreakerState `json:"breaker"`
	Store     TierStats    `json:"store"`
	Local     TierStats    `json:"local"`
	Fetch     FetchStats   `json:"fetch"`
	// LocalCoherence says how the local tier in front of a remote store
	// stays coherent.
	LocalCoherence Coherence `json:"local_coherence"`
	// LocalTrusted says whether the local tier answers now: with a
	// store that reports its own writes (redisstore), only while its
	// stream of changes is known to be current (Options.LocalLag).
	LocalTrusted bool `json:"local_trusted"`
	// Pending is how many invalidations (keys, tags, patterns) failed to
	// reach the store and are being retried; while one is pending, this
	// instance reads around the store for what it covers.
	Pending int `json:"pending"`
}

// Coherence says how a Cache's local tier stays coherent with its store.
type Coherence string

// The ways a local tier stays coherent, reported in Stats.LocalCoherence.
const (
	// CoherenceOff: there is no local tier (off or memory mode, or
	// Options.LocalMaxBytes < 0).
	CoherenceOff Coherence = "off"
	// CoherenceTracking: the store reports every change to the
	// namespace, and the tier drops what changed.
	CoherenceTracking Coherence = "tracking"
	// CoherenceTTL: the store cannot report changes now; tier entries
	// live Options.LocalFallbackTTL only.
	CoherenceTTL Coherence = "ttl"
)

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

// add counts one outcome. Only reads of a value (OpGet) are hits or
// misses: a write's own read, or Exists, is neither. A read that failed,
// was refused, did not decode or was not sent (outcomeBlocked) is a miss
// besides, since the caller got none.
func (c *tierCounters) add(op telemetry.Op, o telemetry.Outcome) {
	read := op == telemetry.OpGet
	switch o {
	case telemetry.OutcomeHit:
		if read {
			c.hits.Add(1)
		}
		return
	case telemetry.OutcomeMiss, outcomeBlocked:
	case telemetry.OutcomeError:
		c.errors.Add(1)
	case telemetry.OutcomeTimeout:
		c.timeouts.Add(1)
	case telemetry.OutcomeRejected:
		c.rejected.Add(1)
	case telemetry.OutcomeDecodeError:
		c.decodeErrors.Add(1)
	case telemetry.OutcomeOK:
		switch op {
		case telemetry.OpSet:
			c.sets.Add(1)
		case telemetry.OpDelete:
			c.deletes.Add(1)
		}
		return
	}
	if read {
		c.misses.Add(1)
	}
}

func (c *tierCounters) snapshot() TierStats {
	return TierStats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Sets: c.sets.Load(),
		Deletes: c.deletes.Load(), Errors: c.errors.Load(), Timeouts: c.timeouts.Load(),
		Rejected: c.rejected.Load(), DecodeErrors: c.decodeErrors.Load(),
	}
}
