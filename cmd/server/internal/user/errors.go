package user

import (
	"errors"
	"strings"
)

// Sentinel errors shared by every implementation of Service. Implementations
// wrap them with context using %w, so callers must test with errors.Is.
var (
	// ErrNotFound is returned when no user has the requested id.
	ErrNotFound = errors.New("user: not found")
	// ErrDuplicateEmail is returned when another user already has the email
	// address, compared without regard to case.
	ErrDuplicateEmail = errors.New("user: email already in use")
	// ErrInvalid is returned, wrapped in a *ValidationError, for input that
	// breaks a rule of this package.
	ErrInvalid = errors.New("user: invalid input")
)

// FieldError describes one rule broken by one field of an input. Field is
// the input's JSON name ("name", "email", "bio", "page", "size", "n"), so an
// HTTP layer can return it to the client unchanged.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError reports every broken rule of one input, in the order the
// fields are checked. It wraps ErrInvalid, so errors.Is(err, ErrInvalid)
// holds for it; errors.As gives access to the individual fields.
type ValidationError struct {
	Fields []FieldError
}

// Error returns a message naming each offending field, for example
// "user: invalid input: name: must not be blank; email: must be at most 254 bytes".
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalid.Error())
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Field)
		b.WriteString(": ")
		b.WriteString(f.Message)
	}
	return b.String()
}

// Unwrap returns ErrInvalid, so that errors.Is recognises a ValidationError.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// fieldErrors accumulates broken rules while an input is checked.
type fieldErrors []FieldError

func (fe *fieldErrors) add(field, message string) {
	*fe = append(*fe, FieldError{Field: field, Message: message})
}

// err returns nil when no rule was broken, and a *ValidationError otherwise.
// It returns the error interface, not the pointer type, so that a nil result
// compares equal to nil.
func (fe fieldErrors) err() error {
	if len(fe) == 0 {
		return nil
	}
	return &ValidationError{Fields: fe}
}
