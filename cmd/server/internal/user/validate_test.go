package user

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func ptr(s string) *string { return &s }

func TestNewUserValidate(t *testing.T) {
	t.Parallel()
	valid := NewUser{Name: "Ada Lovelace", Email: "Ada@Example.com", Bio: "Analyst."}
	tests := []struct {
		name   string
		edit   func(*NewUser)
		fields []string // offending fields, in order; nil means valid
	}{
		{"valid", func(*NewUser) {}, nil},
		{"empty bio", func(u *NewUser) { u.Bio = "" }, nil},
		{"name of 100 multibyte characters", func(u *NewUser) { u.Name = strings.Repeat("é", 100) }, nil},
		{"bio of 2000 characters", func(u *NewUser) { u.Bio = strings.Repeat("ü", 2000) }, nil},
		{"email of 254 bytes", func(u *NewUser) { u.Email = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com" }, nil},
		{"empty name", func(u *NewUser) { u.Name = "" }, []string{"name"}},
		{"blank name", func(u *NewUser) { u.Name = " \t " }, []string{"name"}},
		{"name of 101 characters", func(u *NewUser) { u.Name = strings.Repeat("x", 101) }, []string{"name"}},
		{"name with NUL", func(u *NewUser) { u.Name = "a\x00b" }, []string{"name"}},
		{"name not UTF-8", func(u *NewUser) { u.Name = "a\xffb" }, []string{"name"}},
		{"empty email", func(u *NewUser) { u.Email = "" }, []string{"email"}},
		{"email without at", func(u *NewUser) { u.Email = "ada.example.com" }, []string{"email"}},
		{"email with display name", func(u *NewUser) { u.Email = "Ada <ada@example.com>" }, []string{"email"}},
		{"email with padding", func(u *NewUser) { u.Email = " ada@example.com" }, []string{"email"}},
		{"email of 255 bytes", func(u *NewUser) { u.Email = strings.Repeat("a", 64) + "@" + strings.Repeat("b", 186) + ".com" }, []string{"email"}},
		{"bio of 2001 characters", func(u *NewUser) { u.Bio = strings.Repeat("b", 2001) }, []string{"bio"}},
		{"everything wrong", func(u *NewUser) { *u = NewUser{Bio: strings.Repeat("b", 2001)} }, []string{"name", "email", "bio"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := valid
			tt.edit(&u)
			checkFields(t, u.Validate(), tt.fields)
		})
	}
}

func TestUpdateValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		u      Update
		fields []string
	}{
		{"empty", Update{}, nil},
		{"clear bio", Update{Bio: ptr("")}, nil},
		{"all valid", Update{Name: ptr("Grace"), Email: ptr("grace@example.com"), Bio: ptr("Admiral.")}, nil},
		{"blank name", Update{Name: ptr("  ")}, []string{"name"}},
		{"empty email", Update{Email: ptr("")}, []string{"email"}},
		{"bad email and long bio", Update{Email: ptr("nope"), Bio: ptr(strings.Repeat("b", 2001))}, []string{"email", "bio"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkFields(t, tt.u.Validate(), tt.fields)
		})
	}
	if !(Update{}).IsEmpty() || (Update{Bio: ptr("")}).IsEmpty() {
		t.Error("IsEmpty is wrong")
	}
}

func TestValidatePageAndRecent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		fields []string
	}{
		{"page 1 size 1", ValidatePage(1, 1), nil},
		{"page 1000 size 100", ValidatePage(1000, MaxPageSize), nil},
		{"page 0", ValidatePage(0, 10), []string{"page"}},
		{"size 0", ValidatePage(1, 0), []string{"size"}},
		{"size 101", ValidatePage(1, 101), []string{"size"}},
		{"both", ValidatePage(-1, -1), []string{"page", "size"}},
		{"recent 0", ValidateRecent(0), nil},
		{"recent max", ValidateRecent(MaxRecent), nil},
		{"recent negative", ValidateRecent(-1), []string{"n"}},
		{"recent too many", ValidateRecent(MaxRecent + 1), []string{"n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkFields(t, tt.err, tt.fields)
		})
	}
}

// checkFields asserts that err is nil when want is nil, and otherwise a
// *ValidationError wrapping ErrInvalid whose fields are want, each named in
// the message.
func checkFields(t *testing.T, err error, want []string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
		return
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want one wrapping ErrInvalid", err)
	}
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("err = %T, want *ValidationError", err)
	}
	var got []string
	for _, f := range verr.Fields {
		got = append(got, f.Field)
		if !strings.Contains(err.Error(), f.Field+": ") {
			t.Errorf("message %q does not name field %q", err, f.Field)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("fields = %v, want %v (err %v)", got, want, err)
	}
	if !strings.HasPrefix(err.Error(), "user: invalid input: ") {
		t.Errorf("message %q lacks the package prefix", err)
	}
}

func TestSignupDays(t *testing.T) {
	t.Parallel()
	// 00:30 on 1 March in UTC+2 is still 28 February in UTC, so the window
	// must end on 28 February: days are UTC days.
	now := time.Date(2024, 3, 1, 0, 30, 0, 0, time.FixedZone("EET", 2*3600))
	start, days := SignupDays(now)
	if len(days) != DashboardDays {
		t.Fatalf("len = %d, want %d", len(days), DashboardDays)
	}
	if got, want := days[len(days)-1].Day, "2024-02-29"; got != want {
		t.Errorf("last day = %s, want %s", got, want)
	}
	if got, want := days[0].Day, "2024-01-31"; got != want {
		t.Errorf("first day = %s, want %s", got, want)
	}
	if want := time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC); !start.Equal(want) || start.Location() != time.UTC {
		t.Errorf("start = %v, want %v", start, want)
	}
	for i, d := range days {
		if d.Count != 0 {
			t.Errorf("days[%d].Count = %d, want 0", i, d.Count)
		}
	}
}

func TestPagePages(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ total, size, want int }{{0, 10, 0}, {1, 10, 1}, {10, 10, 1}, {11, 10, 2}, {5, 0, 0}} {
		if got := (Page{Total: tt.total, Size: tt.size}).Pages(); got != tt.want {
			t.Errorf("Pages(total %d, size %d) = %d, want %d", tt.total, tt.size, got, tt.want)
		}
	}
}

func TestJSONNames(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(Dashboard{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"total_users"`, `"signups_last_30_days"`, `"new_users_last_7_days"`, `"newest_users"`, `"generated_at"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("dashboard JSON %s lacks %s", b, k)
		}
	}
	b, err = json.Marshal(User{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"id"`, `"name"`, `"email"`, `"bio"`, `"created_at"`, `"updated_at"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("user JSON %s lacks %s", b, k)
		}
	}
}
