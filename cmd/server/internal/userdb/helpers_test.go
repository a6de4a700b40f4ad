package userdb_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/larderhq/larder/cachetest"
	"github.com/larderhq/larder/cmd/server/internal/user"
	"github.com/larderhq/larder/cmd/server/internal/userdb"
	"github.com/larderhq/larder/cmd/server/internal/userdb/dbtest"
)

// testEpoch is the clock's start in most tests: a fixed instant with a
// nanosecond part, to show that both engines keep microseconds and drop the rest.
var testEpoch = time.Date(2024, time.March, 15, 10, 0, 0, 123456789, time.UTC)

// newClock returns a settable clock that advances by step on every
// reading, so that successive writes get distinct, predictable timestamps.
func newClock(start time.Time, step time.Duration) *cachetest.Clock {
	c := cachetest.NewClock(start)
	c.Step(step)
	return c
}

// open opens a DB on e with clock c (nil for time.Now), closed at cleanup.
func open(t *testing.T, e dbtest.Engine, c *cachetest.Clock) *userdb.DB {
	t.Helper()
	opts := userdb.Options{}
	if c != nil {
		opts.Clock = c.Now
	}
	s, err := userdb.Open(context.Background(), e.DSN, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", e.Name, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// mustCreate creates a user with the given email and a name derived from it.
func mustCreate(t *testing.T, s *userdb.DB, email string) user.User {
	t.Helper()
	u, err := s.Create(context.Background(), user.NewUser{Name: "User " + email, Email: email, Bio: "bio of " + email})
	if err != nil {
		t.Fatalf("Create(%s): %v", email, err)
	}
	return u
}

// wantErr fails t unless err wraps want (or is nil when want is nil).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: unexpected error %v", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: err = %v, want one wrapping %v", what, err, want)
	}
}

func ids(users []user.User) []int64 {
	out := make([]int64, len(users))
	for i, u := range users {
		out[i] = u.ID
	}
	return out
}

func count(t *testing.T, s *userdb.DB) int {
	t.Helper()
	p, err := s.List(context.Background(), 1, 1)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return p.Total
}
