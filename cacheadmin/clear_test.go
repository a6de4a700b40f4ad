package cacheadmin_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/cacheadmin"
	"github.com/larderhq/larder/driver"
)

// seed stores the given keys in c.
func seed(t *testing.T, c *larder.Cache, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if err := c.Set(context.Background(), k, "v", time.Minute); err != nil {
			t.Fatal(err)
		}
	}
}

func TestClear(t *testing.T) {
	keys := []string{"user:1", "user:2", "post:1"}
	tests := []struct {
		name        string
		body        string
		wantCode    int
		wantDeleted float64  // when wantCode is 200
		wantLeft    []string // keys still present afterwards
		wantDetail  string   // substring of the detail, for errors
	}{
		{name: "no body clears the namespace", body: "", wantCode: 200, wantDeleted: 3},
		{name: "whitespace body", body: " \n", wantCode: 200, wantDeleted: 3},
		{name: "null body", body: "null", wantCode: 200, wantDeleted: 3},
		{name: "empty object", body: "{}", wantCode: 200, wantDeleted: 3},
		{name: "empty pattern", body: `{"pattern": ""}`, wantCode: 200, wantDeleted: 3},
		{name: "null pattern", body: `{"pattern": null}`, wantCode: 200, wantDeleted: 3},
		{name: "pattern", body: `{"pattern": "user:*"}`, wantCode: 200, wantDeleted: 2, wantLeft: []string{"post:1"}},
		{name: "literal key", body: `{"pattern": "post:1"}`, wantCode: 200, wantDeleted: 1, wantLeft: []string{"user:1", "user:2"}},
		{name: "no match", body: `{"pattern": "order:*"}`, wantCode: 200, wantDeleted: 0, wantLeft: keys},
		{name: "malformed JSON", body: `{"pattern": `, wantCode: 422, wantLeft: keys, wantDetail: "unexpected EOF"},
		{name: "not an object", body: `["user:*"]`, wantCode: 422, wantLeft: keys, wantDetail: "JSON object like {\"pattern\": \"user:*\"}, not array"},
		{name: "pattern not a string", body: `{"pattern": 5}`, wantCode: 422, wantLeft: keys, wantDetail: `field "pattern" must be a string, not number`},
		{name: "unknown field", body: `{"pattern": "user:*", "all": true}`, wantCode: 422, wantLeft: keys, wantDetail: `unknown field "all"`},
		{name: "trailing data", body: `{"pattern": "user:*"} {}`, wantCode: 422, wantLeft: keys, wantDetail: "single JSON object"},
		{name: "trailing garbage", body: `{"pattern": "user:*"} x`, wantCode: 422, wantLeft: keys, wantDetail: "invalid character"},
		{
			name:       "unmatchable pattern",
			body:       `{"pattern": "` + strings.Repeat("*a", 1001) + `b"}`,
			wantCode:   422,
			wantLeft:   keys,
			wantDetail: larder.ErrInvalidPattern.Error(),
		},
		{
			name:       "pattern too long",
			body:       `{"pattern": "` + strings.Repeat("a", larder.MaxKeyLen+1) + `"}`,
			wantCode:   422,
			wantLeft:   keys,
			wantDetail: larder.ErrInvalidKey.Error(),
		},
		{
			name:       "body too large",
			body:       `{"pattern": "` + strings.Repeat("a", 1<<20) + `"}`,
			wantCode:   413,
			wantLeft:   keys,
			wantDetail: "larger than 1 MiB",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newMemoryCache(t)
			seed(t, c, keys...)

			res := serve(t, cacheadmin.Clear(c), http.MethodPost, "/admin/cache/clear", tt.body)
			if res.status != tt.wantCode {
				t.Fatalf("status code = %d, want %d; body %s", res.status, tt.wantCode, res.raw)
			}
			if tt.wantCode == http.StatusOK {
				wantKeys(t, res.body, "deleted")
				if got := res.body["deleted"]; got != tt.wantDeleted {
					t.Errorf("deleted = %v, want %v", got, tt.wantDeleted)
				}
			} else if d := detail(t, res); !strings.Contains(d, tt.wantDetail) {
				t.Errorf("detail = %q, want it to contain %q", d, tt.wantDetail)
			}
			n, err := c.Count(context.Background(), "*")
			if err != nil {
				t.Fatal(err)
			}
			if n != len(tt.wantLeft) {
				t.Errorf("%d keys left, want %d (%v)", n, len(tt.wantLeft), tt.wantLeft)
			}
			for _, k := range tt.wantLeft {
				if ok, _ := c.Exists(context.Background(), k); !ok {
					t.Errorf("key %q was removed", k)
				}
			}
		})
	}
}

// TestClearNamespace checks that no pattern reaches another namespace's
// keys in a shared store.
func TestClearNamespace(t *testing.T) {
	f := newFakeStore(driver.ModeRedis, nil)
	c := newFakeCache(t, f)
	other := newCache(t, larder.Options{Store: f, Namespace: "other"})
	seed(t, c, "user:1")
	seed(t, other, "user:1")

	res := serve(t, cacheadmin.Clear(c), http.MethodPost, "/admin/cache/clear", "")
	if res.status != http.StatusOK || res.body["deleted"] != 1.0 {
		t.Fatalf("answer = %d %s, want 200 {\"deleted\":1}", res.status, res.raw)
	}
	if ok, _ := other.Exists(context.Background(), "user:1"); !ok {
		t.Error("Clear removed a key of another namespace")
	}
}

func TestClearUnavailable(t *testing.T) {
	tests := []struct {
		name       string
		cache      func(t *testing.T) *larder.Cache
		wantCode   int
		wantDetail string
	}{
		{
			name: "store failing",
			cache: func(t *testing.T) *larder.Cache {
				f := newFakeStore(driver.ModeRedis, nil)
				f.setBroken(true)
				return newFakeCache(t, f)
			},
			wantCode:   http.StatusServiceUnavailable,
			wantDetail: "larder: store unavailable: fake: connection refused",
		},
		{
			name: "breaker open",
			cache: func(t *testing.T) *larder.Cache {
				f := newFakeStore(driver.ModeRedis, nil)
				c := newFakeCache(t, f)
				openBreaker(t, c, f)
				return c
			},
			wantCode:   http.StatusServiceUnavailable,
			wantDetail: "larder: store unavailable: circuit breaker open",
		},
		{
			name: "closed",
			cache: func(t *testing.T) *larder.Cache {
				c := newMemoryCache(t)
				if err := c.Close(); err != nil {
					t.Fatal(err)
				}
				return c
			},
			wantCode:   http.StatusServiceUnavailable,
			wantDetail: larder.ErrClosed.Error(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := serve(t, cacheadmin.Clear(tt.cache(t)), http.MethodPost, "/admin/cache/clear", `{"pattern":"user:*"}`)
			if res.status != tt.wantCode {
				t.Errorf("status code = %d, want %d", res.status, tt.wantCode)
			}
			if d := detail(t, res); d != tt.wantDetail {
				t.Errorf("detail = %q, want %q", d, tt.wantDetail)
			}
		})
	}
}

func TestClearOff(t *testing.T) {
	res := serve(t, cacheadmin.Clear(newOffCache(t)), http.MethodPost, "/admin/cache/clear", `{"pattern":"user:*"}`)
	if res.status != http.StatusOK || res.body["deleted"] != 0.0 {
		t.Errorf("answer = %d %s, want 200 {\"deleted\":0}", res.status, res.raw)
	}
}

// TestMethods checks that each handler refuses the methods it does not
// serve, for services that mount it without a method pattern.
func TestMethods(t *testing.T) {
	c := newMemoryCache(t)
	seed(t, c, "user:1")
	tests := []struct {
		name      string
		handler   http.Handler
		method    string
		wantCode  int
		wantAllow string
	}{
		{"health GET", cacheadmin.Health(c), http.MethodGet, 200, ""},
		{"health HEAD", cacheadmin.Health(c), http.MethodHead, 200, ""},
		{"health POST", cacheadmin.Health(c), http.MethodPost, 405, "GET, HEAD"},
		{"stats GET", cacheadmin.Stats(c), http.MethodGet, 200, ""},
		{"stats PUT", cacheadmin.Stats(c), http.MethodPut, 405, "GET, HEAD"},
		{"info GET", cacheadmin.Info(c), http.MethodGet, 200, ""},
		{"info DELETE", cacheadmin.Info(c), http.MethodDelete, 405, "GET, HEAD"},
		{"clear GET", cacheadmin.Clear(c), http.MethodGet, 405, "POST"},
		{"clear HEAD", cacheadmin.Clear(c), http.MethodHead, 405, "POST"},
		{"clear DELETE", cacheadmin.Clear(c), http.MethodDelete, 405, "POST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := serve(t, tt.handler, tt.method, "/", "")
			if res.status != tt.wantCode {
				t.Errorf("status code = %d, want %d", res.status, tt.wantCode)
			}
			if got := res.header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
			if tt.wantCode == http.StatusMethodNotAllowed && tt.method != http.MethodHead {
				detail(t, res)
			}
		})
	}
	if ok, _ := c.Exists(context.Background(), "user:1"); !ok {
		t.Error("a refused method cleared the cache")
	}
}
