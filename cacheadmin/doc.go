// Package cacheadmin serves a larder.Cache's health, statistics and
// administration over HTTP, so that every service built on larder exposes
// the same endpoints with the same JSON without writing them again.
//
// Each constructor returns a plain net/http Handler for one endpoint; the
// service chooses the paths and mounts them with Go 1.22 patterns:
//
//	mux.Handle("GET /health/cache", cacheadmin.Health(c))
//	admin := cacheadmin.RequireToken(os.Getenv("ADMIN_TOKEN"))
//	mux.Handle("GET /admin/cache/stats", admin(cacheadmin.Stats(c)))
//	mux.Handle("GET /admin/cache/info", admin(cacheadmin.Info(c)))
//	mux.Handle("POST /admin/cache/clear", admin(cacheadmin.Clear(c)))
//
// The handlers follow the cache's fail-open philosophy: a sick store is
// something to report, not a reason to fail. Health answers 503 so that a
// load balancer or an operator can see it, Clear answers 503 because it
// could not do what it was asked, and Stats and Info always answer 200 with
// whatever they could gather and an "unavailable" object naming what they
// could not.
//
// Errors are JSON objects of the form {"detail": "…"}, FastAPI's
// convention. The package exports handlers and middleware, not JSON
// helpers: how a service writes its own responses is the service's choice.
//
// Stats, Info and Clear reveal or change the cache's contents and the
// store's server details, so mount them behind RequireToken (or the
// service's own authentication). Health reveals only the cache's mode and
// state and is meant for load balancers and orchestrators.
//
// Every handler and middleware in this package is safe for concurrent use
// by multiple goroutines, and none of them keeps state between requests.
package cacheadmin
