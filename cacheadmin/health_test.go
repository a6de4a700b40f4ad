package cacheadmin_test

import (
	"net/http"
	"testing"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/cacheadmin"
	"github.com/larderhq/larder/driver"
)

func TestHealth(t *testing.T) {
	tests := []struct {
		name        string
		cache       func(t *testing.T) *larder.Cache
		wantCode    int
		wantStatus  string
		wantMode    string
		wantBreaker string
		wantError   string // "" means the field must be absent
	}{
		{
			name:        "memory",
			cache:       newMemoryCache,
			wantCode:    http.StatusOK,
			wantStatus:  cacheadmin.StatusHealthy,
			wantMode:    "memory",
			wantBreaker: "none",
		},
		{
			name:        "off",
			cache:       newOffCache,
			wantCode:    http.StatusOK,
			wantStatus:  cacheadmin.StatusDisabled,
			wantMode:    "off",
			wantBreaker: "none",
		},
		{
			name: "remote healthy",
			cache: func(t *testing.T) *larder.Cache {
				return newFakeCache(t, newFakeStore(driver.ModeRedis, nil))
			},
			wantCode:    http.StatusOK,
			wantStatus:  cacheadmin.StatusHealthy,
			wantMode:    "redis",
			wantBreaker: "closed",
		},
		{
			name: "remote failing",
			cache: func(t *testing.T) *larder.Cache {
				f := newFakeStore(driver.ModeRedis, nil)
				f.setBroken(true)
				return newFakeCache(t, f)
			},
			wantCode:    http.StatusServiceUnavailable,
			wantStatus:  cacheadmin.StatusUnhealthy,
			wantMode:    "redis",
			wantBreaker: "closed", // a ping never trips the breaker
			wantError:   "larder: store unavailable: fake: connection refused",
		},
		{
			name: "remote failing, breaker open",
			cache: func(t *testing.T) *larder.Cache {
				f := newFakeStore(driver.ModeRedis, nil)
				c := newFakeCache(t, f)
				openBreaker(t, c, f)
				return c
			},
			wantCode:    http.StatusServiceUnavailable,
			wantStatus:  cacheadmin.StatusUnhealthy,
			wantMode:    "redis",
			wantBreaker: "open",
			wantError:   "larder: store unavailable: fake: connection refused",
		},
		{
			name: "closed cache",
			cache: func(t *testing.T) *larder.Cache {
				c := newMemoryCache(t)
				if err := c.Close(); err != nil {
					t.Fatal(err)
				}
				return c
			},
			wantCode:    http.StatusServiceUnavailable,
			wantStatus:  cacheadmin.StatusUnhealthy,
			wantMode:    "memory",
			wantBreaker: "none",
			wantError:   larder.ErrClosed.Error(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := serve(t, cacheadmin.Health(tt.cache(t)), http.MethodGet, "/health/cache", "")
			if res.status != tt.wantCode {
				t.Errorf("status code = %d, want %d", res.status, tt.wantCode)
			}
			if got := res.header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
			keys := []string{"status", "mode", "latency_ms", "breaker"}
			if tt.wantError != "" {
				keys = append(keys, "error")
			}
			wantKeys(t, res.body, keys...)
			for field, want := range map[string]string{
				"status": tt.wantStatus, "mode": tt.wantMode, "breaker": tt.wantBreaker, "error": tt.wantError,
			} {
				if got, _ := res.body[field].(string); got != want {
					t.Errorf("%s = %q, want %q", field, got, want)
				}
			}
			if ms, ok := res.body["latency_ms"].(float64); !ok || ms < 0 {
				t.Errorf("latency_ms = %v, want a non-negative number", res.body["latency_ms"])
			}
		})
	}
}
