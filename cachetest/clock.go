package cachetest

import (
	"sync"
	"time"

	"github.com/larderhq/larder/driver"
)

// Clock is a driver.Clock that moves only when a test moves it, so that
// tests of TTLs, staleness and expiry need not sleep. Give the same Clock
// to a Cache (larder.Options.Clock) and to its store (memstore.Options.Clock
// or NewMapStore) to have both read one time, as in production.
//
// Clock is safe for concurrent use. The zero Clock reads the zero
// time.Time and does not step.
type Clock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

var _ driver.Clock = (*Clock)(nil)

// NewClock returns a Clock that reads start until it is moved.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start}
}

// Now returns the clock's time and then, if Step set one, moves the clock
// on by the step.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.now
	c.now = c.now.Add(c.step)
	return t
}

// Advance moves the clock by d; a negative d moves it back.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t, which may be before its current time.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Step makes every later reading move the clock on by d after it is read,
// so that successive readings differ by exactly d: each interval that code
// under test times comes out as d, and each timestamp it takes is distinct.
// A step of zero, the default, stops the stepping.
func (c *Clock) Step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.step = d
}
