package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	// PostgreSQL's database/sql driver, for creating and dropping schemas.
	_ "github.com/jackc/pgx/v5/stdlib"
)

// Engine names.
const (
	// SQLiteEngine is the Name of an SQLite Engine.
	SQLiteEngine = "sqlite"
	// PostgresEngine is the Name of a PostgreSQL Engine.
	PostgresEngine = "postgres"
)

// defaultPostgresURLs returns the servers tried, in order, when DATABASE_URL
// is not set: the local server with trust authentication, as the user
// postgres or, on machines set up for root, as root.
func defaultPostgresURLs() []string {
	return []string{
		"postgres://postgres@127.0.0.1:5432/test?sslmode=disable&connect_timeout=5",
		"postgres://root@127.0.0.1:5432/test?sslmode=disable&connect_timeout=5",
	}
}

// Engine is one fresh, empty database for one test.
type Engine struct {
	// Name is SQLiteEngine or PostgresEngine; Run uses it as the subtest name.
	Name string
	// DSN is what userdb.Open takes to reach the database.
	DSN string
}

// SQLite returns an empty SQLite database, a file in t's temporary
// directory, removed with it.
func SQLite(t testing.TB) Engine {
	t.Helper()
	return Engine{Name: SQLiteEngine, DSN: "sqlite:" + filepath.Join(t.TempDir(), "larder.db")}
}

// Postgres returns an empty PostgreSQL schema of its own, dropped with all
// it holds when t ends. When no server answers it skips t, or fails it if
// the environment has CI=true.
func Postgres(t testing.TB) Engine {
	t.Helper()
	e, err := postgres(t)
	if err != nil {
		unavailable(t, err)
	}
	return e
}

// Engines returns one empty database per engine for t: SQLite always, and
// PostgreSQL when a server answers. When none does, PostgreSQL is left out
// with a log line, or t fails if the environment has CI=true.
func Engines(t testing.TB) []Engine {
	t.Helper()
	engines := []Engine{SQLite(t)}
	e, err := postgres(t)
	switch {
	case err == nil:
		engines = append(engines, e)
	case InCI():
		t.Fatalf("dbtest: PostgreSQL is required when CI=true: %v", err)
	default:
		t.Logf("dbtest: leaving PostgreSQL out: %v", err)
	}
	return engines
}

// Run runs fn as one subtest of t per engine, named after it, each with an
// empty database of its own; fn may call t.Parallel. The PostgreSQL subtest is skipped
// when no server answers, or fails if the environment has CI=true.
func Run(t *testing.T, fn func(t *testing.T, e Engine)) {
	t.Helper()
	t.Run(SQLiteEngine, func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run(PostgresEngine, func(t *testing.T) { fn(t, Postgres(t)) })
}

// InCI reports whether the tests run in CI (the environment has CI=true),
// where a missing database is an error rather than a reason to skip.
func InCI() bool { return os.Getenv("CI") == "true" }

func unavailable(t testing.TB, err error) {
	t.Helper()
	if InCI() {
		t.Fatalf("dbtest: PostgreSQL is required when CI=true: %v", err)
	}
	t.Skipf("dbtest: PostgreSQL unavailable, skipping (set DATABASE_URL or start a server on 127.0.0.1:5432): %v", err)
}

// postgres connects to the first server that answers, creates a schema with
// a random name, and returns a DSN with search_path set to it.
func postgres(t testing.TB) (Engine, error) {
	t.Helper()
	admin, adminURL, err := connect()
	if err != nil {
		return Engine{}, err
	}
	schema, err := schemaName()
	if err != nil {
		admin.Close()
		return Engine{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		return Engine{}, fmt.Errorf("create schema %s: %w", schema, err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		// The test's context is over by now; the drop needs its own.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("dbtest: drop schema %s (did the test leave a transaction open?): %v", schema, err)
		}
	})

	u, err := url.Parse(adminURL)
	if err != nil {
		return Engine{}, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return Engine{Name: PostgresEngine, DSN: u.String()}, nil
}

// connect returns a pool of one connection to the first candidate server
// that answers a ping, and its URL.
func connect() (*sql.DB, string, error) {
	candidates := defaultPostgresURLs()
	if env := os.Getenv("DATABASE_URL"); env != "" {
		if !strings.HasPrefix(env, "postgres://") && !strings.HasPrefix(env, "postgresql://") {
			return nil, "", fmt.Errorf("DATABASE_URL must be a postgres:// URL, got %q", redact(env))
		}
		candidates = []string{env}
	}
	var errs []error
	for _, c := range candidates {
		db, err := sql.Open("pgx", c)
		if err == nil {
			db.SetMaxOpenConns(1)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err = db.PingContext(ctx)
			cancel()
			if err == nil {
				return db, c, nil
			}
			db.Close()
		}
		errs = append(errs, fmt.Errorf("%s: %w", redact(c), err))
	}
	return nil, "", errors.Join(errs...)
}

// schemaName returns a fresh schema name: a lower-case identifier, so it
// needs no quoting.
func schemaName() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "t_" + hex.EncodeToString(b[:]), nil
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
