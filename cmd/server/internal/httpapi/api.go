package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/cacheadmin"
	"github.com/larderhq/larder/cmd/server/internal/user"
)

// Pinger is what /readyz asks: the database.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Options configures an API. Users, Cache and DB are required.
type Options struct {
	// Users is the (cached) user service the endpoints call.
	Users user.Service
	// Cache is the cache behind Users, for the health and admin endpoints.
	Cache *larder.Cache
	// DB answers /readyz.
	DB Pinger
	// AdminToken guards the admin endpoints; empty disables them (403).
	AdminToken string
	// Metrics, when set, serves /metrics and counts requests.
	Metrics *Metrics
	// Logger receives request errors. Default: discard.
	Logger *slog.Logger
	// Version is reported in the OpenAPI document.
	Version string
}

// API serves the reference service's endpoints. It is an http.Handler, safe
// for concurrent use.
type API struct {
	users user.Service
	cache *larder.Cache
	db    Pinger
	log   *slog.Logger
	opts  Options
	mux   *http.ServeMux
	rts   []route
	doc   []byte
}

// New builds the API and its routes.
func New(o Options) *API {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	a := &API{users: o.Users, cache: o.Cache, db: o.DB, log: o.Logger, opts: o, mux: http.NewServeMux()}
	admin := cacheadmin.RequireToken(o.AdminToken)
	a.rts = a.routes()
	for _, rt := range a.rts {
		h := rt.handler
		if rt.admin {
			h = admin(h)
		}
		if o.Metrics != nil {
			h = o.Metrics.instrument(rt.pattern(), h)
		}
		a.mux.Handle(rt.pattern(), h)
	}
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeDetail(w, http.StatusNotFound, "Not Found")
	})
	a.doc = openAPI(a.rts, o.Version)
	return a
}

// ServeHTTP dispatches to the routes.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }
