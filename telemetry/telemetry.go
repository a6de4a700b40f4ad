package telemetry

import "time"

// Tier names one level of the cache.
type Tier uint8

// The tiers a Cache reports on.
const (
	// TierStore is the Store: memstore in memory mode, Redis in redis mode.
	TierStore Tier = iota
	// TierLocal is the local tier that stands in front of a remote
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
