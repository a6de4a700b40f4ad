package larder

import (
	"context"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/larderhq/larder/driver"
)

// liveness bounds how stale the local tier can be. Invalidations
// arrive on a stream (RESP3 tracking) that can fall behind without
// breaking: a Redis that stalls, a connection whose replies queue, a
// starved process. The tier is trusted only while the stream is known to
// be current: a heartbeat goroutine writes a fresh key under the namespace
// every LocalLag/4, and when the store reports that key changed, every
// change made before the heartbeat was sent has been reported too (one
// stream delivers changes in the order the server made them). The tier
// answers only while the newest heartbeat so confirmed was sent less than
// LocalLag ago; otherwise reads go to the store.
//
// So a value changed by another instance is served from this tier at most
// LocalLag (plus the scheduling delay of one timer) after the change.
type liveness struct {
	store   driver.Store
	ctx     context.Context // ends at Close
	timeout time.Duration
	trusted *atomic.Bool // the tier's: whether it may answer now
	prefix  string       // full key prefix of this instance's heartbeats
	bound   time.Duration

	mu        sync.Mutex
	seq       uint64
	sent      map[uint64]time.Time // heartbeats in flight, by sequence
	confirmed time.Time            // send time of the newest confirmed heartbeat
	timer     *time.Timer          // withdraws trust at confirmed + bound
	stopped   bool
}

// heartbeatPrefix starts the keys of heartbeats: outside every namespace,
// so that Count and Clear never see them, and tracked on its own.
const heartbeatPrefix = "_larder_hb:"

// heartbeatKeys is the prefix under which the heartbeats of the namespace
// with key prefix prefix live, which the store must also track.
func heartbeatKeys(prefix string) string { return heartbeatPrefix + prefix }

// newLiveness returns the heartbeat of the tier whose flag trusted is, in
// the namespace with key prefix prefix; its writes are bounded by timeout
// and end with ctx.
func newLiveness(ctx context.Context, store driver.Store, timeout time.Duration, prefix string, trusted *atomic.Bool, bound time.Duration) *liveness {
	return &liveness{
		store:   store,
		ctx:     ctx,
		timeout: timeout,
		trusted: trusted,
		prefix:  heartbeatKeys(prefix) + hex.EncodeToString(token()[:6]) + ":",
		bound:   bound,
		sent:    map[uint64]time.Time{},
	}
}

// run sends heartbeats until stop is closed.
func (l *liveness) run(stop <-chan struct{}) {
	t := time.NewTicker(max(l.bound/4, time.Millisecond))
	defer t.Stop()
	for {
		l.beat()
		select {
		case <-stop:
			l.mu.Lock()
			l.stopped = true
			if l.timer != nil {
				l.timer.Stop()
			}
			l.mu.Unlock()
			return
		case <-t.C:
		}
	}
}

// beat writes one heartbeat key.
func (l *liveness) beat() {
	l.mu.Lock()
	l.seq++
	seq := l.seq
	now := time.Now()
	l.sent[seq] = now
	for s, at := range l.sent {
		if now.Sub(at) > 4*l.bound {
			delete(l.sent, s) // lost: never confirmed
		}
	}
	l.mu.Unlock()
	key := l.prefix + strconv.FormatUint(seq, 10)
	ctx, cancel := context.WithTimeout(l.ctx, l.timeout)
	defer cancel()
	// Straight to the store: a heartbeat is no cache operation to count,
	// and it must not wait for the breaker, whose state it does not judge.
	_ = l.store.Set(ctx, key, []byte{'1'}, 4*l.bound)
}

// observe takes the full keys an invalidation reported and confirms the
// heartbeats among them. It runs on the store's reader goroutine: quick.
func (l *liveness) observe(keys []string) {
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, l.prefix)
		if !ok {
			continue
		}
		seq, err := strconv.ParseUint(rest, 10, 64)
		if err != nil {
			continue
		}
		l.confirm(seq)
	}
}

func (l *liveness) confirm(seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	at, ok := l.sent[seq]
	if !ok || l.stopped {
		return
	}
	delete(l.sent, seq)
	if !at.After(l.confirmed) {
		return
	}
	l.confirmed = at
	left := l.bound - time.Since(at)
	if left <= 0 {
		return
	}
	l.trusted.Store(true)
	if l.timer == nil {
		l.timer = time.AfterFunc(left, l.expire)
	} else {
		l.timer.Reset(left)
	}
}

// expire withdraws trust unless a newer heartbeat was confirmed.
func (l *liveness) expire() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if left := l.bound - time.Since(l.confirmed); left > 0 {
		l.timer.Reset(left)
		return
	}
	l.trusted.Store(false)
}
