package user

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"
)

// Limits on inputs. They are constants, not options, because the HTTP layer,
// the database and the clients must all agree on them.
const (
	// MaxNameLen is the most characters (Unicode code points) in a name.
	MaxNameLen = 100
	// MaxEmailLen is the most bytes in an email address, the limit of
	// RFC 5321 for a forward path.
	MaxEmailLen = 254
	// MaxBioLen is the most characters (Unicode code points) in a bio.
	MaxBioLen = 2000
	// MaxPageSize is the most users on one page of Service.List.
	MaxPageSize = 100
	// MaxRecent is the most users Service.Recent returns in one call.
	MaxRecent = 1000
)

// Validate checks every field of u and reports all the broken rules at once
// in a *ValidationError that wraps ErrInvalid; it returns nil when u is valid.
func (u NewUser) Validate() error {
	var fe fieldErrors
	checkName(&fe, u.Name)
	checkEmail(&fe, u.Email)
	checkBio(&fe, u.Bio)
	return fe.err()
}

// Validate checks the non-nil fields of u by the same rules as
// NewUser.Validate and reports all the broken rules at once in a
// *ValidationError that wraps ErrInvalid. An empty Update is valid.
func (u Update) Validate() error {
	var fe fieldErrors
	if u.Name != nil {
		checkName(&fe, *u.Name)
	}
	if u.Email != nil {
		checkEmail(&fe, *u.Email)
	}
	if u.Bio != nil {
		checkBio(&fe, *u.Bio)
	}
	return fe.err()
}

// ValidatePage checks the arguments of Service.List: page at least 1 and
// size between 1 and MaxPageSize. Errors wrap ErrInvalid.
func ValidatePage(page, size int) error {
	var fe fieldErrors
	if page < 1 {
		fe.add("page", fmt.Sprintf("must be at least 1, got %d", page))
	}
	if size < 1 || size > MaxPageSize {
		fe.add("size", fmt.Sprintf("must be between 1 and %d, got %d", MaxPageSize, size))
	}
	return fe.err()
}

// ValidateRecent checks the argument of Service.Recent: n between 0 and
// MaxRecent. Errors wrap ErrInvalid.
func ValidateRecent(n int) error {
	var fe fieldErrors
	if n < 0 || n > MaxRecent {
		fe.add("n", fmt.Sprintf("must be between 0 and %d, got %d", MaxRecent, n))
	}
	return fe.err()
}

// NormalizeEmail returns the form of a valid email address that the database
// keeps and compares: lower case, so that uniqueness ignores case.
func NormalizeEmail(email string) string {
	return strings.ToLower(email)
}

func checkName(fe *fieldErrors, name string) {
	if !checkText(fe, "name", name) {
		return
	}
	switch n := utf8.RuneCountInString(name); {
	case strings.TrimSpace(name) == "":
		fe.add("name", "must not be blank")
	case n > MaxNameLen:
		fe.add("name", fmt.Sprintf("must be at most %d characters, got %d", MaxNameLen, n))
	}
}

func checkEmail(fe *fieldErrors, email string) {
	if !checkText(fe, "email", email) {
		return
	}
	if email == "" {
		fe.add("email", "is required")
		return
	}
	if len(email) > MaxEmailLen {
		fe.add("email", fmt.Sprintf("must be at most %d bytes, got %d", MaxEmailLen, len(email)))
		return
	}
	// ParseAddress also accepts "Ada <ada@example.com>" and surrounding
	// spaces; requiring the parsed address to be the whole input keeps
	// display names and padding out of the unique column.
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email {
		fe.add("email", "must be a plain email address such as name@example.com")
	}
}

func checkBio(fe *fieldErrors, bio string) {
	if !checkText(fe, "bio", bio) {
		return
	}
	if n := utf8.RuneCountInString(bio); n > MaxBioLen {
		fe.add("bio", fmt.Sprintf("must be at most %d characters, got %d", MaxBioLen, n))
	}
}

// checkText rejects what no database column can store faithfully: invalid
// UTF-8 and NUL bytes, which PostgreSQL refuses in text columns. Catching
// them here turns a would-be 500 from the store into a 422 that names the
// field. It reports whether s passed.
func checkText(fe *fieldErrors, field, s string) bool {
	switch {
	case !utf8.ValidString(s):
		fe.add(field, "must be valid UTF-8")
		return false
	case strings.IndexByte(s, 0) >= 0:
		fe.add(field, "must not contain NUL characters")
		return false
	}
	return true
}
