package userdb_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/larderhq/larder/cmd/server/internal/user"
	"github.com/larderhq/larder/cmd/server/internal/userdb/dbtest"
)

func ptr(s string) *string { return &s }

func TestCRUD(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, e dbtest.Engine) {
		t.Parallel()
		ctx := context.Background()
		clock := newClock(testEpoch, time.Second)
		s := open(t, e, clock)

		created, err := s.Create(ctx, user.NewUser{Name: "Ada Lovelace", Email: "Ada@Example.COM", Bio: "First programmer."})
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		// Migrations read the clock too, so only the relation to the epoch
		// is known: after it, at microsecond precision, in UTC.
		if created.ID <= 0 || created.Name != "Ada Lovelace" || created.Email != "ada@example.com" || created.Bio != "First programmer." {
			t.Fatalf("created = %+v", created)
		}
		checkTime(t, "CreatedAt", created.CreatedAt)
		if !created.UpdatedAt.Equal(created.CreatedAt) {
			t.Errorf("UpdatedAt = %v, want CreatedAt %v", created.UpdatedAt, created.CreatedAt)
		}
		if created.Version != 1 {
			t.Errorf("Version = %d on creation, want 1", created.Version)
		}

		got, err := s.Get(ctx, created.ID)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if got != created {
			t.Fatalf("Get = %+v, want %+v (exactly: same instant and location)", got, created)
		}

		tests := []struct {
			name string
			up   user.Update
			want func(u *user.User)
		}{
			{"name only", user.Update{Name: ptr("Augusta Ada King")}, func(u *user.User) { u.Name = "Augusta Ada King" }},
			{"email is lowercased", user.Update{Email: ptr("ADA@lovelace.org")}, func(u *user.User) { u.Email = "ada@lovelace.org" }},
			{"own email in another case", user.Update{Email: ptr("Ada@Lovelace.org")}, func(*user.User) {}},
			{"clear bio", user.Update{Bio: ptr("")}, func(u *user.User) { u.Bio = "" }},
			{"all fields", user.Update{Name: ptr("Ada"), Email: ptr("ada@example.org"), Bio: ptr("Countess.")}, func(u *user.User) {
				u.Name, u.Email, u.Bio = "Ada", "ada@example.org", "Countess."
			}},
		}
		prev := created
		for _, tt := range tests {
			updated, err := s.Update(ctx, created.ID, tt.up)
			if err != nil {
				t.Fatalf("%s: Update: %v", tt.name, err)
			}
			want := prev
			tt.want(&want)
			want.UpdatedAt = updated.UpdatedAt
			want.Version = prev.Version + 1
			if updated != want {
				t.Fatalf("%s: Update = %+v, want %+v", tt.name, updated, want)
			}
			if !updated.UpdatedAt.After(prev.UpdatedAt) {
				t.Errorf("%s: UpdatedAt %v did not move past %v", tt.name, updated.UpdatedAt, prev.UpdatedAt)
			}
			checkTime(t, tt.name+": UpdatedAt", updated.UpdatedAt)
			if got, _ := s.Get(ctx, created.ID); got != updated {
				t.Fatalf("%s: Get after Update = %+v, want %+v", tt.name, got, updated)
			}
			prev = updated
		}

		// An empty update writes nothing: UpdatedAt stays.
		same, err := s.Update(ctx, created.ID, user.Update{})
		if err != nil || same != prev {
			t.Fatalf("empty Update = %+v, %v; want %+v", same, err, prev)
		}

		if err := s.Delete(ctx, created.ID); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		_, err = s.Get(ctx, created.ID)
		wantErr(t, "Get after Delete", err, user.ErrNotFound)

		// Ids are never reused, even for a deleted newest user: a cache
		// could otherwise serve the deleted user's entry for the new one.
		next := mustCreate(t, s, "next@example.com")
		if next.ID <= created.ID {
			t.Errorf("id %d reused after deleting %d", next.ID, created.ID)
		}
	})
}

// checkTime asserts that a stored timestamp is in UTC, at microsecond
// precision, and no earlier than the tests' epoch.
func checkTime(t *testing.T, what string, ts time.Time) {
	t.Helper()
	if ts.Location() != time.UTC {
		t.Errorf("%s location = %v, want UTC", what, ts.Location())
	}
	if ts.Nanosecond()%1000 != 0 {
		t.Errorf("%s = %v has sub-microsecond digits", what, ts)
	}
	if ts.Before(testEpoch.Truncate(time.Microsecond)) {
		t.Errorf("%s = %v is before the clock's epoch %v", what, ts, testEpoch)
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, e dbtest.Engine) {
		t.Parallel()
		ctx := context.Background()
		s := open(t, e, nil)
		mustCreate(t, s, "someone@example.com")
		for _, id := range []int64{0, -1, 2, 1 << 62} {
			_, err := s.Get(ctx, id)
			wantErr(t, "Get", err, user.ErrNotFound)
			_, err = s.Update(ctx, id, user.Update{Name: ptr("x")})
			wantErr(t, "Update", err, user.ErrNotFound)
			_, err = s.Update(ctx, id, user.Update{})
			wantErr(t, "empty Update", err, user.ErrNotFound)
			wantErr(t, "Delete", s.Delete(ctx, id), user.ErrNotFound)
		}
	})
}

func TestValidationErrors(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, e dbtest.Engine) {
		t.Parallel()
		ctx := context.Background()
		s := open(t, e, nil)
		u := mustCreate(t, s, "valid@example.com")

		tests := []struct {
			name string
			call func() error
		}{
			{"create blank name", func() error {
				_, err := s.Create(ctx, user.NewUser{Name: "  ", Email: "a@example.com"})
				return err
			}},
			{"create bad email", func() error {
				_, err := s.Create(ctx, user.NewUser{Name: "A", Email: "not-an-email"})
				return err
			}},
			{"create long bio", func() error {
				_, err := s.Create(ctx, user.NewUser{Name: "A", Email: "a@example.com", Bio: strings.Repeat("x", user.MaxBioLen+1)})
				return err
			}},
			{"create NUL in name", func() error {
				_, err := s.Create(ctx, user.NewUser{Name: "a\x00b", Email: "a@example.com"})
				return err
			}},
			{"update long name", func() error {
				_, err := s.Update(ctx, u.ID, user.Update{Name: ptr(strings.Repeat("n", user.MaxNameLen+1))})
				return err
			}},
			{"update empty email", func() error {
				_, err := s.Update(ctx, u.ID, user.Update{Email: ptr("")})
				return err
			}},
			{"list page 0", func() error { _, err := s.List(ctx, 0, 10); return err }},
			{"list size 0", func() error { _, err := s.List(ctx, 1, 0); return err }},
			{"list size 101", func() error { _, err := s.List(ctx, 1, user.MaxPageSize+1); return err }},
			{"recent -1", func() error { _, err := s.Recent(ctx, -1); return err }},
			{"recent too many", func() error { _, err := s.Recent(ctx, user.MaxRecent+1); return err }},
			{"seed -1", func() error { return s.Seed(ctx, -1, time.Now()) }},
		}
		for _, tt := range tests {
			wantErr(t, tt.name, tt.call(), user.ErrInvalid)
		}
		if got, _ := s.Get(ctx, u.ID); got != u {
			t.Errorf("invalid updates changed the user: %+v, want %+v", got, u)
		}
		if n := count(t, s); n != 1 {
			t.Errorf("invalid creates stored users: total %d, want 1", n)
		}
	})
}

func TestDuplicateEmail(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, e dbtest.Engine) {
		t.Parallel()
		ctx := context.Background()
		s := open(t, e, nil)
		ada := mustCreate(t, s, "ada@example.com")
		grace := mustCreate(t, s, "grace@example.com")

		tests := []struct {
			name string
			call func() error
		}{
			{"create same email", func() error {
				_, err := s.Create(ctx, user.NewUser{Name: "Other", Email: "ada@example.com"})
				return err
			}},
			{"create email differing in case", func() error {
				_, err := s.Create(ctx, user.NewUser{Name: "Other", Email: "ADA@Example.com"})
				return err
			}},
			{"update to another's email", func() error {
				_, err := s.Update(ctx, grace.ID, user.Update{Email: ptr("ada@example.com")})
				return err
			}},
			{"update to another's email in another case", func() error {
				_, err := s.Update(ctx, grace.ID, user.Update{Name: ptr("Grace"), Email: ptr("Ada@EXAMPLE.com")})
				return err
			}},
		}
		for _, tt := range tests {
			wantErr(t, tt.name, tt.call(), user.ErrDuplicateEmail)
		}
		for _, want := range []user.User{ada, grace} {
			if got, _ := s.Get(ctx, want.ID); got != want {
				t.Errorf("user changed by a failed write: %+v, want %+v", got, want)
			}
		}
		if n := count(t, s); n != 2 {
			t.Errorf("total %d, want 2", n)
		}
		// Once the email is free again, it can be taken.
		if err := s.Delete(ctx, ada.ID); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, s, "ADA@example.com")
	})
}

// TestUpdatedAtNeverGoesBack: an update whose clock reading is older than
// the stored updated_at (it waited for the row's lock behind a newer one,
// or clocks disagree) keeps updated_at and still bumps the version.
func TestUpdatedAtNeverGoesBack(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, e dbtest.Engine) {
		t.Parallel()
		ctx := context.Background()
		clock := newClock(testEpoch, time.Second)
		s := open(t, e, clock)
		u := mustCreate(t, s, "clock@example.com")
		clock.Set(testEpoch.Add(time.Hour))
		later, err := s.Update(ctx, u.ID, user.Update{Bio: ptr("later")})
		if err != nil {
			t.Fatal(err)
		}
		clock.Set(testEpoch.Add(time.Minute))
		back, err := s.Update(ctx, u.ID, user.Update{Bio: ptr("older reading")})
		if err != nil {
			t.Fatal(err)
		}
		if !back.UpdatedAt.Equal(later.UpdatedAt) || back.Version != later.Version+1 || back.Bio != "older reading" {
			t.Fatalf("update with an older clock reading = %+v; want updated_at %v kept, version %d", back, later.UpdatedAt, later.Version+1)
		}
		if got, err := s.Get(ctx, u.ID); err != nil || got != back {
			t.Fatalf("Get = %+v, %v; want %+v", got, err, back)
		}
	})
}
