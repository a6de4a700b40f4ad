package cacheadmin_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/cacheadmin"
	"github.com/larderhq/larder/driver"
)

func TestInfo(t *testing.T) {
	infoFields := []string{"mode", "namespace", "enabled", "breaker", "stats", "server_info"}
	tests := []struct {
		name       string
		cache      func(t *testing.T) *larder.Cache
		want       map[string]any
		wantServer map[string]any // nil: server_info must be null
		wantGone   string         // expected "unavailable"."server_info"; "" for none
	}{
		{
			name:  "off",
			cache: newOffCache,
			want:  map[string]any{"mode": "off", "namespace": "larder", "enabled": false, "breaker": "none"},
		},
		{
			name:  "memory",
			cache: newMemoryCache,
			want:  map[string]any{"mode": "memory", "namespace": "test", "enabled": true, "breaker": "none"},
		},
		{
			name: "redis",
			cache: func(t *testing.T) *larder.Cache {
				return newFakeCache(t, newFakeStore(driver.ModeRedis, redisInfo))
			},
			want:       map[string]any{"mode": "redis", "enabled": true, "breaker": "closed"},
			wantServer: map[string]any{"redis_version": "7.4.1", "connected_clients": "3"},
		},
		{
			name: "redis failing",
			cache: func(t *testing.T) *larder.Cache {
				f := newFakeStore(driver.ModeRedis, redisInfo)
				f.setBroken(true)
				return newFakeCache(t, f)
			},
			want: map[string]any{"mode": "redis", "enabled": true},
			// The test's Get and Set fail twice, which opens the breaker
			// (threshold 2), so Info is refused without calling the store.
			wantGone: "larder: store unavailable: circuit breaker open",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cache(t)
			var v string
			if _, err := c.Get(context.Background(), "k", &v); err != nil {
				t.Fatal(err)
			}
			if err := c.Set(context.Background(), "k", "v", time.Minute); err != nil {
				t.Fatal(err)
			}

			res := serve(t, cacheadmin.Info(c), http.MethodGet, "/examples/cache/info", "")
			if res.status != http.StatusOK {
				t.Fatalf("status code = %d, want 200; body %s", res.status, res.raw)
			}
			fields := infoFields
			if tt.wantGone != "" {
				fields = append(fields[:len(fields):len(fields)], "unavailable")
			}
			wantKeys(t, res.body, fields...)
			checkFields(t, res.body, tt.want)

			stats, _ := res.body["stats"].(map[string]any)
			wantKeys(t, stats, "store", "local")
			store, _ := stats["store"].(map[string]any)
			wantKeys(t, store, "hits", "misses", "hit_ratio", "sets", "deletes", "errors", "timeouts", "rejected", "decode_errors")
			if c.Enabled() && tt.wantGone == "" {
				checkFields(t, store, map[string]any{"misses": 1.0, "sets": 1.0})
			}

			if tt.wantServer == nil {
				if res.body["server_info"] != nil {
					t.Errorf("server_info = %v, want null", res.body["server_info"])
				}
			} else {
				server, _ := res.body["server_info"].(map[string]any)
				checkFields(t, server, tt.wantServer)
			}
			if tt.wantGone != "" {
				gone, _ := res.body["unavailable"].(map[string]any)
				checkFields(t, gone, map[string]any{"server_info": tt.wantGone})
			}
		})
	}
}
