package larder

import (
	"context"
	"sync"
)

// background runs a Cache's goroutines (the retrier of pending
// invalidations, the heartbeat, background refreshes) and ends them at
// Close: ctx is cancelled and done closed, then stop waits for them.
type background struct {
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex // orders wg.Add against stop's wg.Wait
	wg     sync.WaitGroup
}

func newBackground() *background {
	b := &background{done: make(chan struct{})}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	return b
}

// enter counts a goroutine about to start, unless stop has begun; it
// reports whether the goroutine may start, which then calls exit when it
// ends.
func (b *background) enter() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx.Err() != nil {
		return false
	}
	b.wg.Add(1)
	return true
}

// exit ends what enter counted.
func (b *background) exit() { b.wg.Done() }

// spawn runs fn on a goroutine of its own unless stop has begun.
func (b *background) spawn(fn func()) {
	if b.enter() {
		go func() {
			defer b.exit()
			fn()
		}()
	}
}

// stop ends the goroutines and waits for them. It must be called once.
func (b *background) stop() {
	b.mu.Lock()
	b.cancel()
	close(b.done)
	b.mu.Unlock()
	b.wg.Wait()
}
