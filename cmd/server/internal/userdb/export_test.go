package userdb

import "context"

// Migrations is the number of migrations, which a migrated database records.
var Migrations = len(migrations())

// OpenAt is Open with the migrations up to version upto only: the database
// an earlier release leaves.
func OpenAt(ctx context.Context, dsn string, opts Options, upto int) (*DB, error) {
	return open(ctx, dsn, opts, upto)
}
