package user

import "context"

// Service is everything the service does with users. Package userdb
// implements it against a database; a caching wrapper implements it in front
// of another Service. Implementations must be safe for concurrent use by
// many goroutines, validate their inputs (returning errors that wrap
// ErrInvalid), and report the domain failures with the sentinel errors of
// this package, wrapped with %w.
type Service interface {
	// Create validates u, stores it with its email in lower case, and
	// returns the stored user with its new ID and timestamps. It returns
	// ErrDuplicateEmail when the email is taken.
	Create(ctx context.Context, u NewUser) (User, error)

	// Get returns the user with the given id, or ErrNotFound.
	Get(ctx context.Context, id int64) (User, error)

	// Update validates u and applies its non-nil fields to the user with
	// the given id, bumping Version and UpdatedAt, and returns the updated
	// user. Versions follow the order in which updates take effect. It
	// returns ErrNotFound when there is no such user and ErrDuplicateEmail
	// when the new email belongs to another user. An empty Update changes
	// nothing and returns the stored user.
	Update(ctx context.Context, id int64, u Update) (User, error)

	// Delete removes the user with the given id, or returns ErrNotFound.
	Delete(ctx context.Context, id int64) error

	// List returns page number page (1-based) of size users, ordered by id
	// ascending, with the total number of users. page must be at least 1
	// and size between 1 and MaxPageSize, as ValidatePage checks; a page
	// past the last one has no users and is not an error.
	List(ctx context.Context, page, size int) (Page, error)

	// Dashboard computes the summary of the users at the current time.
	Dashboard(ctx context.Context) (Dashboard, error)

	// Recent returns the n most recently created users, newest first, ties
	// broken by id descending; a cache uses it to warm itself. n must be
	// between 0 and MaxRecent, as ValidateRecent checks.
	Recent(ctx context.Context, n int) ([]User, error)
}
