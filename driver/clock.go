package driver

import "time"

// Clock tells the time. A Cache judges every expiry by it, and memstore
// expires its entries by it, so that a test can move time for both at once
// (cachetest.Clock is a Clock a test sets by hand). Implementations must be
// safe for concurrent use.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// SystemClock is the Clock that reads the system time. It is the default
// wherever a Clock is optional.
var SystemClock Clock = systemClock{}
