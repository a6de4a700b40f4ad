package userdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	// The two database/sql drivers this package speaks to.
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// DefaultSQLitePath is the database file Open uses for an empty DSN when
// Options.SQLitePath is empty, relative to the working directory.
const DefaultSQLitePath = "data/larder.db"

// sqliteBusyTimeout is how long an SQLite connection waits for another
// process's write lock before failing with SQLITE_BUSY. Within one process
// writers never wait on each other (they share a single connection), so only
// other processes, such as a second server or a migration, can make it wait.
const sqliteBusyTimeout = 5 * time.Second

// Options configures a DB. The zero value is ready to use.
type Options struct {
	// SQLitePath is the SQLite database file used when the DSN is empty. Its
	// directory is created if missing. Empty means DefaultSQLitePath.
	SQLitePath string
	// Clock returns the current time; it stamps CreatedAt and UpdatedAt and
	// anchors the dashboard's windows. Nil means time.Now. Tests set it to
	// make timestamps predictable.
	Clock func() time.Time
	// Logger receives migration and seeding progress and unexpected
	// database errors. Nil discards them.
	Logger *slog.Logger
}

// DB is a user.Service backed by SQLite or PostgreSQL through
// database/sql. It is safe for concurrent use by many goroutines.
//
// On SQLite a DB keeps two pools on the same file: one connection for
// every write, so that writers of one process queue in Go instead of failing
// or sleeping on SQLite's file lock, and several read-only connections, which
// in WAL mode never wait for the writer. On PostgreSQL the two are one pool.
type DB struct {
	d      dialect
	w      *sql.DB // writes and write transactions
	r      *sql.DB // reads; the same pool as w except on file-backed SQLite
	clock  func() time.Time
	logger *slog.Logger
}

// Open connects to the database named by dsn, brings its schema up to date
// and returns a DB; Close releases it. The DSN selects the engine:
//
//   - "" is the SQLite file Options.SQLitePath (by default DefaultSQLitePath),
//     whose directory is created if needed;
//   - "postgres://…" and "postgresql://…" are PostgreSQL, through pgx, with
//     every parameter pgx understands (search_path selects a schema);
//   - "sqlite:PATH", "sqlite://PATH" and "file:PATH" are the SQLite file
//     PATH, and ":memory:" as PATH is a private in-memory database. A query
//     string is passed to the driver after this package's own settings.
//
// Anything else is an error. Open fails if the database cannot be reached or
// a migration fails.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	return open(ctx, dsn, opts, len(migrations()))
}

// open is Open with the migrations up to version upto.
func open(ctx context.Context, dsn string, opts Options, upto int) (*DB, error) {
	s := &DB{clock: opts.Clock, logger: opts.Logger}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}

	var err error
	switch {
	case dsn == "":
		path := opts.SQLitePath
		if path == "" {
			path = DefaultSQLitePath
		}
		err = s.openSQLite(path, "")
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		err = s.openPostgres(dsn)
	case strings.HasPrefix(dsn, "sqlite:"), strings.HasPrefix(dsn, "file:"):
		path, query := splitSQLiteDSN(dsn)
		if path == "" {
			return nil, fmt.Errorf("userdb: DSN %q names no SQLite file", dsn)
		}
		err = s.openSQLite(path, query)
	default:
		return nil, fmt.Errorf("userdb: unsupported DSN %q: want empty (SQLite at %s), postgres://…, postgresql://…, sqlite:PATH or file:PATH", redact(dsn), DefaultSQLitePath)
	}
	if err != nil {
		return nil, err
	}

	if err := s.firstPing(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.migrate(ctx, upto); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// splitSQLiteDSN returns the file path and query string of a sqlite: or
// file: DSN. "sqlite:///abs/x.db" names /abs/x.db and "sqlite://x.db" the
// relative x.db, as in most URL-style SQLite DSNs.
func splitSQLiteDSN(dsn string) (path, query string) {
	rest := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite:"), "file:")
	rest = strings.TrimPrefix(rest, "//")
	path, query, _ = strings.Cut(rest, "?")
	return path, query
}

func (s *DB) openSQLite(path, query string) error {
	s.d = sqliteDialect()
	// Every connection waits for other processes' locks, enforces foreign
	// keys, and starts write transactions with BEGIN IMMEDIATE: a deferred
	// transaction that reads and then writes can fail with SQLITE_BUSY at
	// once, whatever the busy timeout, when another connection wrote in
	// between. synchronous=NORMAL is durable enough in WAL mode and avoids
	// an fsync per commit.
	common := url.Values{}
	common.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()))
	common.Add("_pragma", "foreign_keys(1)")
	common.Add("_pragma", "synchronous(NORMAL)")
	common.Set("_txlock", "immediate")
	withQuery := func(v url.Values) string {
		dsn := path + "?" + v.Encode()
		if query != "" {
			dsn += "&" + query
		}
		return dsn
	}

	if path == ":memory:" {
		// Each connection to :memory: is a database of its own, so one
		// connection, never closed, serves reads and writes alike.
		db, err := sql.Open(s.d.driver, withQuery(common))
		if err != nil {
			return fmt.Errorf("userdb: open sqlite: %w", err)
		}
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxIdleTime(0)
		db.SetConnMaxLifetime(0)
		s.w, s.r = db, db
		return nil
	}

	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("userdb: create directory for sqlite database: %w", err)
		}
	}

	wv := url.Values{}
	for k, v := range common {
		wv[k] = append([]string(nil), v...)
	}
	// WAL lets readers proceed while the writer writes; the mode is stored
	// in the file, so setting it on the writer covers the readers.
	wv.Add("_pragma", "journal_mode(WAL)")
	w, err := sql.Open(s.d.driver, withQuery(wv))
	if err != nil {
		return fmt.Errorf("userdb: open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)

	rv := common
	// query_only makes a read connection refuse writes, so that a query
	// routed to the wrong pool fails loudly instead of contending for the
	// write lock.
	rv.Add("_pragma", "query_only(1)")
	r, err := sql.Open(s.d.driver, withQuery(rv))
	if err != nil {
		w.Close()
		return fmt.Errorf("userdb: open sqlite: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxIdleTime(5 * time.Minute)

	s.w, s.r = w, r
	return nil
}

func (s *DB) openPostgres(dsn string) error {
	s.d = postgresDialect()
	db, err := sql.Open(s.d.driver, dsn)
	if err != nil {
		return fmt.Errorf("userdb: open postgres %s: %w", redact(dsn), err)
	}
	// A bound below PostgreSQL's default max_connections (100) leaves room
	// for several servers and an administrator.
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(time.Hour)
	s.w, s.r = db, db
	return nil
}

// redact hides the password of a URL-form DSN, for error messages and logs.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	return u.Redacted()
}

// firstPing pings, trying again for a while when SQLite reports the file
// busy: a connection that opens while another process turns a new file to
// WAL can be told SQLITE_BUSY at once, without the busy timeout's wait.
func (s *DB) firstPing(ctx context.Context) error {
	var err error
	for attempt := range 20 {
		if err = s.Ping(ctx); err == nil || s.d.isBusy == nil || !s.d.isBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt+1) * 10 * time.Millisecond):
		}
	}
	return err
}

// Ping checks that the database answers, for a readiness probe. On SQLite it
// checks both the write and the read pool.
func (s *DB) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("userdb: ping %s: %w", s.d.name, err)
	}
	if s.r != s.w {
		if err := s.r.PingContext(ctx); err != nil {
			return fmt.Errorf("userdb: ping %s readers: %w", s.d.name, err)
		}
	}
	return nil
}

// Close closes the database pools. Calls in progress finish first; calls
// made after Close fail.
func (s *DB) Close() error {
	var errR error
	if s.r != s.w {
		errR = s.r.Close()
	}
	return errors.Join(s.w.Close(), errR)
}

// SQL returns the pool that writes: for PostgreSQL the only pool, for SQLite
// a pool of a single connection, which a caller must not hold for long, as
// every write of the DB waits for it. It is meant for administration and
// tests; the DB's methods are the way to read and write users.
func (s *DB) SQL() *sql.DB { return s.w }

// Engine returns "sqlite" or "postgres", the engine the DB talks to.
func (s *DB) Engine() string { return s.d.name }

// now returns the Clock's time in UTC, truncated to the microsecond that
// both engines store, so that what Create and Update return equals what a
// later Get reads back.
func (s *DB) now() time.Time {
	return s.clock().UTC().Truncate(time.Microsecond)
}
