package cachetest_test

import (
	"sync"
	"testing"
	"time"

	"github.com/larderhq/larder/cachetest"
)

func TestClock(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := cachetest.NewClock(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("Now = %v, want the start %v", got, start)
	}
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("a second Now = %v; the clock moved by itself", got)
	}
	c.Advance(time.Minute)
	if got := c.Now(); !got.Equal(start.Add(time.Minute)) {
		t.Fatalf("after Advance(1m) Now = %v", got)
	}
	c.Advance(-time.Hour)
	if got := c.Now(); !got.Equal(start.Add(-59 * time.Minute)) {
		t.Fatalf("after Advance(-1h) Now = %v", got)
	}
	c.Set(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("after Set(start) Now = %v", got)
	}
	var zero cachetest.Clock
	if got := zero.Now(); !got.IsZero() {
		t.Fatalf("the zero Clock reads %v", got)
	}
}

func TestClockStep(t *testing.T) {
	start := time.Unix(0, 0)
	c := cachetest.NewClock(start)
	c.Step(time.Millisecond)
	for i := range 3 {
		if got, want := c.Now(), start.Add(time.Duration(i)*time.Millisecond); !got.Equal(want) {
			t.Fatalf("reading %d = %v, want %v", i, got, want)
		}
	}
	c.Set(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("after Set the first reading = %v, want %v", got, start)
	}
	c.Step(0)
	c.Now()
	if got, want := c.Now(), start.Add(time.Millisecond); !got.Equal(want) {
		t.Fatalf("after Step(0) Now = %v, want it to stay at %v", got, want)
	}
}

// TestClockConcurrentUse: readings and moves from many goroutines are
// free of data races (under -race) and none is lost.
func TestClockConcurrentUse(t *testing.T) {
	start := time.Unix(0, 0)
	c := cachetest.NewClock(start)
	const goroutines, moves = 8, 100
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range moves {
				c.Advance(time.Second)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if got, want := c.Now(), start.Add(goroutines*moves*time.Second); !got.Equal(want) {
		t.Fatalf("Now = %v, want %v", got, want)
	}
}
