package redisstore

import (
	"sync/atomic"
	"testing"
	"time"
)

// stallWatch measures how late a goroutine that only sleeps wakes up. The
// tests' machine runs other test binaries at the same time, and a virtual
// machine can be paused by its host; when the whole process stalls, a
// latency bound says nothing about the store.
type stallWatch struct {
	stop  chan struct{}
	done  chan struct{}
	worst atomic.Int64
}

func watchStalls() *stallWatch {
	w := &stallWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		const tick = 2 * time.Millisecond
		for {
			start := time.Now()
			select {
			case <-w.stop:
				return
			case <-time.After(tick):
			}
			if late := int64(time.Since(start) - tick); late > w.worst.Load() {
				w.worst.Store(late)
			}
		}
	}()
	return w
}

// end stops the watch and returns the worst lateness it saw.
func (w *stallWatch) end() time.Duration {
	close(w.stop)
	<-w.done
	return time.Duration(w.worst.Load())
}

// underStallWatch runs attempt, which returns a description of a violated
// latency bound or nil. An attempt that fails while the process itself
// stalled by more than tolerance is repeated, up to three attempts, since
// the stall may be the cause; one that fails while the process ran
// smoothly fails t at once.
func underStallWatch(t *testing.T, tolerance time.Duration, attempt func() error) {
	t.Helper()
	for i := 1; ; i++ {
		w := watchStalls()
		err := attempt()
		stall := w.end()
		if err == nil {
			return
		}
		if stall <= tolerance || i == 3 {
			t.Errorf("%v (attempt %d; the test process stalled by up to %v)", err, i, stall)
			return
		}
		t.Logf("attempt %d: %v; retrying, as the test process itself stalled by %v", i, err, stall)
	}
}
