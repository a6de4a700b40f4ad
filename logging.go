package larder

import (
	"log/slog"
	"sync"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/telemetry"
)

// logLimiter keeps a sick store from flooding the log: each operation kind
// logs at most once per interval and reports how many it held back.
type logLimiter struct {
	logger   *slog.Logger
	clock    driver.Clock
	interval time.Duration

	mu         sync.Mutex
	last       [telemetry.NumOps]time.Time
	suppressed [telemetry.NumOps]int
}

func (l *logLimiter) failure(op telemetry.Op, o telemetry.Outcome, key string, err error) {
	now := l.clock.Now()
	l.mu.Lock()
	if !l.last[op].IsZero() && now.Sub(l.last[op]) < l.interval {
		l.suppressed[op]++
		l.mu.Unlock()
		return
	}
	n := l.suppressed[op]
	l.last[op], l.suppressed[op] = now, 0
	l.mu.Unlock()
	l.logger.Warn("larder: store call failed; failing open",
		"op", op.String(), "outcome", o.String(), "key", key, "err", err, "suppressed", n)
}
