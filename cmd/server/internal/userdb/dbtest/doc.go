// Package dbtest gives tests a fresh, empty database on each engine that
// package userdb supports, and removes it when the test ends.
//
// SQLite databases are files in the test's temporary directory. PostgreSQL
// databases are schemas of one server: each call creates a schema with a
// random name and returns a DSN whose search_path selects it, so tests run
// in parallel without seeing each other's tables, and the schema is dropped
// with everything in it at cleanup. The server is the one named by the
// DATABASE_URL environment variable, or by default the local server at
// 127.0.0.1:5432, database test, as user postgres (or root, if postgres is
// refused). When it cannot be reached a test is skipped, except when the
// environment has CI=true, where it fails: in CI a missing database is a
// broken setup, not a reason to pass.
//
// A typical test runs one body per engine:
//
//	func TestThing(t *testing.T) {
//		dbtest.Run(t, func(t *testing.T, e dbtest.Engine) {
//			db, err := userdb.Open(t.Context(), e.DSN, userdb.Options{})
//			…
//		})
//	}
//
// The functions are safe to call from parallel tests.
package dbtest
