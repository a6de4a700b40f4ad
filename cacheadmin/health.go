package cacheadmin

import (
	"math"
	"net/http"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/driver"
)

// The values of the "status" field of the Health response.
const (
	// StatusHealthy means the store answered a ping within the cache's
	// time budget.
	StatusHealthy = "healthy"
	// StatusUnhealthy means the ping failed; the cache is failing open, so
	// the service still works, against its database alone.
	StatusUnhealthy = "unhealthy"
	// StatusDisabled means the cache is in off mode and has no store to
	// check.
	StatusDisabled = "disabled"
)

// healthBody is the Health response.
type healthBody struct {
	Status    string              `json:"status"`
	Mode      driver.Mode         `json:"mode"`
	LatencyMS float64             `json:"latency_ms"`
	Breaker   larder.BreakerState `json:"breaker"`
	Error     string              `json:"error,omitempty"`
}

// Health returns the handler of a cache health endpoint, usually mounted
// at GET /health/cache. It pings the store with [larder.Cache.Ping], which
// is bounded by [larder.Options.Timeout] and asks the store even while the
// circuit breaker is open, and answers
//
//	{"status": "healthy", "mode": "redis", "latency_ms": 0.42, "breaker": "closed"}
//
// with 200 when the ping succeeds, status "disabled" with 200 in off mode,
// and status "unhealthy" with 503 and an "error" field holding the ping's
// error text when it fails (a closed cache included). latency_ms is the
// ping's round trip in milliseconds, rounded to hundredths; breaker is
// "closed", "open" or "none" (caches without a remote store). The error
// text is c.Ping's: larder and its stores never put credentials in errors,
// but a network error may name the store's host and port, so expose the
// endpoint only where internal addresses may be seen.
//
// The 503 is for whoever watches the cache; a service whose readiness must
// not depend on its cache (which fails open) should not use this endpoint
// as its readiness probe. The handler answers GET and HEAD and is safe for
// concurrent use.
func Health(c *larder.Cache) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		noStore(w)
		start := time.Now()
		err := c.Ping(r.Context())
		latency := time.Since(start)

		body := healthBody{
			Status:    StatusHealthy,
			Mode:      c.Mode(),
			LatencyMS: milliseconds(latency),
			// Read after the ping so that both describe the same moment
			// as closely as possible.
			Breaker: c.Stats().Breaker,
		}
		status := http.StatusOK
		switch {
		case err != nil:
			body.Status = StatusUnhealthy
			body.Error = err.Error()
			status = http.StatusServiceUnavailable
		case !c.Enabled():
			body.Status = StatusDisabled
		}
		writeJSON(w, status, body)
	})
}

// milliseconds returns d in milliseconds rounded to hundredths, the
// precision a health check needs and no more.
func milliseconds(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*100) / 100
}
