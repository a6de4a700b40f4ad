// Package user is the domain of the reference service (cmd/server): people
// with a name, an email address and a short biography, listed page by page
// and summarised on a dashboard.
//
// The package knows nothing of HTTP, SQL or caching. It defines the values
// that cross those layers (User, NewUser, Update, Page, Dashboard), the
// rules an input must follow (the Validate methods and ValidatePage), the
// errors every layer agrees on (ErrNotFound, ErrDuplicateEmail, ErrInvalid)
// and the Service interface. Package userdb implements Service on SQLite
// or PostgreSQL; a caching wrapper implements it again in front of any other
// Service, which is why the interface is small and every method takes a
// context.
//
// Callers test errors with errors.Is. Invalid input is reported as a
// *ValidationError, which wraps ErrInvalid and lists every offending field,
// so an HTTP layer can answer 422 with a precise body:
//
//	u, err := svc.Create(ctx, user.NewUser{Name: "Ada", Email: "ada@example.com"})
//	var verr *user.ValidationError
//	switch {
//	case errors.As(err, &verr):
//		// 422 with verr.Fields
//	case errors.Is(err, user.ErrDuplicateEmail):
//		// 409
//	}
//
// The values in this package are plain data: copying one is safe, and a
// value that no goroutine modifies may be read by many at once. Every
// implementation of Service must be safe for concurrent use.
package user
