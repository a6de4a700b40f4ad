package dbtest_test

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/larderhq/larder/cmd/server/internal/userdb/dbtest"
)

func TestEngines(t *testing.T) {
	t.Parallel()
	engines := dbtest.Engines(t)
	if len(engines) == 0 || engines[0].Name != dbtest.SQLiteEngine || !strings.HasPrefix(engines[0].DSN, "sqlite:") {
		t.Fatalf("Engines = %+v, want SQLite first", engines)
	}
	if dbtest.InCI() && len(engines) != 2 {
		t.Fatalf("Engines = %+v, want PostgreSQL too in CI", engines)
	}
	again := dbtest.Engines(t)
	for i := range again {
		if again[i].DSN == engines[i].DSN {
			t.Errorf("%s: two calls returned the same database %s", engines[i].Name, engines[i].DSN)
		}
	}
}

// TestPostgresSchemaLifecycle checks that a PostgreSQL engine is a schema of
// its own, selected by the DSN's search_path, and dropped at cleanup.
func TestPostgresSchemaLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var dsn, schema string
	t.Run("use", func(t *testing.T) {
		dsn = dbtest.Postgres(t).DSN
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		schema = u.Query().Get("search_path")
		if !strings.HasPrefix(schema, "t_") {
			t.Fatalf("DSN %s has search_path %q", dsn, schema)
		}
		db := openPG(t, dsn)
		if _, err := db.ExecContext(ctx, "CREATE TABLE things (id INT)"); err != nil {
			t.Fatal(err)
		}
		var where string
		if err := db.QueryRowContext(ctx, "SELECT table_schema FROM information_schema.tables WHERE table_name = 'things'").Scan(&where); err != nil || where != schema {
			t.Fatalf("table created in %q, %v; want %q", where, err, schema)
		}
	})
	if schema == "" {
		return // skipped: no server
	}
	db := openPG(t, dsn)
	var n int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM pg_namespace WHERE nspname = $1", schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("schema %s still exists after cleanup", schema)
	}
}

func TestSQLiteIsFresh(t *testing.T) {
	t.Parallel()
	a, b := dbtest.SQLite(t), dbtest.SQLite(t)
	if a.DSN == b.DSN {
		t.Errorf("two SQLite engines share %s", a.DSN)
	}
	if _, err := os.Stat(strings.TrimPrefix(a.DSN, "sqlite:")); !os.IsNotExist(err) {
		t.Errorf("SQLite database exists before use: %v", err)
	}
}

func openPG(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
