// Package server is the reference service's lifecycle: read the settings,
// open the database (migrate, seed) and the cache, warm the cache, serve,
// and on a signal stop accepting, drain in-flight requests, and close the
// cache and the database. cmd/server is a thin main around Run, so that the
// end-to-end tests run exactly what a deployment runs.
package server
