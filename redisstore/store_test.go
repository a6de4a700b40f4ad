package redisstore

import (
	"bytes"
	"errors"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/redistest"
)

func TestGetSetDeleteExists(t *testing.T) {
	t.Parallel()
	s, _, _ := sharedStore(t)
	ctx := ctxFor(t, 10*time.Second)

	if _, err := s.Get(ctx, "k"); !errors.Is(err, driver.ErrNotFound) {
		t.Fatalf("Get of a missing key: %v, want ErrNotFound", err)
	}
	value := []byte("value\x00\xff")
	if err := s.Set(ctx, "k", value, time.Minute); err != nil {
		t.Fatal(err)
	}
	value[0] = 'X' // Set must have copied it
	got, err := s.Get(ctx, "k")
	if err != nil || string(got) != "value\x00\xff" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	got[0] = 'Y' // the caller owns what Get returns
	if again, _ := s.Get(ctx, "k"); string(again) != "value\x00\xff" {
		t.Fatalf("modifying Get's result changed the stored value to %q", again)
	}
	if ok, err := s.Exists(ctx, "k"); !ok || err != nil {
		t.Fatalf("Exists = %v, %v", ok, err)
	}
	if err := s.Set(ctx, "empty", nil, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(ctx, "empty"); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("Get of an empty value = %#v, %v; want an empty non-nil slice", got, err)
	}
	n, err := s.Delete(ctx, "k", "empty", "missing")
	if n != 2 || err != nil {
		t.Fatalf("Delete = %d, %v; want 2", n, err)
	}
	if ok, err := s.Exists(ctx, "k"); ok || err != nil {
		t.Fatalf("Exists after Delete = %v, %v", ok, err)
	}
	if n, err := s.Delete(ctx); n != 0 || err != nil {
		t.Fatalf("Delete() = %d, %v", n, err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteManyKeys(t *testing.T) {
	t.Parallel()
	s, _, _ := sharedStore(t)
	ctx := ctxFor(t, 10*time.Second)
	// More than one UNLINK batch.
	keys := make([]string, 2*unlinkBatch+7)
	items := make([]driver.Item, len(keys))
	for i := range keys {
		keys[i] = "d:" + strconv.Itoa(i)
		items[i] = driver.Item{Key: keys[i], Value: []byte("v"), TTL: time.Minute}
	}
	if err := s.SetMany(ctx, items); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Delete(ctx, append(keys, "d:missing")...); n != len(keys) || err != nil {
		t.Fatalf("Delete = %d, %v; want %d", n, err, len(keys))
	}
}

func TestSetTTL(t *testing.T) {
	t.Parallel()
	s, srv, db := sharedStore(t)
	ctx := ctxFor(t, 10*time.Second)
	tests := []struct {
		name        string
		ttl         time.Duration
		wantErr     error
		wantPTTLMin int64 // -2 means the key must not exist
		wantPTTLMax int64
	}{
		{name: "zero", ttl: 0, wantErr: driver.ErrInvalidTTL},
		{name: "negative", ttl: -time.Second, wantErr: driver.ErrInvalidTTL},
		{name: "sub-millisecond removes", ttl: 500 * time.Microsecond, wantPTTLMin: -2, wantPTTLMax: -2},
		{name: "rounded down", ttl: time.Minute - time.Microsecond, wantPTTLMin: 58_000, wantPTTLMax: 59_999},
		{name: "minute", ttl: time.Minute, wantPTTLMin: 59_000, wantPTTLMax: 60_000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "ttl:" + tt.name
			if err := s.Set(ctx, key, []byte("old"), time.Hour); err != nil {
				t.Fatal(err)
			}
			err := s.Set(ctx, key, []byte("v"), tt.ttl)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Set = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			pttl, err := srv.DoDB(db, "PTTL", key).AsInt64()
			if err != nil {
				t.Fatal(err)
			}
			if pttl < tt.wantPTTLMin || pttl > tt.wantPTTLMax {
				t.Errorf("PTTL = %d, want %d..%d", pttl, tt.wantPTTLMin, tt.wantPTTLMax)
			}
		})
	}
}

func TestTTLExpires(t *testing.T) {
	t.Parallel()
	s, _, _ := sharedStore(t)
	ctx := ctxFor(t, 10*time.Second)
	if err := s.Set(ctx, "short", []byte("v"), 30*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(40 * time.Millisecond)
	if _, err := s.Get(ctx, "short"); !errors.Is(err, driver.ErrNotFound) {
		t.Fatalf("Get after the TTL: %v, want ErrNotFound", err)
	}
}

func TestCallsAfterClose(t *testing.T) {
	t.Parallel()
	s, _, _ := sharedStore(t)
	ctx := ctxFor(t, 10*time.Second)
	if s.Client() == nil {
		t.Fatal("Client() is nil on a connected store")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, driver.ErrClosed) {
		t.Fatalf("second Close = %v, want an error wrapping driver.ErrClosed", err)
	}
	if s.Client() != nil {
		t.Error("Client() is not nil after Close")
	}
	calls := map[string]func() error{
		"Get":    func() error { _, err := s.Get(ctx, "k"); return err },
		"Set":    func() error { return s.Set(ctx, "k", nil, time.Second) },
		"Delete": func() error { _, err := s.Delete(ctx, "k"); return err },
		"Exists": func() error { _, err := s.Exists(ctx, "k"); return err },
		"Clear":  func() error { _, err := s.Clear(ctx, "*"); return err },
		"Count":  func() error { _, err := s.Count(ctx, "*"); return err },
		"Ping":   func() error { return s.Ping(ctx) },
		"Info":   func() error { _, err := s.Info(ctx); return err },
		"SetNX":  func() error { _, err := s.SetNX(ctx, "k", nil, time.Second); return err },
		"CAS":    func() error { _, err := s.CompareAndSwap(ctx, "k", nil, nil, time.Second); return err },
		"CAD":    func() error { _, err := s.CompareAndDelete(ctx, "k", nil); return err },
		"GetMany": func() error {
			_, err := s.GetMany(ctx, []string{"k"})
			return err
		},
		"SetMany": func() error {
			return s.SetMany(ctx, []driver.Item{{Key: "k", TTL: time.Second}})
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			if err := call(); !errors.Is(err, driver.ErrClosed) {
				t.Errorf("%s after Close: %v, want ErrClosed", name, err)
			}
		})
	}
}

func TestInfo(t *testing.T) {
	t.Parallel()
	s, _, _ := sharedStore(t)
	info, err := s.Info(ctxFor(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"redis_version", "used_memory_human", "connected_clients", "total_commands_processed", "redis_mode"} {
		if info[field] == "" {
			t.Errorf("Info has no %s", field)
		}
	}
	if _, err := strconv.Atoi(info["connected_clients"]); err != nil {
		t.Errorf("connected_clients = %q: %v", info["connected_clients"], err)
	}
}

func TestParseInfo(t *testing.T) {
	t.Parallel()
	got := parseInfo("# Server\r\nredis_version:7.0.15\r\nexecutable:/usr/bin/redis-server\r\n\r\n# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n")
	want := map[string]string{
		"redis_version": "7.0.15",
		"executable":    "/usr/bin/redis-server",
		"db0":           "keys=1,expires=0,avg_ttl=0",
	}
	if len(got) != len(want) {
		t.Fatalf("parseInfo = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestMaxConnectionsBoundsConnections(t *testing.T) {
	t.Parallel()
	s, srv, _ := sharedStore(t)
	_ = s
	tests := []struct {
		name     string
		maxConns int
	}{
		{"one", 1},
		{"two", 2},
		{"default", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "maxconn-" + tt.name + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			s := newStore(t, Options{Addr: srv.Addr(), MaxConnections: tt.maxConns, ClientName: name})
			ctx := ctxFor(t, 20*time.Second)
			// Concurrent calls plus a batch above rueidis's 2,000-command
			// threshold, which takes pooled connections.
			items := make([]driver.Item, 2500)
			for i := range items {
				items[i] = driver.Item{Key: name + ":" + strconv.Itoa(i), Value: []byte("v"), TTL: time.Minute}
			}
			errc := make(chan error, 8)
			for range 8 {
				go func() { errc <- s.SetMany(ctx, items) }()
			}
			for range 8 {
				if err := <-errc; err != nil {
					t.Fatal(err)
				}
			}
			list, err := srv.Do("CLIENT", "LIST").ToString()
			if err != nil {
				t.Fatal(err)
			}
			limit := tt.maxConns
			if limit == 0 {
				limit = DefaultMaxConnections
			}
			if n := bytes.Count([]byte(list), []byte(" name="+name+" ")); n == 0 || n > limit {
				t.Errorf("%d connections named %s, want 1..%d", n, name, limit)
			}
		})
	}
}

func TestUnixSocket(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "redis.sock")
	srv := redistest.Start(t, redistest.WithArgs("--unixsocket", sock, "--unixsocketperm", "700"))
	s := newStore(t, Options{URL: "unix://" + sock + "?db=3"})
	roundTrip(t, s)
	if got, err := srv.DoDB(3, "GET", "rt").ToString(); err != nil || got != "v" {
		t.Fatalf("database 3 over TCP has %q, %v; want the value written over the socket", got, err)
	}
}
