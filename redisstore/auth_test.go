package redisstore

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/redistest"
)

// roundTrip fails t unless s can write and read back a key.
func roundTrip(t *testing.T, s *Store) {
	t.Helper()
	ctx := ctxFor(t, 10*time.Second)
	if err := s.Set(ctx, "rt", []byte("v"), time.Minute); err != nil {
		t.Fatalf("Set: %v", err)
	}
	if got, err := s.Get(ctx, "rt"); err != nil || string(got) != "v" {
		t.Fatalf("Get = %q, %v", got, err)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	const password = "correct-horse-7431"
	srv := redistest.Start(t, redistest.WithPassword(password))
	// An ACL user that may only touch keys under app:.
	if err := srv.Do("ACL", "SETUSER", "app", "on", ">app-pass-9917", "~app:*", "+@all").Error(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts Options
	}{
		{"password in url", Options{URL: srv.URL()}},
		{"password option", Options{Addr: srv.Addr(), Password: password}},
		{"password option overrides url", Options{URL: "redis://:wrong@" + srv.Addr(), Password: password}},
		{"acl user in url", Options{URL: "redis://app:app-pass-9917@" + srv.Addr()}},
		{"acl user options", Options{Addr: srv.Addr(), Username: "app", Password: "app-pass-9917"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t, tt.opts)
			ctx := ctxFor(t, 10*time.Second)
			if err := s.Set(ctx, "app:k", []byte("v"), time.Minute); err != nil {
				t.Fatalf("Set: %v", err)
			}
			if got, err := s.Get(ctx, "app:k"); err != nil || string(got) != "v" {
				t.Fatalf("Get = %q, %v", got, err)
			}
		})
	}

	t.Run("acl user is confined", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Options{Addr: srv.Addr(), Username: "app", Password: "app-pass-9917"})
		err := s.Set(ctxFor(t, 10*time.Second), "other:k", []byte("v"), time.Minute)
		if err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Fatalf("Set outside the user's keys: %v, want NOPERM", err)
		}
		if errors.Is(err, driver.ErrUnavailable) {
			t.Errorf("a permission error was reported as an outage: %v", err)
		}
	})
}

func TestWrongCredentials(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.WithPassword("right-password-1"))
	if err := srv.Do("ACL", "SETUSER", "app", "on", ">app-pass-2", "~*", "+@all").Error(); err != nil {
		t.Fatal(err)
	}
	const wrong = "wrong-password-3"
	tests := []struct {
		name    string
		opts    Options
		wantMsg string
	}{
		{"no password", Options{Addr: srv.Addr()}, "NOAUTH"},
		{"wrong password option", Options{Addr: srv.Addr(), Password: wrong}, "WRONGPASS"},
		{"wrong password in url", Options{URL: "redis://:" + wrong + "@" + srv.Addr()}, "WRONGPASS"},
		{"wrong acl password", Options{URL: "redis://app:" + wrong + "@" + srv.Addr()}, "WRONGPASS"},
		{"unknown acl user", Options{URL: "redis://nobody:" + wrong + "@" + srv.Addr()}, "WRONGPASS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs logBuffer
			tt.opts.Logger = newLogger(&logs)
			s, err := New(tt.opts)
			if err == nil {
				s.Close()
				t.Fatal("New succeeded with wrong credentials")
			}
			if !strings.Contains(err.Error(), tt.wantMsg) || !strings.Contains(err.Error(), srv.Addr()) {
				t.Errorf("error %q does not say %s and name the server", err, tt.wantMsg)
			}
			for _, secret := range []string{wrong, "right-password-1"} {
				if strings.Contains(err.Error(), secret) || strings.Contains(logs.String(), secret) {
					t.Errorf("a password leaked: error %q, log %q", err, logs.String())
				}
			}
		})
	}
}

func TestDatabaseSelection(t *testing.T) {
	t.Parallel()
	srv := redistest.Shared(t)
	tests := []struct {
		name   string
		opts   func(db1, db2 int) (a, b Options)
		sameDB bool
	}{
		{"option", func(db1, db2 int) (Options, Options) {
			return Options{Addr: srv.Addr(), DB: db1}, Options{Addr: srv.Addr(), DB: db2}
		}, false},
		{"url path", func(db1, db2 int) (Options, Options) {
			return Options{URL: fmt.Sprintf("redis://%s/%d", srv.Addr(), db1)}, Options{URL: fmt.Sprintf("redis://%s/%d", srv.Addr(), db2)}
		}, false},
		{"url and option agree", func(db1, _ int) (Options, Options) {
			return Options{URL: fmt.Sprintf("redis://%s/%d", srv.Addr(), db1)}, Options{Addr: srv.Addr(), DB: db1}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ao, bo := tt.opts(srv.FreshDB(), srv.FreshDB())
			a, b := newStore(t, ao), newStore(t, bo)
			ctx := ctxFor(t, 10*time.Second)
			if err := a.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
				t.Fatal(err)
			}
			_, err := b.Get(ctx, "k")
			if tt.sameDB && err != nil || !tt.sameDB && !errors.Is(err, driver.ErrNotFound) {
				t.Fatalf("Get from the other store: %v (same database: %v)", err, tt.sameDB)
			}
			want := 0
			if tt.sameDB {
				want = 1
			}
			if n, err := b.Clear(ctx, "*"); err != nil || n != want {
				t.Fatalf("Clear(*) from the other store = %d, %v; want %d", n, err, want)
			}
		})
	}
	_, err := New(Options{Addr: srv.Addr(), DB: 100_000})
	if err == nil || !strings.Contains(err.Error(), "DB index is out of range") {
		t.Fatalf("New with a database out of range: %v", err)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.WithTLS(), redistest.WithPassword("tls-pass"))
	t.Run("trusted", func(t *testing.T) {
		t.Parallel()
		roundTrip(t, newStore(t, Options{URL: srv.URL(), TLS: srv.TLSConfig()}))
	})
	t.Run("tls option on redis url", func(t *testing.T) {
		t.Parallel()
		u, _ := url.Parse(srv.URL())
		u.Scheme = "redis"
		roundTrip(t, newStore(t, Options{URL: u.String(), TLS: srv.TLSConfig()}))
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		t.Parallel()
		// rediss:// alone trusts the system roots, not the test CA.
		_, err := New(Options{URL: srv.URL(), DialTimeout: 2 * time.Second})
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("New with an untrusted certificate: %v, want a certificate error", err)
		}
		if strings.Contains(err.Error(), "tls-pass") {
			t.Errorf("error %q contains the password", err)
		}
	})
	t.Run("plain text to a tls port", func(t *testing.T) {
		t.Parallel()
		// Without TLS the server never answers HELLO and closes the
		// connection: that looks like an outage, not a configuration
		// error, so New returns a store that keeps trying.
		s := newStore(t, Options{Addr: srv.Addr(), Password: "tls-pass", DialTimeout: 200 * time.Millisecond})
		if err := s.Ping(ctxFor(t, time.Second)); !errors.Is(err, driver.ErrUnavailable) {
			t.Fatalf("Ping: %v, want ErrUnavailable", err)
		}
	})
}
