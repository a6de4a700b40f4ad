package userdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// migration is one step of the schema's history. Versions start at 1 and
// increase by one; a released migration is never edited, only followed by
// a new one.
type migration struct {
	version int
	name    string
	// up returns the statements of the step for a dialect, run in order in
	// one transaction (both engines have transactional DDL).
	up func(d dialect) []string
	// needed, when set, reports inside the step's transaction whether the
	// statements still have to run; when it says no, the step is recorded
	// without running them. ALTER TABLE … ADD COLUMN is not idempotent on
	// SQLite, and a database that already has the column (added by hand,
	// or by a build that carried the step under another number) must still
	// start.
	needed func(ctx context.Context, tx *sql.Tx, d dialect) (bool, error)
}

// migrations is the schema's history, oldest first.
func migrations() []migration {
	return []migration{
		{
			version: 1,
			name:    "create users",
			up: func(d dialect) []string {
				return []string{
					`CREATE TABLE users (
						id ` + d.idColumn + `,
						name TEXT NOT NULL,
						email TEXT NOT NULL,
						bio TEXT NOT NULL DEFAULT '',
						created_at ` + d.timestampType + ` NOT NULL,
						updated_at ` + d.timestampType + ` NOT NULL
					)`,
					// Emails are stored in lower case, so this index makes
					// them unique without regard to case.
					`CREATE UNIQUE INDEX users_email_key ON users (email)`,
					// Serves Recent, the dashboard's newest users and its
					// date-range aggregates.
					`CREATE INDEX users_created_at_idx ON users (created_at, id)`,
				}
			},
		},
		{
			version: 2,
			name:    "add users.version",
			// The version counts a row's changes in the order the database
			// commits them: every UPDATE sets it to version + 1 under the
			// row's write lock, which a timestamp taken before the
			// statement waits for that lock is not. Caches compare it so
			// that the last commit is what stays cached. Existing rows
			// start at 1, as new ones do.
			up: func(d dialect) []string {
				return []string{`ALTER TABLE users ADD COLUMN version BIGINT NOT NULL DEFAULT 1`}
			},
			needed: func(ctx context.Context, tx *sql.Tx, d dialect) (bool, error) {
				return missingColumn(ctx, tx, d, "users", "version")
			},
		},
	}
}

// missingColumn reports whether table lacks column.
func missingColumn(ctx context.Context, tx *sql.Tx, d dialect, table, column string) (bool, error) {
	var n int
	if err := tx.QueryRowContext(ctx, d.columnExists, table, column).Scan(&n); err != nil {
		return false, fmt.Errorf("look for column %s.%s: %w", table, column, err)
	}
	return n == 0, nil
}

// migrate applies the migrations the database lacks. It is safe when several
// processes open the same database at once: on PostgreSQL they take turns on
// an advisory lock, on SQLite each step's BEGIN IMMEDIATE transaction
// excludes the others; either way each step rechecks schema_migrations
// inside its transaction, so it runs exactly once.
// Migrations after version upto are left out: Open applies them all, tests
// stop early to build the database an earlier release left.
func (s *DB) migrate(ctx context.Context, upto int) (err error) {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("userdb: migrate: %w", err)
	}
	defer conn.Close()

	unlock, err := s.d.lockMigrations(ctx, conn)
	if err != nil {
		return fmt.Errorf("userdb: migrate: %w", err)
	}
	defer func() {
		if uerr := unlock(); uerr != nil {
			err = errors.Join(err, fmt.Errorf("userdb: migrate: %w", uerr))
		}
	}()

	// IF NOT EXISTS makes this safe to repeat; on PostgreSQL the advisory
	// lock also keeps two processes from racing on the catalog.
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at `+s.d.timestampType+` NOT NULL
	)`); err != nil {
		return fmt.Errorf("userdb: migrate: create schema_migrations: %w", err)
	}

	all := migrations()
	for _, m := range all {
		if m.version > upto {
			break
		}
		applied, err := s.applyMigration(ctx, conn, m)
		if err != nil {
			return fmt.Errorf("userdb: migrate: version %d (%s): %w", m.version, m.name, err)
		}
		if applied {
			s.logger.InfoContext(ctx, "userdb: applied migration", "engine", s.d.name, "version", m.version, "name", m.name)
		}
	}

	// A database migrated by a newer release still works with this one as
	// long as migrations only add, which is the rule; say so rather than
	// refuse to start in the middle of a rolling deployment.
	var latest sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&latest); err != nil {
		return fmt.Errorf("userdb: migrate: read version: %w", err)
	}
	if known := all[len(all)-1].version; latest.Int64 > int64(known) {
		s.logger.WarnContext(ctx, "userdb: database schema is newer than this release", "engine", s.d.name, "database_version", latest.Int64, "known_version", known)
	}
	return nil
}

// applyMigration runs m in a transaction unless schema_migrations records it
// already, and reports whether it ran.
func (s *DB) applyMigration(ctx context.Context, conn *sql.Conn, m migration) (applied bool, err error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()

	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations WHERE version = $1", m.version).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, tx.Rollback()
	}
	run := true
	if m.needed != nil {
		if run, err = m.needed(ctx, tx, s.d); err != nil {
			return false, err
		}
	}
	if run {
		for _, stmt := range m.up(s.d) {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return false, err
			}
		}
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
		m.version, m.name, s.d.timeArg(s.now())); err != nil {
		return false, err
	}
	return true, tx.Commit()
}
