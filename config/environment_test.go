package config_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/config"
	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/redistest"
	"github.com/larderhq/larder/redisstore"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// TestEnvironmentAware checks that the cache is off under DEBUG and on
// otherwise, through the configuration a deployment uses.
func TestEnvironmentAware(t *testing.T) {
	srv := redistest.Shared(t)
	for _, tc := range []struct {
		name    string
		vars    map[string]string
		mode    driver.Mode
		enabled bool
	}{
		{"debug", map[string]string{"DEBUG": "True", "REDIS_URL": srv.URL()}, driver.ModeOff, false},
		{"production with Redis", map[string]string{"DEBUG": "False", "REDIS_URL": srv.URL()}, driver.ModeRedis, true},
		{"production, guide variables", map[string]string{"DEBUG": "False", "REDIS_HOST": "127.0.0.1", "REDIS_PORT": strconv.Itoa(srv.Port()), "REDIS_DB": "3"}, driver.ModeRedis, true},
		{"production without Redis", map[string]string{"DEBUG": "False"}, driver.ModeMemory, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg config.Config
			if err := config.Parse(&cfg, tc.vars); err != nil {
				t.Fatal(err)
			}
			c, err := cfg.Open(nil, larder.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Mode() != tc.mode || c.Enabled() != tc.enabled {
				t.Fatalf("mode %q enabled %v; want %q %v", c.Mode(), c.Enabled(), tc.mode, tc.enabled)
			}
			ctx := context.Background()
			if err := c.Set(ctx, "env:k", "v", time.Minute); err != nil {
				t.Fatal(err)
			}
			var v string
			ok, err := c.Get(ctx, "env:k", &v)
			if err != nil || ok != tc.enabled {
				t.Fatalf("Get = %v, %v; want hit=%v", ok, err, tc.enabled)
			}
			if tc.mode == driver.ModeRedis {
				if redisstore.ClientOf(c.Store()) == nil {
					t.Fatal("ClientOf = nil in redis mode")
				}
			} else if redisstore.ClientOf(c.Store()) != nil {
				t.Fatal("ClientOf != nil outside redis mode")
			}
		})
	}
}
