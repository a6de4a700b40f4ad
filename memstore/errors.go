package memstore

import (
	"fmt"

	"github.com/larderhq/larder/driver"
)

// TooLargeError is returned by writes of an entry that would weigh more
// than the store can hold: more than Options.MaxBytes, or more than the
// 4 GiB that otter can weigh. Such an entry is refused rather than stored,
// because storing it would evict every other entry and then the entry
// itself. Test for it with errors.As, or with errors.Is(err, driver.ErrTooLarge).
type TooLargeError struct {
	// Key is the key of the refused entry.
	Key string
	// Weight is what the entry would weigh: len(Key), plus the length of
	// the value, plus EntryOverhead.
	Weight int64
	// MaxWeight is the heaviest entry the store accepts.
	MaxWeight int64
}

// Error describes the refused entry without printing its key, which may be
// long or sensitive.
func (e *TooLargeError) Error() string {
	return fmt.Sprintf("memstore: entry of %d bytes (key of %d) exceeds the store's limit of %d bytes", e.Weight, len(e.Key), e.MaxWeight)
}

// Unwrap makes errors.Is(err, driver.ErrTooLarge) hold.
func (e *TooLargeError) Unwrap() error { return driver.ErrTooLarge }
