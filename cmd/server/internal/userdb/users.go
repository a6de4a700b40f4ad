package userdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"

	"github.com/larderhq/larder/cmd/server/internal/user"
)

// DB implements the domain's service.
var _ user.Service = (*DB)(nil)

// userColumns are the columns scanUser reads, in its order.
const userColumns = "id, name, email, bio, created_at, updated_at, version"

// rowScanner is what *sql.Row and *sql.Rows have in common.
type rowScanner interface {
	Scan(dest ...any) error
}

func scanUser(r rowScanner) (user.User, error) {
	var u user.User
	err := r.Scan(&u.ID, &u.Name, &u.Email, &u.Bio, dbTime{&u.CreatedAt}, dbTime{&u.UpdatedAt}, &u.Version)
	return u, err
}

// Create implements user.Service.
func (s *DB) Create(ctx context.Context, nu user.NewUser) (user.User, error) {
	if err := nu.Validate(); err != nil {
		return user.User{}, err
	}
	now := s.now()
	u := user.User{
		Name:      nu.Name,
		Email:     user.NormalizeEmail(nu.Email),
		Bio:       nu.Bio,
		CreatedAt: now,
		UpdatedAt: now,
	}
	err := s.w.QueryRowContext(ctx,
		"INSERT INTO users (name, email, bio, created_at, updated_at) VALUES ($1, $2, $3, $4, $5) RETURNING id, version",
		u.Name, u.Email, u.Bio, s.d.timeArg(now), s.d.timeArg(now)).Scan(&u.ID, &u.Version)
	if err != nil {
		return user.User{}, s.fail(ctx, "create user", err)
	}
	return u, nil
}

// Get implements user.Service.
func (s *DB) Get(ctx context.Context, id int64) (user.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = $1", id))
	if err != nil {
		return user.User{}, s.fail(ctx, fmt.Sprintf("get user %d", id), err)
	}
	return u, nil
}

// Update implements user.Service. It is one UPDATE … RETURNING statement, so
// two concurrent updates of different fields of one user both take effect.
//
// The statement computes the version from the row it locked (version + 1),
// so versions follow commit order, whatever order the updates were called
// in: the timestamp, read from the clock before the statement waits for the
// row's write lock, does not. updated_at is kept from going backwards for
// the same reason (an update that waited may carry an older reading than
// the one that committed before it); it may repeat, the version never does.
func (s *DB) Update(ctx context.Context, id int64, up user.Update) (user.User, error) {
	if err := up.Validate(); err != nil {
		return user.User{}, err
	}
	if up.IsEmpty() {
		return s.Get(ctx, id)
	}
	// A NULL argument leaves its column as it is.
	var name, email, bio any
	if up.Name != nil {
		name = *up.Name
	}
	if up.Email != nil {
		email = user.NormalizeEmail(*up.Email)
	}
	if up.Bio != nil {
		bio = *up.Bio
	}
	u, err := scanUser(s.w.QueryRowContext(ctx,
		`UPDATE users SET
			name = COALESCE($1, name),
			email = COALESCE($2, email),
			bio = COALESCE($3, bio),
			updated_at = `+s.d.greatest+`($4, updated_at),
			version = version + 1
		WHERE id = $5
		RETURNING `+userColumns,
		name, email, bio, s.d.timeArg(s.now()), id))
	if err != nil {
		return user.User{}, s.fail(ctx, fmt.Sprintf("update user %d", id), err)
	}
	return u, nil
}

// Delete implements user.Service.
func (s *DB) Delete(ctx context.Context, id int64) error {
	res, err := s.w.ExecContext(ctx, "DELETE FROM users WHERE id = $1", id)
	if err != nil {
		return s.fail(ctx, fmt.Sprintf("delete user %d", id), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.fail(ctx, fmt.Sprintf("delete user %d", id), err)
	}
	if n == 0 {
		return fmt.Errorf("userdb: delete user %d: %w", id, user.ErrNotFound)
	}
	return nil
}

// List implements user.Service. The page and the total come from one
// snapshot, so they agree even while other requests write.
func (s *DB) List(ctx context.Context, page, size int) (user.Page, error) {
	if err := user.ValidatePage(page, size); err != nil {
		return user.Page{}, err
	}
	p := user.Page{Users: []user.User{}, Page: page, Size: size}
	err := s.read(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM users").Scan(&p.Total); err != nil {
			return err
		}
		// An offset that overflows lies past any table; skip the query.
		if int64(page-1) > math.MaxInt64/int64(size) {
			return nil
		}
		offset := int64(page-1) * int64(size)
		if offset >= int64(p.Total) {
			return nil
		}
		users, err := queryUsers(ctx, tx,
			"SELECT "+userColumns+" FROM users ORDER BY id LIMIT $1 OFFSET $2", size, offset)
		p.Users = users
		return err
	})
	if err != nil {
		return user.Page{}, s.fail(ctx, fmt.Sprintf("list users page %d size %d", page, size), err)
	}
	return p, nil
}

// Recent implements user.Service.
func (s *DB) Recent(ctx context.Context, n int) ([]user.User, error) {
	if err := user.ValidateRecent(n); err != nil {
		return nil, err
	}
	users, err := queryUsers(ctx, s.r, recentQuery, n)
	if err != nil {
		return nil, s.fail(ctx, fmt.Sprintf("recent %d users", n), err)
	}
	return users, nil
}

// recentQuery selects the $1 newest users; users_created_at_idx serves it.
const recentQuery = "SELECT " + userColumns + " FROM users ORDER BY created_at DESC, id DESC LIMIT $1"

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryUsers runs a query of userColumns and returns its users, an empty
// (not nil) slice when there are none, so that they encode as [] in JSON.
func queryUsers(ctx context.Context, q querier, query string, args ...any) ([]user.User, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	users := []user.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, rows.Err()
}

// read runs fn in a read-only transaction, one consistent snapshot.
func (s *DB) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, s.d.readTx)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	// Commit, not Rollback: both end a read-only transaction, and Commit
	// reports a failure that would otherwise go unnoticed.
	return tx.Commit()
}

// fail translates a database error into the domain's: no row becomes
// user.ErrNotFound, a unique violation user.ErrDuplicateEmail (email is the
// only unique column a caller can set; ids are generated). Other errors are
// wrapped as they are, and lock contention, which the DB's settings should
// make impossible, is logged at error level so that it is noticed.
func (s *DB) fail(ctx context.Context, op string, err error) error {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("userdb: %s: %w", op, user.ErrNotFound)
	case s.d.isUniqueViolation(err):
		return fmt.Errorf("userdb: %s: %w", op, user.ErrDuplicateEmail)
	case s.d.isBusy(err):
		s.logger.ErrorContext(ctx, "userdb: database busy", "engine", s.d.name, "op", op, "err", err)
	}
	return fmt.Errorf("userdb: %s: %w", op, err)
}
