package cacheadmin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/cacheadmin"
	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/storetest"
	"github.com/larderhq/larder/memstore"
)

// statsFields are the fields of every Stats answer of an enabled cache.
var statsFields = []string{
	"mode", "namespace", "breaker", "keys",
	"used_memory", "used_bytes", "entries", "connected_clients", "total_commands",
	"hits", "misses", "hit_ratio", "sets", "deletes", "errors", "timeouts", "rejected", "decode_errors",
	"local",
}

// redisInfo is what a fake Redis says about itself.
var redisInfo = map[string]string{
	"redis_version":            "7.4.1",
	"used_memory":              "1103456",
	"used_memory_human":        "1.05M",
	"connected_clients":        "3",
	"total_commands_processed": "98765",
}

func TestStatsOff(t *testing.T) {
	res := serve(t, cacheadmin.Stats(newOffCache(t)), http.MethodGet, "/admin/cache/stats", "")
	if res.status != http.StatusOK {
		t.Errorf("status code = %d, want 200", res.status)
	}
	if strings.TrimSpace(res.raw) != `{"message":"Cache disabled"}` {
		t.Errorf("body = %s, want {\"message\":\"Cache disabled\"}", res.raw)
	}
}

func TestStatsMemory(t *testing.T) {
	ctx := context.Background()
	s := storetest.Memory(t, memstore.Options{MaxBytes: 1 << 20})
	c := newCache(t, larder.Options{Store: s, Namespace: "test"})
	// Another namespace in the same store: counted in entries (the whole
	// store) but not in keys (this cache's namespace).
	other := newCache(t, larder.Options{Store: s, Namespace: "other"})
	for _, k := range []string{"user:1", "user:2"} {
		if err := c.Set(ctx, k, "v", time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if err := other.Set(ctx, "user:1", "v", time.Minute); err != nil {
		t.Fatal(err)
	}
	var v string
	for _, k := range []string{"user:1", "user:3"} { // a hit and a miss
		if _, err := c.Get(ctx, k, &v); err != nil {
			t.Fatal(err)
		}
	}

	res := serve(t, cacheadmin.Stats(c), http.MethodGet, "/admin/cache/stats", "")
	if res.status != http.StatusOK {
		t.Fatalf("status code = %d, want 200", res.status)
	}
	wantKeys(t, res.body, statsFields...)
	want := map[string]any{
		"mode": "memory", "namespace": "test", "breaker": "none",
		"keys": 2.0, "entries": 3.0,
		"used_memory": nil, "connected_clients": nil, "total_commands": nil,
		"hits": 1.0, "misses": 1.0, "hit_ratio": 0.5, "sets": 2.0, "errors": 0.0, "timeouts": 0.0,
	}
	checkFields(t, res.body, want)
	if b, ok := res.body["used_bytes"].(float64); !ok || b <= 0 {
		t.Errorf("used_bytes = %v, want the store's positive size", res.body["used_bytes"])
	}
	local, ok := res.body["local"].(map[string]any)
	if !ok {
		t.Fatalf("local = %v, want an object", res.body["local"])
	}
	checkFields(t, local, map[string]any{"hits": 0.0, "misses": 0.0, "hit_ratio": 0.0, "errors": 0.0, "timeouts": 0.0})
}

func TestStatsRemote(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		info     map[string]string
		broken   bool
		breaker  bool // open the breaker first
		want     map[string]any
		wantGone map[string]string // expected "unavailable" entries (substrings)
	}{
		{
			name: "healthy",
			info: redisInfo,
			want: map[string]any{
				"mode": "redis", "breaker": "closed", "keys": 1.0,
				"used_memory": "1.05M", "used_bytes": 1103456.0, "entries": nil,
				"connected_clients": 3.0, "total_commands": 98765.0,
				"hits": 1.0, "misses": 0.0, "hit_ratio": 1.0, "errors": 0.0,
			},
		},
		{
			name: "odd info fields are null",
			info: map[string]string{"used_memory": "-1", "connected_clients": "lots"},
			want: map[string]any{
				"keys": 1.0, "used_memory": nil, "used_bytes": nil,
				"connected_clients": nil, "total_commands": nil,
			},
		},
		{
			name:   "store failing",
			info:   redisInfo,
			broken: true,
			want: map[string]any{
				"breaker": "closed", "keys": nil, "used_memory": nil, "used_bytes": nil,
				"connected_clients": nil, "total_commands": nil,
				"hits": 1.0,
			},
			wantGone: map[string]string{
				"keys":        "larder: store unavailable: fake: connection refused",
				"server_info": "larder: store unavailable: fake: connection refused",
			},
		},
		{
			name:    "breaker open",
			info:    redisInfo,
			breaker: true,
			want: map[string]any{
				"breaker": "open", "keys": nil, "used_memory": nil,
				"hits": 1.0, "misses": 2.0, "errors": 2.0,
			},
			wantGone: map[string]string{
				"keys":        "circuit breaker open",
				"server_info": "circuit breaker open",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeStore(driver.ModeRedis, tt.info)
			c := newFakeCache(t, f)
			if err := c.Set(ctx, "user:1", "v", time.Minute); err != nil {
				t.Fatal(err)
			}
			var v string
			if _, err := c.Get(ctx, "user:1", &v); err != nil {
				t.Fatal(err)
			}
			if tt.breaker {
				openBreaker(t, c, f)
			}
			f.setBroken(tt.broken || tt.breaker)

			res := serve(t, cacheadmin.Stats(c), http.MethodGet, "/admin/cache/stats", "")
			if res.status != http.StatusOK {
				t.Fatalf("status code = %d, want 200 even for a sick store; body %s", res.status, res.raw)
			}
			fields := statsFields
			if tt.wantGone != nil {
				fields = append(fields[:len(fields):len(fields)], "unavailable")
			}
			wantKeys(t, res.body, fields...)
			checkFields(t, res.body, tt.want)
			if tt.wantGone == nil {
				return
			}
			gone, _ := res.body["unavailable"].(map[string]any)
			if len(gone) != len(tt.wantGone) {
				t.Errorf("unavailable = %v, want keys of %v", gone, tt.wantGone)
			}
			for k, want := range tt.wantGone {
				if got, _ := gone[k].(string); !strings.Contains(got, want) {
					t.Errorf("unavailable[%q] = %q, want it to contain %q", k, got, want)
				}
			}
		})
	}
}

// TestStatsHungStore checks that a store that never answers cannot hang
// the statistics page: the queries end with the request's context (or the
// handler's own budget, when the request has none) and the page answers.
func TestStatsHungStore(t *testing.T) {
	f := newFakeStore(driver.ModeRedis, redisInfo)
	c := newFakeCache(t, f)
	f.setHung(true)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/admin/cache/stats", nil)
	rec := httptest.NewRecorder()
	cacheadmin.Stats(c).ServeHTTP(rec, req)

	if rec.Code != http.StatusOK {
		t.Fatalf("status code = %d, want 200; body %s", rec.Code, rec.Body)
	}
	var body struct {
		Keys        *int              `json:"keys"`
		Unavailable map[string]string `json:"unavailable"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Keys != nil {
		t.Errorf("keys = %d, want null", *body.Keys)
	}
	for _, k := range []string{"keys", "server_info"} {
		if !strings.Contains(body.Unavailable[k], "deadline exceeded") {
			t.Errorf("unavailable[%q] = %q, want a deadline error", k, body.Unavailable[k])
		}
	}
}

// checkFields fails the test for every field of want that body does not
// hold with the same JSON value (nil for null).
func checkFields(t *testing.T, body, want map[string]any) {
	t.Helper()
	for k, w := range want {
		got, ok := body[k]
		if !ok {
			t.Errorf("missing field %q", k)
			continue
		}
		if got != w {
			t.Errorf("%s = %#v, want %#v", k, got, w)
		}
	}
}
