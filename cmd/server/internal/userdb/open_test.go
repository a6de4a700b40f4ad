package userdb_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/larderhq/larder/cmd/server/internal/userdb"
	"github.com/larderhq/larder/cmd/server/internal/userdb/dbtest"
)

func TestOpenDSNs(t *testing.T) {
	dir := t.TempDir()
	// The empty DSN is relative to the working directory; t.Chdir restores
	// it at the end (and forbids t.Parallel, which is why this test is not).
	t.Chdir(dir)
	abs := filepath.Join(t.TempDir(), "abs", "x.db")
	abs2 := filepath.Join(t.TempDir(), "abs2", "x.db")

	tests := []struct {
		name string
		dsn  string
		opts userdb.Options
		file string // the SQLite file that must exist afterwards
	}{
		{"empty DSN is ./data/larder.db", "", userdb.Options{}, filepath.Join(dir, "data", "larder.db")},
		{"empty DSN with SQLitePath", "", userdb.Options{SQLitePath: "other/dir/y.db"}, filepath.Join(dir, "other", "dir", "y.db")},
		{"sqlite: relative", "sqlite:rel.db", userdb.Options{}, filepath.Join(dir, "rel.db")},
		{"sqlite: absolute", "sqlite:" + abs, userdb.Options{}, abs},
		{"sqlite:// absolute", "sqlite://" + abs2, userdb.Options{}, abs2},
		{"file: with extra parameters", "file:f.db?_pragma=cache_size(-4000)", userdb.Options{}, filepath.Join(dir, "f.db")},
		{"in memory", "sqlite::memory:", userdb.Options{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s, err := userdb.Open(ctx, tt.dsn, tt.opts)
			if err != nil {
				t.Fatalf("Open(%q): %v", tt.dsn, err)
			}
			defer s.Close()
			if s.Engine() != "sqlite" {
				t.Errorf("Engine = %q", s.Engine())
			}
			if err := s.Ping(ctx); err != nil {
				t.Errorf("Ping: %v", err)
			}
			mustCreate(t, s, "open@example.com")
			if got := count(t, s); got != 1 {
				t.Errorf("count = %d, want 1", got)
			}
			if tt.file != "" {
				if _, err := os.Stat(tt.file); err != nil {
					t.Errorf("database file: %v", err)
				}
				var mode string
				if err := s.SQL().QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
					t.Errorf("journal_mode = %q, %v; want wal", mode, err)
				}
			}
		})
	}
}

func TestOpenRejectsUnknownDSN(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{"mysql://root@localhost/test", "redis://localhost", "data/larder.db", "sqlite:", "postgres"} {
		s, err := userdb.Open(context.Background(), dsn, userdb.Options{})
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded, want an error", dsn)
			continue
		}
		if !strings.Contains(err.Error(), "DSN") {
			t.Errorf("Open(%q) error %q does not mention the DSN", dsn, err)
		}
	}
}

func TestOpenRedactsPassword(t *testing.T) {
	t.Parallel()
	_, err := userdb.Open(context.Background(), "mysql://u:secret@localhost/x", userdb.Options{})
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("error %v reveals the password", err)
	}
}

func TestOpenUnreachablePostgres(t *testing.T) {
	t.Parallel()
	// Port 1 on loopback refuses at once.
	_, err := userdb.Open(context.Background(), "postgres://u:secret@127.0.0.1:1/x?sslmode=disable&connect_timeout=2", userdb.Options{})
	if err == nil {
		t.Fatal("Open succeeded against a closed port")
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error %v reveals the password", err)
	}
}

func TestPingAndEngine(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, e dbtest.Engine) {
		t.Parallel()
		s := open(t, e, nil)
		if s.Engine() != e.Name {
			t.Errorf("Engine = %q, want %q", s.Engine(), e.Name)
		}
		if err := s.Ping(context.Background()); err != nil {
			t.Errorf("Ping: %v", err)
		}
	})
}
