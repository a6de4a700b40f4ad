package memstore

import (
	"fmt"

	"github.com/larderhq/larder/driver"
)

// DefaultMaxBytes is the bound used when Options.MaxBytes is zero: large
// enough for a typical service's hot set, small enough not to surprise
// anyone who forgot to set it.
const DefaultMaxBytes int64 = 256 << 20

// EntryOverhead is the number of bytes each entry is charged on top of
// len(key)+len(value). It approximates what otter and this package keep
// per entry on a 64-bit platform: otter's node (key and value headers,
// links for the eviction deques and the timer wheel, expiry time, weight
// and state, about 100 bytes) plus its share of the hash table. Without
// it, a store full of tiny entries would use several times MaxBytes.
// It is an estimate, not a measurement; MaxBytes bounds the data, not the
// process's heap exactly.
const EntryOverhead = 128

// Options configures New. The zero value is ready to use.
type Options struct {
	// MaxBytes bounds the total weight of the entries (see EntryOverhead).
	// Zero means DefaultMaxBytes; a negative value is an error. A single
	// entry heavier than MaxBytes is refused rather than stored, since
	// storing it would evict everything else and then itself.
	MaxBytes int64
	// Clock is the time source for TTLs; give the Cache in front the same
	// one, so that both judge expiry alike. Nil means the real time.
	Clock driver.Clock
}

// maxBytes returns the bound to apply, after validate has accepted o.
func (o Options) maxBytes() int64 {
	if o.MaxBytes == 0 {
		return DefaultMaxBytes
	}
	return o.MaxBytes
}

// validate reports options that New cannot honour.
func (o Options) validate() error {
	if o.MaxBytes < 0 {
		return fmt.Errorf("memstore: MaxBytes is %d, want 0 (default) or more: %w", o.MaxBytes, driver.ErrInvalidOptions)
	}
	return nil
}
