package httpapi

import (
	"net/http"

	"github.com/larderhq/larder/cacheadmin"
)

// route is one endpoint: how it is mounted and how the OpenAPI document
// describes it.
type route struct {
	method, path string // path in OpenAPI form, with {user_id}
	summary      string
	tag          string
	admin        bool
	query        []param
	body         string         // component schema of the request body, if any
	responses    map[int]string // status → component schema ("" for none)
	handler      http.Handler
}

type param struct {
	name, description string
	def               int
}

func (rt route) pattern() string { return rt.method + " " + rt.path }

const (
	v1       = "/api/v1"
	examples = v1 + "/examples"
)

func (a *API) routes() []route {
	userErrs := func(m map[int]string) map[int]string {
		m[404], m[422] = "Error", "Error"
		return m
	}
	return []route{
		{method: "POST", path: v1 + "/users", tag: "users", summary: "Create a user",
			body: "NewUser", responses: map[int]string{201: "User", 409: "Error", 413: "Error", 422: "Error"},
			handler: http.HandlerFunc(a.createUser)},
		{method: "GET", path: v1 + "/users/{user_id}", tag: "users", summary: "Get a user (cache-aside)",
			responses: userErrs(map[int]string{200: "User"}), handler: http.HandlerFunc(a.getUser)},
		{method: "PUT", path: v1 + "/users/{user_id}", tag: "users", summary: "Update a user (write-through)",
			body: "UserUpdate", responses: userErrs(map[int]string{200: "User", 409: "Error", 413: "Error"}),
			handler: http.HandlerFunc(a.updateUser)},
		{method: "DELETE", path: v1 + "/users/{user_id}", tag: "users", summary: "Delete a user (invalidation)",
			responses: userErrs(map[int]string{200: "Message"}), handler: http.HandlerFunc(a.deleteUser)},

		{method: "GET", path: examples + "/users/{user_id}/profile", tag: "examples", summary: "User profile with cache",
			responses: userErrs(map[int]string{200: "Profile"}), handler: http.HandlerFunc(a.getProfile)},
		{method: "PUT", path: examples + "/users/{user_id}/profile", tag: "examples", summary: "Update profile (with invalidation)",
			body: "ProfileUpdate", responses: userErrs(map[int]string{200: "Profile", 413: "Error"}),
			handler: http.HandlerFunc(a.updateProfile)},
		{method: "GET", path: examples + "/users/list", tag: "examples", summary: "List users with cache",
			query:     []param{{"page", "1-based page number", 1}, {"size", "users per page, 1 to 100", 20}},
			responses: map[int]string{200: "Page", 422: "Error"}, handler: http.HandlerFunc(a.listUsers)},
		{method: "GET", path: examples + "/stats/dashboard", tag: "examples", summary: "Dashboard stats with cache",
			responses: map[int]string{200: "Dashboard"}, handler: http.HandlerFunc(a.dashboard)},
		{method: "GET", path: examples + "/cache/health", tag: "examples", summary: "Cache health check",
			responses: map[int]string{200: "CacheHealth", 503: "CacheHealth"}, handler: cacheadmin.Health(a.cache)},
		{method: "POST", path: examples + "/cache/clear", tag: "examples", summary: "Clear cache by pattern (admin)", admin: true,
			body: "ClearRequest", responses: map[int]string{200: "Deleted", 401: "Error", 403: "Error", 413: "Error", 422: "Error", 503: "Error"},
			handler: cacheadmin.Clear(a.cache)},
		{method: "GET", path: examples + "/cache/info", tag: "examples", summary: "Cache info (admin)", admin: true,
			responses: map[int]string{200: "Object", 401: "Error", 403: "Error"}, handler: cacheadmin.Info(a.cache)},

		{method: "GET", path: "/health/cache", tag: "health", summary: "Cache health",
			responses: map[int]string{200: "CacheHealth", 503: "CacheHealth"}, handler: cacheadmin.Health(a.cache)},
		{method: "GET", path: "/admin/cache/stats", tag: "admin", summary: "Cache statistics (admin)", admin: true,
			responses: map[int]string{200: "Object", 401: "Error", 403: "Error"}, handler: cacheadmin.Stats(a.cache)},
		{method: "GET", path: "/healthz", tag: "health", summary: "Liveness (never depends on Redis)",
			responses: map[int]string{200: "Status"}, handler: http.HandlerFunc(a.healthz)},
		{method: "GET", path: "/readyz", tag: "health", summary: "Readiness (database reachable)",
			responses: map[int]string{200: "Status", 503: "Status"}, handler: http.HandlerFunc(a.readyz)},
		{method: "GET", path: "/metrics", tag: "health", summary: "Prometheus metrics",
			responses: map[int]string{200: ""}, handler: a.metricsHandler()},
		{method: "GET", path: "/openapi.json", tag: "docs", summary: "This OpenAPI document",
			responses: map[int]string{200: "Object"}, handler: http.HandlerFunc(a.openAPIDoc)},
		{method: "GET", path: "/docs", tag: "docs", summary: "Readable API documentation",
			responses: map[int]string{200: ""}, handler: http.HandlerFunc(a.docsPage)},
	}
}
