package main

import (
	"testing"
	"time"
)

// acked builds the state of a user whose writes 1..len(offsets) were
// acknowledged offsets after t0.
func acked(t0 time.Time, offsets ...time.Duration) *userState {
	u := &userState{id: 1}
	for i, o := range offsets {
		u.acks = append(u.acks, ack{n: int64(i + 1), at: t0.Add(o)})
	}
	u.acked = int64(len(offsets))
	return u
}

func TestLatenessCountsFromTheFirstMissedWrite(t *testing.T) {
	t0 := time.Unix(1000, 0)
	u := acked(t0, 0, 10*time.Millisecond, 100*time.Millisecond)
	start := t0.Add(200 * time.Millisecond)
	for _, c := range []struct {
		seen int64
		want time.Duration
	}{
		{0, 200 * time.Millisecond}, // missed 1, acked at t0
		{1, 190 * time.Millisecond}, // missed 2, acked at t0+10ms
		{2, 100 * time.Millisecond}, // missed 3
		{3, 0},
		{7, 0}, // a write not acknowledged yet
	} {
		if got := u.lateness(c.seen, 3, start); got != c.want {
			t.Errorf("lateness(seen %d) = %v, want %v", c.seen, got, c.want)
		}
	}
	// Writes acknowledged after the read's snapshot do not count.
	if got := u.lateness(2, 2, start); got != 0 {
		t.Errorf("lateness(seen 2, newest 2) = %v, want 0", got)
	}
}

func TestClassifySplitsSameAndCrossInstance(t *testing.T) {
	t0 := time.Unix(1000, 0)
	u := acked(t0, 0, 10*time.Millisecond, 100*time.Millisecond)
	start := t0.Add(200 * time.Millisecond)
	var tl tally
	tl.classify(u, true, 3, 3, start)  // fresh
	tl.classify(u, true, 3, 2, start)  // stale, 100ms late
	tl.classify(u, false, 3, 3, start) // fresh
	tl.classify(u, false, 3, 2, start) // 100ms late: past 50, not 150
	tl.classify(u, false, 3, 1, start) // 190ms late
	if tl.sameReads != 2 || tl.sameStale != 1 || tl.sameMaxLate != 100*time.Millisecond {
		t.Errorf("same-instance: reads %d stale %d max %v, want 2 1 100ms", tl.sameReads, tl.sameStale, tl.sameMaxLate)
	}
	if tl.crossReads != 3 || tl.crossStale != 2 || tl.crossLate50 != 2 || tl.crossLate150 != 1 || tl.crossMaxLate != 190*time.Millisecond {
		t.Errorf("cross-instance: reads %d stale %d late50 %d late150 %d max %v, want 3 2 2 1 190ms",
			tl.crossReads, tl.crossStale, tl.crossLate50, tl.crossLate150, tl.crossMaxLate)
	}
}

func TestCounterOf(t *testing.T) {
	for bio, want := range map[string]int64{
		bioPrefix + "42":   42,
		"seeded bio":       0,
		bioPrefix + "x":    0,
		"":                 0,
		bioPrefix + "9000": 9000,
	} {
		if got := counterOf(bio); got != want {
			t.Errorf("counterOf(%q) = %d, want %d", bio, got, want)
		}
	}
}

func TestPercentileAndMerge(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var a, b kind
	for i := 1; i <= 50; i++ {
		a.add(t0, time.Duration(i)*time.Millisecond, 200, nil, t0)
	}
	for i := 51; i <= 100; i++ {
		b.add(t0.Add(time.Second), time.Duration(i)*time.Millisecond, 503, nil, t0)
	}
	a.merge(&b)
	if a.n != 100 || a.non2xx != 50 || a.slowest != 100*time.Millisecond || a.slowestAt != time.Second || a.slowestCode != 503 {
		t.Errorf("merged: n %d non2xx %d slowest %v at %v code %d", a.n, a.non2xx, a.slowest, a.slowestAt, a.slowestCode)
	}
	if p := a.percentile(50); p != 50*time.Millisecond {
		t.Errorf("p50 = %v, want 50ms", p)
	}
	if p := a.percentile(99); p != 99*time.Millisecond {
		t.Errorf("p99 = %v, want 99ms", p)
	}
}
