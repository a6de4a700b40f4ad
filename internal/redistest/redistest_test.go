package redistest

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/goleak"
)

// TestMain checks that the helper leaves no goroutine behind. The one
// exemption is rueidis's own: when a Cluster topology refresh drops a
// node's connection (here the replica's, given as an initial address), the
// cluster client closes it five seconds later in a goroutine of its own.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(Wrap(m), LeakOptions()...)
}

// pingWithin sends PING through a fresh client and gives up after d, so a
// paused server shows up as an error rather than a hang.
func pingWithin(t *testing.T, s *Server, d time.Duration) error {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:       []string{s.Addr()},
		Password:          s.Password(),
		TLSConfig:         s.TLSConfig(),
		ForceSingleClient: true,
		DisableCache:      true,
		DisableRetry:      true,
		Dialer:            net.Dialer{Timeout: d},
	})
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return c.Do(ctx, c.B().Ping().Build()).Error()
}

func TestStartOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		opts       []Option
		wantScheme string
		wantArg    [2]string // a CONFIG GET parameter and the value it must have
	}{
		{name: "plain", wantScheme: "redis://", wantArg: [2]string{"appendonly", "no"}},
		{name: "password", opts: []Option{WithPassword("s3cret")}, wantScheme: "redis://:s3cret@", wantArg: [2]string{"save", ""}},
		{name: "extra args", opts: []Option{WithArgs("--maxmemory", "10mb")}, wantScheme: "redis://", wantArg: [2]string{"maxmemory", "10485760"}},
		{name: "tls", opts: []Option{WithTLS()}, wantScheme: "rediss://", wantArg: [2]string{"tls-auth-clients", "no"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := Start(t, tt.opts...)
			if s.Port() == 6379 {
				t.Fatal("a test server must never use the shared port 6379")
			}
			if !strings.HasPrefix(s.URL(), tt.wantScheme) {
				t.Errorf("URL() = %q, want prefix %q", s.URL(), tt.wantScheme)
			}
			if got, err := s.Do("SET", "k", "v").ToString(); err != nil || got != "OK" {
				t.Fatalf("SET = %q, %v", got, err)
			}
			if got, err := s.Do("GET", "k").ToString(); err != nil || got != "v" {
				t.Fatalf("GET = %q, %v", got, err)
			}
			kv, err := s.Do("CONFIG", "GET", tt.wantArg[0]).AsStrMap()
			if err != nil {
				t.Fatalf("CONFIG GET: %v", err)
			}
			if kv[tt.wantArg[0]] != tt.wantArg[1] {
				t.Errorf("%s = %q, want %q", tt.wantArg[0], kv[tt.wantArg[0]], tt.wantArg[1])
			}
		})
	}
}

func TestPasswordIsRequired(t *testing.T) {
	t.Parallel()
	s := Start(t, WithPassword("pw"))
	c, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress: []string{s.Addr()}, ForceSingleClient: true, DisableCache: true,
	})
	if err == nil {
		c.Close()
		t.Fatal("connecting without the password succeeded")
	}
	if !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("err = %v, want NOAUTH", err)
	}
}

func TestTLSVerifiesCertificate(t *testing.T) {
	t.Parallel()
	s := Start(t, WithTLS())
	conn, err := tls.Dial("tcp", s.Addr(), s.TLSConfig())
	if err != nil {
		t.Fatalf("TLS dial with the server's CA: %v", err)
	}
	conn.Close()
	if conn, err := tls.Dial("tcp", s.Addr(), &tls.Config{MinVersion: tls.VersionTLS12}); err == nil {
		conn.Close()
		t.Fatal("TLS dial without the server's CA succeeded")
	}
	if plain := (&Server{port: s.Port()}).ping(); plain == nil {
		t.Fatal("plain-text PING to a TLS-only port succeeded")
	}
}

func TestKillRestart(t *testing.T) {
	t.Parallel()
	s := Start(t)
	port := s.Port()
	s.Do("SET", "k", "v")
	s.Kill()
	if err := pingWithin(t, s, time.Second); err == nil {
		t.Fatal("PING succeeded after Kill")
	}
	s.Kill() // killing a dead server does nothing
	s.Restart()
	if s.Port() != port {
		t.Fatalf("Restart moved the server from port %d to %d", port, s.Port())
	}
	if err := pingWithin(t, s, time.Second); err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}
	if err := s.Do("GET", "k").Error(); !rueidis.IsRedisNil(err) {
		t.Fatalf("GET after Restart = %v, want nil reply (nothing persisted)", err)
	}
	s.Restart() // restarting a running server kills it first
	if err := pingWithin(t, s, time.Second); err != nil {
		t.Fatalf("PING after second Restart: %v", err)
	}
}

func TestPauseResume(t *testing.T) {
	t.Parallel()
	s := Start(t)
	s.Pause()
	// Paused, not gone: the connection is accepted and then nothing is
	// answered, so the PING ends by its deadline, not by a refusal.
	err := pingWithin(t, s, 100*time.Millisecond)
	var ne net.Error
	switch {
	case err == nil:
		t.Fatal("PING to a paused server succeeded")
	case !errors.Is(err, context.DeadlineExceeded) && !(errors.As(err, &ne) && ne.Timeout()):
		t.Fatalf("PING to a paused server: %v, want a timeout", err)
	}
	s.Resume()
	if err := pingWithin(t, s, time.Second); err != nil {
		t.Fatalf("PING after Resume: %v", err)
	}
	// A paused server must still be killed by the cleanup.
	s.Pause()
}

func TestWithPort(t *testing.T) {
	t.Parallel()
	port := FreePort(t)
	s := Start(t, WithPort(port))
	if s.Port() != port {
		t.Fatalf("Port() = %d, want %d", s.Port(), port)
	}
	if err := pingWithin(t, s, time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestShared(t *testing.T) {
	t.Parallel()
	a, b := Shared(t), Shared(t)
	if a != b {
		t.Fatal("Shared returned two servers within one package run")
	}
	db1, db2 := a.FreshDB(), a.FreshDB()
	if db1 == 0 || db1 == db2 {
		t.Fatalf("FreshDB returned %d then %d", db1, db2)
	}
	a.DoDB(db1, "SET", "k", "one")
	if err := a.DoDB(db2, "GET", "k").Error(); !rueidis.IsRedisNil(err) {
		t.Fatalf("key set in db %d visible in db %d: %v", db1, db2, err)
	}
	if got, _ := a.DoDB(db1, "GET", "k").ToString(); got != "one" {
		t.Fatalf("GET in db %d = %q", db1, got)
	}
}

func TestFindBinary(t *testing.T) {
	if findBinary() == "" {
		t.Skip(missingMessage)
	}
	t.Setenv("PATH", t.TempDir()) // only the fallback paths remain
	if findBinary() == "" {
		t.Skip("redis-server is installed outside the fallback paths")
	}
}

func TestStartCluster(t *testing.T) {
	t.Parallel()
	c := StartCluster(t, 3, 1)
	if len(c.Addrs()) != 4 {
		t.Fatalf("Addrs() = %v, want 4 nodes", c.Addrs())
	}
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: c.Addrs(), DisableCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if client.Mode() != rueidis.ClientModeCluster {
		t.Fatalf("Mode() = %s, want cluster", client.Mode())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Keys spread over the three masters' slot ranges.
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		if err := client.Do(ctx, client.B().Set().Key(k).Value(k).Build()).Error(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	role, err := c.Replicas[0].Do("ROLE").ToArray()
	if err != nil || len(role) == 0 {
		t.Fatalf("ROLE = %v, %v", role, err)
	}
	if r, _ := role[0].ToString(); r != "slave" {
		t.Fatalf("replica's ROLE = %q, want slave", r)
	}
}

func TestStartSentinel(t *testing.T) {
	t.Parallel()
	master := Start(t, WithPassword("pw"))
	sentinel := StartSentinel(t, master, "mymaster")
	client, err := rueidis.NewClient(rueidis.ClientOption{
		InitAddress:  []string{sentinel.Addr()},
		Password:     "pw",
		DisableCache: true,
		Sentinel:     rueidis.SentinelOption{MasterSet: "mymaster"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Do(ctx, client.B().Set().Key("k").Value("via sentinel").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if got, _ := master.Do("GET", "k").ToString(); got != "via sentinel" {
		t.Fatalf("master has %q, want the value written through the sentinel", got)
	}
}
