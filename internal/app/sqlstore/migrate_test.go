package sqlstore_test

import (
	"context"
	"sync"
	"testing"

	"github.com/larderhq/larder/internal/app/sqlstore"
	"github.com/larderhq/larder/internal/app/sqlstore/sqltest"
)

// TestMigrationsIdempotent opens the same database again and again: the
// migrations run once, and data survives.
func TestMigrationsIdempotent(t *testing.T) {
	t.Parallel()
	sqltest.Run(t, func(t *testing.T, e sqltest.Engine) {
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
	sqltest.Run(t, func(t *testing.T, e sqltest.Engine) {
		t.Parallel()
		const opens = 8
		var wg sync.WaitGroup
		stores := make([]*sqlstore.Store, opens)
		errs := make([]error, opens)
		start := make(chan struct{})
		for i := range opens {
			wg.Go(func() {
				<-start
				stores[i], errs[i] = sqlstore.Open(context.Background(), e.DSN, sqlstore.Options{})
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Open %d: %v", i, err)
				continue
			}
			t.Cleanup(func() { stores[i].Close() })
		}
		if t.Failed() {
			return
		}
		checkMigrations(t, stores[0])
		mustCreate(t, stores[opens-1], "works@example.com")
	})
}

// checkMigrations asserts that schema_migrations records each migration
// exactly once.
func checkMigrations(t *testing.T, s *sqlstore.Store) {
	t.Helper()
	var rows, versions int
	if err := s.DB().QueryRowContext(context.Background(),
		"SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations").Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows != 1 || versions != 1 {
		t.Errorf("schema_migrations has %d rows, %d versions; want 1 and 1", rows, versions)
	}
}
