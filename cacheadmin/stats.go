package cacheadmin

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/driver"
)

// queryBudget bounds the store queries of one Stats or Info request.
// Cache.Info and Cache.Count are bounded only by their context, and the
// request's context may have no deadline at all, so without it a hung
// store would hang the statistics page that is meant to diagnose it. It is
// generous because Count walks every key of the namespace (SCAN on Redis).
const queryBudget = 5 * time.Second

// statsBody is the Stats response. Pointer fields are null when the store
// cannot tell, so that a dashboard can tell "unknown" from zero.
type statsBody struct {
	Mode      driver.Mode         `json:"mode"`
	Namespace string              `json:"namespace"`
	Breaker   larder.BreakerState `json:"breaker"`

	Keys             *int    `json:"keys"`
	UsedMemory       *string `json:"used_memory"`
	UsedBytes        *uint64 `json:"used_bytes"`
	Entries          *int    `json:"entries"`
	ConnectedClients *int64  `json:"connected_clients"`
	TotalCommands    *int64  `json:"total_commands"`

	// The store tier's counters sit at the top level, beside the server's
	// figures, so that a client written for an endpoint that returned
	// only used_memory, connected_clients and total_commands keeps
	// working; the local tier has its own object.
	tierBody
	Local tierBody `json:"local"`

	Unavailable map[string]string `json:"unavailable,omitempty"`
}

// disabledBody is the Stats response in off mode: a message, not zeros,
// so that nobody reads an idle cache where there is none.
type disabledBody struct {
	Message string `json:"message"`
}

// Stats returns the handler of an administrative statistics endpoint,
// usually mounted at GET /admin/cache/stats behind [RequireToken]. In off
// mode it answers {"message": "Cache disabled"}. Otherwise it answers
//
//	{
//	  "mode": "redis", "namespace": "myapp", "breaker": "closed",
//	  "keys": 1042,
//	  "used_memory": "1.05M", "used_bytes": 1103456, "entries": null,
//	  "connected_clients": 3, "total_commands": 98765,
//	  "hits": 900, "misses": 100, "hit_ratio": 0.9, "sets": 120,
//	  "deletes": 4, "errors": 0, "timeouts": 0, "rejected": 0,
//	  "decode_errors": 0,
//	  "local": {"hits": 0, "misses": 0, "hit_ratio": 0, …}
//	}
//
// The top-level counters are the store tier's, since the cache was created
// (see larder.Stats); "local" holds the local tier's. keys is
// c.Count(ctx, "*"), the keys of the cache's namespace. used_memory (Redis's
// used_memory_human), connected_clients and total_commands
// (total_commands_processed) come from c.Info and are null for stores
// without server information, such as memstore. For a store with a
// Size() (entries int, bytes uint64) method, such as memstore, entries and
// used_bytes are the whole store's size; on Redis used_bytes is
// used_memory and entries is null. Any field the store could not count is
// null.
//
// A sick store never makes Stats fail: when c.Info or c.Count fails, the
// answer is still 200, with the affected fields null and an "unavailable"
// object mapping "server_info" or "keys" to the error text. The store
// queries share a budget of a few seconds, so that a hung store cannot
// hang the page. The handler answers GET and HEAD and is safe for
// concurrent use.
func Stats(c *larder.Cache) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
			return
		}
		noStore(w)
		if !c.Enabled() {
			writeJSON(w, http.StatusOK, disabledBody{Message: "Cache disabled"})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), queryBudget)
		defer cancel()

		s := c.Stats()
		body := statsBody{
			Mode:      s.Mode,
			Namespace: s.Namespace,
			Breaker:   s.Breaker,
			tierBody:  newTierBody(s.Store),
			Local:     newTierBody(s.Local),
		}
		unavailable := make(map[string]string)

		switch n, err := c.Count(ctx, "*"); {
		case errors.Is(err, errors.ErrUnsupported):
			// The store cannot count: there is nothing to report.
		case err != nil:
			unavailable["keys"] = err.Error()
		default:
			body.Keys = &n
		}

		if sz, ok := c.Store().(driver.Sizer); ok {
			entries, bytes := sz.Size()
			body.Entries, body.UsedBytes = &entries, &bytes
		}

		info, err := c.Info(ctx)
		if err != nil {
			unavailable["server_info"] = err.Error()
		}
		if v, ok := info["used_memory_human"]; ok {
			body.UsedMemory = &v
		}
		if v, ok := parseUint(info, "used_memory"); ok {
			body.UsedBytes = &v
		}
		if v, ok := parseInt(info, "connected_clients"); ok {
			body.ConnectedClients = &v
		}
		if v, ok := parseInt(info, "total_commands_processed"); ok {
			body.TotalCommands = &v
		}

		if len(unavailable) > 0 {
			body.Unavailable = unavailable
		}
		writeJSON(w, http.StatusOK, body)
	})
}

// parseInt returns info[key] as an integer. A missing or malformed field
// reports false and is shown as null: a server that describes itself
// oddly must not break the statistics page.
func parseInt(info map[string]string, key string) (int64, bool) {
	v, ok := info[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// parseUint is parseInt for fields that cannot be negative.
func parseUint(info map[string]string, key string) (uint64, bool) {
	v, ok := info[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 64)
	return n, err == nil
}
