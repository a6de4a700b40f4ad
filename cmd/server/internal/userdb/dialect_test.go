package userdb

import (
	"strings"
	"testing"
	"time"
)

func TestSplitSQLiteDSN(t *testing.T) {
	t.Parallel()
	tests := []struct{ dsn, path, query string }{
		{"sqlite:data/x.db", "data/x.db", ""},
		{"sqlite:/abs/x.db", "/abs/x.db", ""},
		{"sqlite:///abs/x.db", "/abs/x.db", ""},
		{"sqlite://rel/x.db", "rel/x.db", ""},
		{"file:x.db?_pragma=cache_size(-2000)", "x.db", "_pragma=cache_size(-2000)"},
		{"sqlite::memory:", ":memory:", ""},
		{"sqlite:", "", ""},
	}
	for _, tt := range tests {
		path, query := splitSQLiteDSN(tt.dsn)
		if path != tt.path || query != tt.query {
			t.Errorf("splitSQLiteDSN(%q) = %q, %q; want %q, %q", tt.dsn, path, query, tt.path, tt.query)
		}
	}
}

func TestTimeRoundTrip(t *testing.T) {
	t.Parallel()
	d := sqliteDialect()
	in := time.Date(2024, 2, 29, 23, 59, 59, 999999000, time.FixedZone("X", -5*3600))
	arg := d.timeArg(in).(string)
	if arg != "2024-03-01T04:59:59.999999Z" {
		t.Errorf("timeArg = %q", arg)
	}
	var out time.Time
	for _, src := range []any{arg, []byte(arg), in} {
		if err := (dbTime{&out}).Scan(src); err != nil {
			t.Fatalf("Scan(%T): %v", src, err)
		}
		if !out.Equal(in) || out.Location() != time.UTC {
			t.Errorf("Scan(%T) = %v, want %v in UTC", src, out, in)
		}
	}
	if err := (dbTime{&out}).Scan(int64(1)); err == nil || !strings.Contains(err.Error(), "int64") {
		t.Errorf("Scan(int64) = %v, want an error naming the type", err)
	}
	// Fixed width keeps string order equal to time order, which the
	// indexes and range queries on SQLite rely on.
	a, b := d.timeArg(in).(string), d.timeArg(in.Add(time.Microsecond)).(string)
	if len(a) != len(b) || a >= b {
		t.Errorf("%q and %q do not sort in time order", a, b)
	}
	if got := d.timeArg(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)).(string); got != "2024-01-01T00:00:00.000000Z" {
		t.Errorf("timeArg of a whole second = %q, want six zero digits", got)
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	if got := redact("postgres://u:secret@h/db"); strings.Contains(got, "secret") {
		t.Errorf("redact = %q", got)
	}
	if got := redact("sqlite:x.db"); got != "sqlite:x.db" {
		t.Errorf("redact = %q", got)
	}
}
