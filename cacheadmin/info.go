package cacheadmin

import (
	"context"
	"net/http"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/driver"
)

// infoBody is the Info response.
type infoBody struct {
	Mode       driver.Mode         `json:"mode"`
	Namespace  string              `json:"namespace"`
	Enabled    bool                `json:"enabled"`
	Breaker    larder.BreakerState `json:"breaker"`
	Stats      infoStats           `json:"stats"`
	ServerInfo map[string]string   `json:"server_info"`

	Unavailable map[string]string `json:"unavailable,omitempty"`
}

// infoStats holds both tiers' counters in the Info response.
type infoStats struct {
	Store tierBody `json:"store"`
	Local tierBody `json:"local"`
}

// Info returns the handler of an administrative endpoint that describes
// the cache as a whole (mounted at GET /admin/cache/info in the package
// example, behind [RequireToken]):
//
//	{
//	  "mode": "redis", "namespace": "myapp", "enabled": true,
//	  "breaker": "closed",
//	  "stats": {"store": {"hits": 900, "misses": 100, "hit_ratio": 0.9, …},
//	            "local": {…}},
//	  "server_info": {"redis_version": "7.4.1", "connected_clients": "3", …}
//	}
//
// stats holds every counter of larder.TierStats plus hit_ratio, for each
// tier. server_info is the store's own description (c.Info: Redis's INFO
// fields as strings), or null for stores that have none, such as memstore,
// and in off mode. INFO names the server's version, host, paths and
// configuration but holds no credentials; mount the handler behind
// RequireToken all the same.
//
// When c.Info fails the answer is still 200, with server_info null and an
// "unavailable" object mapping "server_info" to the error text. The handler
// answers GET and HEAD and is safe for concurrent use.
func Info(c *larder.Cache) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		noStore(w)
		ctx, cancel := context.WithTimeout(r.Context(), queryBudget)
		defer cancel()

		s := c.Stats()
		body := infoBody{
			Mode:      s.Mode,
			Namespace: s.Namespace,
			Enabled:   c.Enabled(),
			Breaker:   s.Breaker,
			Stats:     infoStats{Store: newTierBody(s.Store), Local: newTierBody(s.Local)},
		}
		info, err := c.Info(ctx)
		if err != nil {
			body.Unavailable = map[string]string{"server_info": err.Error()}
		}
		body.ServerInfo = info
		writeJSON(w, http.StatusOK, body)
	})
}
