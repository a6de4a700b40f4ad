// Package httpapi is the reference service's HTTP surface: the user
// endpoints under /api/v1/users, the seven cache examples under
// /api/v1/examples, health, admin, metrics and the OpenAPI document, as
// plain net/http handlers on a Go 1.22 ServeMux.
//
// Every route is declared once, in the table of routes.go; the same table
// mounts the handlers and generates /openapi.json, so the document cannot
// name a route that does not exist. Errors are mapped to HTTP statuses in
// one place (errors.go) and written as FastAPI does, {"detail": "…"};
// every JSON response goes through writeJSON (json.go).
package httpapi
