package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/cmd/server/internal/server"
	"github.com/larderhq/larder/cmd/server/internal/user"
	"github.com/larderhq/larder/cmd/server/internal/userdb/dbtest"
	"github.com/larderhq/larder/internal/redistest"
)

// TestDefaults is `go run ./cmd/server` on a fresh machine: SQLite, memory
// mode, 1,000 seeded users, admin disabled.
func TestDefaults(t *testing.T) {
	t.Chdir(t.TempDir()) // the default SQLite file goes under ./data/
	s := start(t, map[string]string{"SEED_USERS": ""}, server.Hooks{})
	var u user.User
	s.expect(200, "GET", "/api/v1/users/1000", nil).json(t, &u)
	s.expect(404, "GET", "/api/v1/users/1001", nil)
	var d user.Dashboard
	s.expect(200, "GET", "/api/v1/examples/stats/dashboard", nil).json(t, &d)
	if d.TotalUsers != 1000 || d.NewUsersLast7Days == 0 {
		t.Fatalf("dashboard = %+v", d)
	}
	var h map[string]any
	s.expect(200, "GET", "/health/cache", nil).json(t, &h)
	if h["mode"] != "memory" || h["status"] != "healthy" {
		t.Fatalf("health = %v", h)
	}
	// Warming cached the most recent users: user 1000 is a hit at once.
	if r := s.expect(200, "GET", "/api/v1/users/1000", nil); r.header.Get("Cache-Status") != "larder; hit" {
		t.Fatalf("warmed user: Cache-Status %q", r.header.Get("Cache-Status"))
	}
	for _, path := range []string{"/admin/cache/stats", "/api/v1/examples/cache/info"} {
		if r := s.expect(403, "GET", path, nil, "Authorization", "Bearer anything"); !strings.Contains(r.detail(), "ADMIN_TOKEN") {
			t.Fatalf("403 detail %q does not say how to enable admin", r.detail())
		}
	}
}

// TestDebugDisablesCache checks development mode: DEBUG=true turns the
// cache off even with REDIS_URL set; reads bypass it, nothing is stored,
// and health and stats say so.
func TestDebugDisablesCache(t *testing.T) {
	srv := redistest.Shared(t)
	s := start(t, map[string]string{"DEBUG": "true", "REDIS_URL": "redis://" + srv.Addr(), "DATABASE_URL": dbtest.SQLite(t).DSN, "ADMIN_TOKEN": token}, server.Hooks{})
	var h map[string]any
	s.expect(200, "GET", "/health/cache", nil).json(t, &h)
	if h["status"] != "disabled" || h["mode"] != "off" {
		t.Fatalf("health = %v", h)
	}
	for range 2 {
		if r := s.expect(200, "GET", "/api/v1/users/3", nil); r.header.Get("Cache-Status") != "larder; fwd=bypass" {
			t.Fatalf("Cache-Status %q in debug mode", r.header.Get("Cache-Status"))
		}
	}
	if st := s.cache.Stats().Store; st.Hits+st.Sets != 0 {
		t.Fatalf("debug mode cached something: %+v", st)
	}
	var stats map[string]any
	s.expect(200, "GET", "/admin/cache/stats", nil, "Authorization", "Bearer "+token).json(t, &stats)
	if stats["message"] != "Cache disabled" {
		t.Fatalf("stats in debug mode = %v", stats)
	}
}

// TestRedisStoppedWhileServing: every endpoint still answers from the
// database, /health/cache says unhealthy, and the cache comes back.
func TestRedisStoppedWhileServing(t *testing.T) {
	srv := redistest.Start(t)
	s := start(t, map[string]string{"REDIS_URL": "redis://" + srv.Addr(), "DATABASE_URL": dbtest.SQLite(t).DSN, "ADMIN_TOKEN": token}, server.Hooks{})
	s.expect(200, "GET", "/api/v1/users/7", nil)
	if r := s.expect(200, "GET", "/api/v1/users/7", nil); r.header.Get("Cache-Status") != "larder; hit" {
		t.Fatal("no hit before the fault")
	}
	srv.Kill()
	auth := []string{"Authorization", "Bearer " + token}
	for round := range 3 {
		var u user.User
		s.expect(200, "GET", "/api/v1/users/7", nil).json(t, &u)
		if u.ID != 7 {
			t.Fatalf("round %d: user = %+v", round, u)
		}
		s.expect(200, "GET", "/api/v1/examples/users/7/profile", nil)
		s.expect(200, "GET", "/api/v1/examples/users/list?page=2&size=5", nil)
		s.expect(200, "GET", "/api/v1/examples/stats/dashboard", nil)
		var nu user.User
		s.expect(201, "POST", "/api/v1/users", map[string]string{"name": "During", "email": fmt.Sprintf("during%d@example.com", round)}).json(t, &nu)
		s.expect(200, "PUT", fmt.Sprintf("/api/v1/users/%d", nu.ID), map[string]string{"bio": "written while Redis was down"})
		s.expect(200, "DELETE", fmt.Sprintf("/api/v1/users/%d", nu.ID), nil)
		s.expect(404, "GET", "/api/v1/users/99999", nil)
		s.expect(200, "GET", "/healthz", nil)
		s.expect(200, "GET", "/readyz", nil)
		s.expect(200, "GET", "/admin/cache/stats", nil, auth...)
		s.expect(200, "GET", "/api/v1/examples/cache/info", nil, auth...)
		s.expect(503, "POST", "/api/v1/examples/cache/clear", nil, auth...)
		var h map[string]any
		s.expect(503, "GET", "/health/cache", nil).json(t, &h)
		if h["status"] != "unhealthy" {
			t.Fatalf("health with Redis down = %v", h)
		}
	}
	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.expect(200, "GET", "/api/v1/users/8", nil)
		r := s.do("GET", "/api/v1/users/8", nil)
		if r.code == 200 && r.header.Get("Cache-Status") == "larder; hit" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cache did not come back after Redis restarted")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var h map[string]any
	s.expect(200, "GET", "/health/cache", nil).json(t, &h)
	if h["status"] != "healthy" {
		t.Fatalf("health after restart = %v", h)
	}
}

// slowDB makes Get take a while, so a request is in flight at shutdown.
type slowDB struct {
	user.Service
	started chan struct{}
	once    sync.Once
}

func (s *slowDB) Get(ctx context.Context, id int64) (user.User, error) {
	s.once.Do(func() { close(s.started) })
	time.Sleep(300 * time.Millisecond)
	return s.Service.Get(ctx, id)
}

// TestShutdownDrains: a request in flight when SIGTERM arrives completes;
// new connections are refused; the cache and database are closed.
func TestShutdownDrains(t *testing.T) {
	slow := &slowDB{started: make(chan struct{})}
	var cache *larder.Cache
	s := start(t, map[string]string{"DATABASE_URL": dbtest.SQLite(t).DSN, "CACHE_WARM": "false"}, server.Hooks{
		WrapDB: func(db user.Service) user.Service { slow.Service = db; return slow },
		Cache:  func(c *larder.Cache) { cache = c },
	})
	type result struct {
		code int
		err  error
	}
	inflight := make(chan result, 1)
	go func() {
		resp, err := http.Get(s.base + "/api/v1/users/9")
		if err != nil {
			inflight <- result{err: err}
			return
		}
		resp.Body.Close()
		inflight <- result{code: resp.StatusCode}
	}()
	<-slow.started
	stopped := make(chan error, 1)
	go func() { stopped <- s.stop() }()
	res := <-inflight
	if res.err != nil || res.code != 200 {
		t.Fatalf("in-flight request during shutdown = %d, %v; want 200", res.code, res.err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Run returned %v\n%s", err, s.logs)
	}
	if _, err := http.Get(s.base + "/healthz"); err == nil {
		t.Fatal("the service still accepts connections after shutdown")
	}
	if err := cache.Ping(context.Background()); err != larder.ErrClosed {
		t.Fatalf("cache after shutdown: Ping = %v, want ErrClosed", err)
	}
	for _, want := range []string{"draining", "drained", "closed cache", "closed database"} {
		if !strings.Contains(s.logs.String(), want) {
			t.Fatalf("logs lack %q:\n%s", want, s.logs)
		}
	}
}

// TestWarmsWhenRedisComesUpLate: a Redis that is down at start-up is
// warmed once it answers, not never.
func TestWarmsWhenRedisComesUpLate(t *testing.T) {
	srv := redistest.Start(t)
	srv.Kill()
	s := start(t, map[string]string{"REDIS_URL": "redis://" + srv.Addr(), "DATABASE_URL": dbtest.SQLite(t).DSN, "CACHE_WARM_USERS": "20"}, server.Hooks{})
	if n := s.cache.Stats().Fetch.Fills; n != 0 {
		t.Fatalf("%d fills with Redis down", n)
	}
	srv.Restart()
	deadline := time.Now().Add(30 * time.Second)
	for s.cache.Stats().Fetch.Fills < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("warming did not run after Redis came up: %+v\n%s", s.cache.Stats().Fetch, s.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(s.logs.String(), "cache answers: warming it now") {
		t.Fatalf("no warming logged:\n%s", s.logs)
	}
}
