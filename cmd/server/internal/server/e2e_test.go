package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/larderhq/larder/cmd/server/internal/server"
	"github.com/larderhq/larder/cmd/server/internal/user"
	"github.com/larderhq/larder/cmd/server/internal/userdb/dbtest"
	"github.com/larderhq/larder/internal/redistest"
)

func TestMain(m *testing.M) { redistest.Main(m) }

const token = "test-admin-token"

// modes returns the cache settings of each mode the service runs in.
func modes(t *testing.T) map[string]map[string]string {
	srv := redistest.Shared(t)
	return map[string]map[string]string{
		"memory": {},
		"redis":  {"REDIS_URL": fmt.Sprintf("redis://%s/%d", srv.Addr(), srv.FreshDB())},
	}
}

// TestEndpoints runs every endpoint over real HTTP against SQLite and
// PostgreSQL, in memory and redis modes.
func TestEndpoints(t *testing.T) {
	dbtest.Run(t, func(t *testing.T, e dbtest.Engine) {
		for mode, vars := range modes(t) {
			t.Run(mode, func(t *testing.T) {
				vars["DATABASE_URL"] = e.DSN
				vars["ADMIN_TOKEN"] = token
				s := start(t, vars, server.Hooks{})
				t.Run("users", func(t *testing.T) { testUsers(t, s) })
				t.Run("errors", func(t *testing.T) { testErrors(t, s) })
				t.Run("lists and dashboard", func(t *testing.T) { testCollections(t, s) })
				t.Run("profile", func(t *testing.T) { testProfile(t, s) })
				t.Run("admin", func(t *testing.T) { testAdmin(t, s, mode) })
				t.Run("health", func(t *testing.T) { testHealth(t, s, mode) })
			})
		}
	})
}

func testUsers(t *testing.T, s *service) {
	s.t = t
	// Seeded data is there: ids 1..60.
	var u1 user.User
	s.expect(200, "GET", "/api/v1/users/60", nil).json(t, &u1)
	if u1.ID != 60 || u1.Email != "user60@example.com" {
		t.Fatalf("seeded user 60 = %+v", u1)
	}
	r := s.expect(201, "POST", "/api/v1/users", map[string]string{"name": "Grace Hopper", "email": "Grace@Example.com", "bio": "COBOL"})
	var created user.User
	r.json(t, &created)
	if created.ID == 0 || created.Email != "grace@example.com" || r.header.Get("Location") != fmt.Sprintf("/api/v1/users/%d", created.ID) {
		t.Fatalf("created = %+v, Location %q", created, r.header.Get("Location"))
	}
	path := fmt.Sprintf("/api/v1/users/%d", created.ID)

	// Cache-aside: the first read fills the cache, the second hits it.
	s.expect(200, "GET", path, nil)
	r = s.expect(200, "GET", path, nil)
	if got := r.header.Get("Cache-Status"); got != "larder; hit" {
		t.Fatalf("second read Cache-Status = %q, want a hit", got)
	}

	// Read-your-writes after PUT, served from the cache.
	var updated user.User
	s.expect(200, "PUT", path, map[string]string{"bio": "Admiral"}).json(t, &updated)
	if updated.Bio != "Admiral" || updated.Name != "Grace Hopper" || !updated.UpdatedAt.After(created.UpdatedAt) {
		t.Fatalf("updated = %+v", updated)
	}
	var got user.User
	r = s.expect(200, "GET", path, nil)
	r.json(t, &got)
	if got.Bio != "Admiral" {
		t.Fatalf("read after PUT = %+v (Cache-Status %q)", got, r.header.Get("Cache-Status"))
	}

	// Read-your-writes after DELETE.
	r = s.expect(200, "DELETE", path, nil)
	if !strings.Contains(string(r.body), "User deleted") {
		t.Fatalf("delete body %s", r.body)
	}
	if r := s.expect(404, "GET", path, nil); r.detail() != "User not found" {
		t.Fatalf("detail = %q", r.detail())
	}
	s.expect(404, "DELETE", path, nil)
	s.expect(404, "PUT", path, map[string]string{"bio": "x"})
}

func testErrors(t *testing.T, s *service) {
	s.t = t
	big := `{"name":"x","email":"big@example.com","bio":"` + strings.Repeat("a", 1<<20) + `"}`
	for _, tc := range []struct {
		name         string
		method, path string
		body         any
		code         int
		detail       string // a part of the detail
	}{
		{"unknown user", "GET", "/api/v1/users/999999", nil, 404, "User not found"},
		{"id not a number", "GET", "/api/v1/users/abc", nil, 422, "user_id"},
		{"id zero", "GET", "/api/v1/users/0", nil, 422, "positive"},
		{"id negative", "GET", "/api/v1/examples/users/-3/profile", nil, 422, "positive"},
		{"id overflow", "DELETE", "/api/v1/users/99999999999999999999", nil, 422, "user_id"},
		{"malformed JSON", "POST", "/api/v1/users", `{"name":`, 422, "JSON"},
		{"not an object", "POST", "/api/v1/users", `[1,2]`, 422, "object"},
		{"wrong type", "POST", "/api/v1/users", `{"name": 5, "email": "a@b.co"}`, 422, "name"},
		{"unknown field", "PUT", "/api/v1/users/1", `{"nmae": "x"}`, 422, "nmae"},
		{"trailing data", "PUT", "/api/v1/users/1", `{"name": "x"} {}`, 422, "after"},
		{"empty body", "POST", "/api/v1/users", nil, 422, "required"},
		{"blank name", "POST", "/api/v1/users", map[string]string{"name": " ", "email": "n@example.com"}, 422, "name"},
		{"bad email", "POST", "/api/v1/users", map[string]string{"name": "N", "email": "not-an-email"}, 422, "email"},
		{"duplicate email", "POST", "/api/v1/users", map[string]string{"name": "Dup", "email": "USER1@example.com"}, 409, "Email already registered"},
		{"duplicate email on update", "PUT", "/api/v1/users/2", map[string]string{"email": "user1@example.com"}, 409, "Email"},
		{"oversize body", "POST", "/api/v1/users", big, 413, "too large"},
		{"page zero", "GET", "/api/v1/examples/users/list?page=0", nil, 422, "page"},
		{"size too big", "GET", "/api/v1/examples/users/list?size=1000", nil, 422, "size"},
		{"page not a number", "GET", "/api/v1/examples/users/list?page=two", nil, 422, "page"},
		{"clear: bad JSON", "POST", "/api/v1/examples/cache/clear", `{"pattern":`, 422, ""},
		{"unknown route", "GET", "/api/v1/nothing", nil, 404, "Not Found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.t = t
			r := s.expect(tc.code, tc.method, tc.path, tc.body, "Authorization", "Bearer "+token)
			if !strings.Contains(strings.ToLower(r.detail()), strings.ToLower(tc.detail)) {
				t.Fatalf("detail %q does not mention %q", r.detail(), tc.detail)
			}
		})
	}
}

func testCollections(t *testing.T, s *service) {
	s.t = t
	var p1 user.Page
	s.expect(200, "GET", "/api/v1/examples/users/list?page=1&size=10", nil).json(t, &p1)
	r := s.expect(200, "GET", "/api/v1/examples/users/list?page=1&size=10", nil)
	if r.header.Get("Cache-Status") != "larder; hit" {
		t.Fatalf("second list read Cache-Status = %q", r.header.Get("Cache-Status"))
	}
	var d1 user.Dashboard
	s.expect(200, "GET", "/api/v1/examples/stats/dashboard", nil).json(t, &d1)
	if d1.TotalUsers != p1.Total || len(d1.SignupsLast30Days) != 30 || len(d1.Newest) == 0 {
		t.Fatalf("dashboard = %+v, list total %d", d1, p1.Total)
	}
	s.expect(200, "GET", "/api/v1/examples/stats/dashboard", nil)

	var u user.User
	s.expect(201, "POST", "/api/v1/users", map[string]string{"name": "Newcomer", "email": "newcomer@example.com"}).json(t, &u)
	// Every cached list and the dashboard see the create at once.
	last := (p1.Total + 1 + 9) / 10
	var p2 user.Page
	s.expect(200, "GET", fmt.Sprintf("/api/v1/examples/users/list?page=%d&size=10", last), nil).json(t, &p2)
	if p2.Total != p1.Total+1 || p2.Users[len(p2.Users)-1].ID != u.ID {
		t.Fatalf("list after create: total %d (was %d), last %+v", p2.Total, p1.Total, p2.Users[len(p2.Users)-1])
	}
	var first user.Page
	s.expect(200, "GET", "/api/v1/examples/users/list?page=1&size=10", nil).json(t, &first)
	if first.Total != p1.Total+1 {
		t.Fatalf("cached first page total %d after create, want %d", first.Total, p1.Total+1)
	}
	var d2 user.Dashboard
	s.expect(200, "GET", "/api/v1/examples/stats/dashboard", nil).json(t, &d2)
	if d2.TotalUsers != d1.TotalUsers+1 || d2.Newest[0].ID != u.ID {
		t.Fatalf("dashboard after create: total %d (was %d), newest %+v", d2.TotalUsers, d1.TotalUsers, d2.Newest[0])
	}
	// An update shows in the cached first page.
	s.expect(200, "PUT", "/api/v1/users/1", map[string]string{"name": "Renamed One"})
	s.expect(200, "GET", "/api/v1/examples/users/list?page=1&size=10", nil).json(t, &first)
	if first.Users[0].Name != "Renamed One" {
		t.Fatalf("cached list after update shows %q", first.Users[0].Name)
	}
	// A delete shows everywhere.
	s.expect(200, "DELETE", fmt.Sprintf("/api/v1/users/%d", u.ID), nil)
	s.expect(200, "GET", "/api/v1/examples/users/list?page=1&size=10", nil).json(t, &first)
	s.expect(200, "GET", "/api/v1/examples/stats/dashboard", nil).json(t, &d2)
	if first.Total != p1.Total || d2.TotalUsers != d1.TotalUsers {
		t.Fatalf("after delete: list total %d, dashboard %d; want %d", first.Total, d2.TotalUsers, p1.Total)
	}
	// Past the last page: empty, not an error.
	var beyond user.Page
	s.expect(200, "GET", "/api/v1/examples/users/list?page=999&size=100", nil).json(t, &beyond)
	if len(beyond.Users) != 0 || beyond.Total != p1.Total {
		t.Fatalf("page 999 = %+v", beyond)
	}
}

func testProfile(t *testing.T, s *service) {
	s.t = t
	var p struct {
		UserID int64  `json:"user_id"`
		Name   string `json:"name"`
		Bio    string `json:"bio"`
	}
	s.expect(200, "GET", "/api/v1/examples/users/5/profile", nil).json(t, &p)
	if p.UserID != 5 || p.Name == "" {
		t.Fatalf("profile = %+v", p)
	}
	s.expect(200, "PUT", "/api/v1/examples/users/5/profile", map[string]string{"bio": "new bio"})
	s.expect(200, "GET", "/api/v1/examples/users/5/profile", nil).json(t, &p)
	if p.Bio != "new bio" {
		t.Fatalf("profile after PUT = %+v", p)
	}
	var u user.User
	s.expect(200, "GET", "/api/v1/users/5", nil).json(t, &u)
	if u.Bio != "new bio" {
		t.Fatalf("user after profile PUT = %+v", u)
	}
	s.expect(422, "PUT", "/api/v1/examples/users/5/profile", map[string]string{"email": "x@example.com"})
	s.expect(404, "GET", "/api/v1/examples/users/987654/profile", nil)
}

func testAdmin(t *testing.T, s *service, mode string) {
	s.t = t
	for _, path := range []string{"/admin/cache/stats", "/api/v1/examples/cache/info"} {
		s.expect(401, "GET", path, nil)
		s.expect(401, "GET", path, nil, "Authorization", "Bearer wrong")
		s.expect(401, "GET", path, nil, "Authorization", "Basic "+token)
		s.expect(200, "GET", path, nil, "Authorization", "Bearer "+token)
	}
	s.expect(401, "POST", "/api/v1/examples/cache/clear", nil)

	// Warm two users, clear one by pattern, the other stays cached.
	s.expect(200, "GET", "/api/v1/users/11", nil)
	s.expect(200, "GET", "/api/v1/users/12", nil)
	var res struct {
		Deleted int `json:"deleted"`
	}
	s.expect(200, "POST", "/api/v1/examples/cache/clear", map[string]string{"pattern": "user:11"}, "Authorization", "Bearer "+token).json(t, &res)
	if res.Deleted != 1 {
		t.Fatalf("clear user:11 deleted %d", res.Deleted)
	}
	if r := s.expect(200, "GET", "/api/v1/users/11", nil); r.header.Get("Cache-Status") == "larder; hit" {
		t.Fatal("user 11 still cached after clear")
	}
	if r := s.expect(200, "GET", "/api/v1/users/12", nil); r.header.Get("Cache-Status") != "larder; hit" {
		t.Fatal("user 12 lost by a clear of user:11")
	}
	var stats map[string]any
	s.expect(200, "GET", "/admin/cache/stats", nil, "Authorization", "Bearer "+token).json(t, &stats)
	if stats["mode"] != mode || stats["hits"] == nil || stats["misses"] == nil || stats["hit_ratio"] == nil {
		t.Fatalf("stats = %v", stats)
	}
	if keys, _ := stats["keys"].(float64); keys < 1 {
		t.Fatalf("stats keys = %v", stats["keys"])
	}
	if mode == "redis" && (stats["used_memory"] == nil || stats["connected_clients"] == nil || stats["total_commands"] == nil) {
		t.Fatalf("redis stats lack the guide's fields: %v", stats)
	}
	// An empty body clears the whole namespace.
	s.expect(200, "POST", "/api/v1/examples/cache/clear", nil, "Authorization", "Bearer "+token).json(t, &res)
	if res.Deleted < 1 {
		t.Fatalf("clear * deleted %d", res.Deleted)
	}
}

func testHealth(t *testing.T, s *service, mode string) {
	s.t = t
	var h map[string]any
	for _, path := range []string{"/health/cache", "/api/v1/examples/cache/health"} {
		s.expect(200, "GET", path, nil).json(t, &h)
		if h["status"] != "healthy" || h["mode"] != mode {
			t.Fatalf("%s = %v", path, h)
		}
	}
	s.expect(200, "GET", "/healthz", nil)
	s.expect(200, "GET", "/readyz", nil)
	m := s.expect(200, "GET", "/metrics", nil)
	for _, want := range []string{"http_requests_total", "larder_cache_operations_total", `outcome="hit"`} {
		if !strings.Contains(string(m.body), want) {
			t.Fatalf("/metrics lacks %s", want)
		}
	}
	var doc map[string]any
	s.expect(200, "GET", "/openapi.json", nil).json(t, &doc)
	if r := s.expect(200, "GET", "/docs", nil); !strings.Contains(string(r.body), "/api/v1/users/{user_id}") {
		t.Fatal("/docs does not list the routes")
	}
}
