// Package userdb keeps the reference service's users in SQLite or
// PostgreSQL and implements user.Service on them. It is the service's
// database of record, not a larder.Store: the cache sits in front of it.
//
// Open chooses the engine from a DSN: an empty one is an SQLite file under
// ./data, so that the service runs with no setup, and a postgres:// URL is
// PostgreSQL through pgx's database/sql driver. SQLite comes from
// modernc.org/sqlite, which is pure Go, so the service builds without cgo.
// Both engines go through one database/sql code path; what differs (DDL
// types, the day-truncation expression, error codes, locking) lives in a
// small dialect value.
//
// Open also brings the schema up to date with a small versioned migration
// runner (table schema_migrations, each step in a transaction), which is safe
// when several processes start at once. Seed fills an empty database with
// deterministic demo users.
//
// # Data
//
// Emails are stored in lower case under a unique index, so uniqueness
// ignores case; a clash is reported as user.ErrDuplicateEmail, recognised by
// the drivers' error codes (SQLite's SQLITE_CONSTRAINT_UNIQUE, PostgreSQL's
// 23505). Timestamps come from Options.Clock, are truncated to the
// microsecond both engines keep, and are stored and returned in UTC: as
// TIMESTAMPTZ on PostgreSQL, and on SQLite as fixed-width text that sorts in
// time order.
//
// # Concurrency
//
// A DB is safe for concurrent use by many goroutines. On SQLite, which
// allows one writer at a time per file, a DB writes through a pool of one
// connection and reads through a separate pool of read-only connections; in
// WAL mode readers see a consistent snapshot and never wait for the writer,
// and writers of one process queue for the connection in Go instead of
// contending for the file lock, so concurrent requests do not fail with
// SQLITE_BUSY. Write transactions begin IMMEDIATE and every connection waits
// up to five seconds for another process's lock. On PostgreSQL a DB is an
// ordinary connection pool.
package userdb
