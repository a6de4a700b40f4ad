package memstore

import (
	"sync"
	"time"

	"github.com/larderhq/larder/driver"
)

// otterClock adapts a Clock to otter.Clock, so that otter computes and
// checks every deadline with the injected time and nothing in this package
// needs a second notion of now.
//
// otter also asks its clock for ticks, which drive the periodic removal of
// expired entries. An injected Clock has no ticker of its own, so the
// adapter runs a real one and stops it on Close: otter does not stop the
// tickers of custom clocks itself.
type otterClock struct {
	clock driver.Clock

	mu      sync.Mutex
	ticker  *time.Ticker
	stopped bool
}

// NowNano returns the injected time in nanoseconds since the Unix epoch.
func (c *otterClock) NowNano() int64 {
	return c.clock.Now().UnixNano()
}

// Tick returns a channel that delivers real ticks every d, or nil (no
// ticks) once the store is closed.
func (c *otterClock) Tick(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil
	}
	if c.ticker == nil {
		c.ticker = time.NewTicker(d)
	} else {
		c.ticker.Reset(d)
	}
	return c.ticker.C
}

// stop stops the ticker for good.
func (c *otterClock) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	if c.ticker != nil {
		c.ticker.Stop()
	}
}
