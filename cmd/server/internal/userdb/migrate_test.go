package userdb_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/larderhq/larder/cmd/server/internal/user"
	"github.com/larderhq/larder/cmd/server/internal/userdb"
	"github.com/larderhq/larder/cmd/server/internal/userdb/dbtest"
)

// TestMigrationsIdempotent opens the same database again and again: the
// migrations run once, and data survives.
func TestMigrationsIdempotent(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, e dbtest.Engine) {
		t.Parallel()
		ctx := context.Background()
		s := open(t, e, nil)
		u := mustCreate(t, s, "kept@example.com")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			s = open(t, e, nil)
		}
		if got, err := s.Get(ctx, u.ID); err != nil || got != u {
			t.Fatalf("Get after reopening = %+v, %v; want %+v", got, err, u)
		}
		checkMigrations(t, s)
	})
}

// TestMigrationsConcurrent opens one empty database from many goroutines at
// once, as several processes starting together would. On PostgreSQL the
// advisory lock must serialise them; on SQLite, BEGIN IMMEDIATE.
func TestMigrationsConcurrent(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, e dbtest.Engine) {
		t.Parallel()
		const opens = 8
		var wg sync.WaitGroup
		dbs := make([]*userdb.DB, opens)
		errs := make([]error, opens)
		start := make(chan struct{})
		for i := range opens {
			wg.Go(func() {
				<-start
				dbs[i], errs[i] = userdb.Open(context.Background(), e.DSN, userdb.Options{})
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Open %d: %v", i, err)
				continue
			}
			t.Cleanup(func() { dbs[i].Close() })
		}
		if t.Failed() {
			return
		}
		checkMigrations(t, dbs[0])
		mustCreate(t, dbs[opens-1], "works@example.com")
	})
}

// checkMigrations asserts that schema_migrations records each migration
// exactly once.
func checkMigrations(t *testing.T, s *userdb.DB) {
	t.Helper()
	var rows, versions int
	if err := s.SQL().QueryRowContext(context.Background(),
		"SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations").Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows != userdb.Migrations || versions != userdb.Migrations {
		t.Errorf("schema_migrations has %d rows, %d versions; want %d and %d", rows, versions, userdb.Migrations, userdb.Migrations)
	}
}

// TestMigrateEarlierRelease opens a database left by the release before
// users.version, with users in it: the column is added, existing users
// start at version 1, and updates count from there.
func TestMigrateEarlierRelease(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, e dbtest.Engine) {
		t.Parallel()
		ctx := context.Background()
		old, err := userdb.OpenAt(ctx, e.DSN, userdb.Options{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := old.Seed(ctx, 3, time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}

		s := open(t, e, nil)
		checkMigrations(t, s)
		for id := int64(1); id <= 3; id++ {
			if u, err := s.Get(ctx, id); err != nil || u.Version != 1 {
				t.Fatalf("user %d after migrating = %+v, %v; want version 1", id, u, err)
			}
		}
		u, err := s.Update(ctx, 2, user.Update{Bio: ptr("after the upgrade")})
		if err != nil || u.Version != 2 {
			t.Fatalf("Update after migrating = %+v, %v; want version 2", u, err)
		}
		if n := mustCreate(t, s, "new@example.com"); n.Version != 1 {
			t.Fatalf("user created after migrating has version %d, want 1", n.Version)
		}
	})
}

// TestMigrateColumnAlreadyThere: a database that has users.version without
// the migration recorded (the column added by hand) still opens, and the
// migration is recorded.
func TestMigrateColumnAlreadyThere(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, e dbtest.Engine) {
		t.Parallel()
		ctx := context.Background()
		old, err := userdb.OpenAt(ctx, e.DSN, userdb.Options{}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := old.SQL().ExecContext(ctx, "ALTER TABLE users ADD COLUMN version BIGINT NOT NULL DEFAULT 1"); err != nil {
			t.Fatal(err)
		}
		if err := old.Close(); err != nil {
			t.Fatal(err)
		}
		s := open(t, e, nil)
		checkMigrations(t, s)
		if u := mustCreate(t, s, "x@example.com"); u.Version != 1 {
			t.Fatalf("created user has version %d, want 1", u.Version)
		}
	})
}
