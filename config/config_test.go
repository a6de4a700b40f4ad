package config_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/config"
	"github.com/larderhq/larder/driver"
)

func parse(t *testing.T, vars map[string]string) (config.Config, error) {
	t.Helper()
	var c config.Config
	if err := config.Parse(&c, vars); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func TestDefaults(t *testing.T) {
	c, err := parse(t, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if c.CacheMode() != driver.ModeMemory || c.Namespace != "larder" || c.Timeout != 50*time.Millisecond ||
		c.DefaultTTL != time.Hour || c.MemoryMaxBytes != 256<<20 || c.RedisPort != 6379 || c.RedisMaxConnections != 10 {
		t.Fatalf("defaults = %#v", c)
	}
}

func TestModeSelection(t *testing.T) {
	for _, tc := range []struct {
		name string
		vars map[string]string
		want driver.Mode
	}{
		{"nothing set", map[string]string{}, driver.ModeMemory},
		{"DEBUG=True as in the guide", map[string]string{"DEBUG": "True"}, driver.ModeOff},
		{"DEBUG=False", map[string]string{"DEBUG": "False"}, driver.ModeMemory},
		{"REDIS_HOST", map[string]string{"REDIS_HOST": "redis"}, driver.ModeRedis},
		{"REDIS_URL", map[string]string{"REDIS_URL": "redis://localhost:6379/0"}, driver.ModeRedis},
		{"DEBUG beats REDIS_HOST", map[string]string{"DEBUG": "true", "REDIS_HOST": "redis"}, driver.ModeOff},
		{"CACHE_MODE beats DEBUG", map[string]string{"DEBUG": "true", "CACHE_MODE": "memory"}, driver.ModeMemory},
		{"CACHE_MODE=off", map[string]string{"CACHE_MODE": "OFF", "REDIS_HOST": "redis"}, driver.ModeOff},
		{"CACHE_MODE=redis alone", map[string]string{"CACHE_MODE": "redis"}, driver.ModeRedis},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse(t, tc.vars)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.CacheMode(); got != tc.want {
				t.Fatalf("mode = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBadValuesNameTheVariable(t *testing.T) {
	for _, tc := range []struct {
		name, value string
	}{
		{"DEBUG", "maybe"},
		{"CACHE_MODE", "disk"},
		{"CACHE_TIMEOUT", "fast"},
		{"CACHE_TIMEOUT", "0s"},
		{"CACHE_DEFAULT_TTL", "-1h"},
		{"CACHE_MEMORY_MAX_BYTES", "lots"},
		{"CACHE_MEMORY_MAX_BYTES", "1KiB"},
		{"CACHE_NAMESPACE", "two words"},
		{"REDIS_PORT", "http"},
		{"REDIS_PORT", "70000"},
		{"REDIS_DB", "-1"},
		{"REDIS_MAX_CONNECTIONS", "0"},
		{"REDIS_URL", "http://localhost:6379"},
		{"REDIS_URL", "redis://:s3cret@localhost:6379/notanumber"},
		{"REDIS_HOST", "redis://localhost"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			_, err := parse(t, map[string]string{tc.name: tc.value})
			if !errors.Is(err, larder.ErrInvalidOptions) {
				t.Fatalf("err = %v, want ErrInvalidOptions", err)
			}
			if !strings.Contains(err.Error(), tc.name) {
				t.Fatalf("error %q does not name %s", err, tc.name)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("error %q leaks the password", err)
			}
		})
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	for _, vars := range []map[string]string{
		{"REDIS_URL": "rediss://app:s3cret@cache.example:6380/2"},
		{"REDIS_HOST": "cache.example", "REDIS_PASSWORD": "s3cret", "REDIS_USERNAME": "app"},
	} {
		c, err := parse(t, vars)
		if err != nil {
			t.Fatal(err)
		}
		var logged bytes.Buffer
		slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", c)
		for _, out := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), logged.String()} {
			if strings.Contains(out, "s3cret") {
				t.Fatalf("password printed: %s", out)
			}
			if !strings.Contains(out, "cache.example") {
				t.Fatalf("output lost the host: %s", out)
			}
		}
	}
}

func TestEnvFileAndEnvironmentWins(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, ".env")
	body := "DEBUG=False\nREDIS_HOST=from-file\nREDIS_PORT=6390\n# comment\nCACHE_NAMESPACE=filens\n"
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	vars, err := config.Environ([]string{"REDIS_HOST=from-env", "UNRELATED=x=y"}, file)
	if err != nil {
		t.Fatal(err)
	}
	c, err := parse(t, vars)
	if err != nil {
		t.Fatal(err)
	}
	if c.RedisHost != "from-env" || c.RedisPort != 6390 || c.Namespace != "filens" || vars["UNRELATED"] != "x=y" {
		t.Fatalf("merged config = %#v (host %q, port %d)", c, c.RedisHost, c.RedisPort)
	}
	if _, err := config.Environ(nil, filepath.Join(dir, "missing.env")); err != nil {
		t.Fatalf("a missing .env must be fine: %v", err)
	}
}

func TestByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want config.ByteSize
		ok   bool
	}{
		{"1048576", 1 << 20, true},
		{"256MiB", 256 << 20, true},
		{"64 kib", 64 << 10, true},
		{"1GB", 1e9, true},
		{"2g", 2 << 30, true},
		{"10B", 10, true},
		{"", 0, false},
		{"-5MiB", 0, false},
		{"1.5GiB", 0, false},
		{"9999999999999GiB", 0, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			var b config.ByteSize
			err := b.UnmarshalText([]byte(tc.in))
			if (err == nil) != tc.ok || (tc.ok && b != tc.want) {
				t.Fatalf("UnmarshalText(%q) = %v, %v; want %v, ok=%v", tc.in, b, err, tc.want, tc.ok)
			}
		})
	}
	if s := config.ByteSize(256 << 20).String(); s != "256MiB" {
		t.Fatalf("String = %q", s)
	}
}
