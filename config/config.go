package config

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/driver"
)

// Config is larder's cache configuration, one field per environment
// variable. Load fills it; the zero value is not meaningful (defaults come
// from the envDefault tags through Load or Parse). A Config is a plain value,
// safe to copy and to read from several goroutines.
type Config struct {
	// Debug is the development switch: true turns the cache off (every
	// read misses, every write is dropped, loaders run directly) unless
	// CACHE_MODE says otherwise, so that a developer needs no Redis.
	Debug bool `env:"DEBUG"`
	// Mode forces a mode: off, memory or redis. Empty means: off when
	// DEBUG is true, redis when REDIS_URL or REDIS_HOST is set, memory
	// otherwise.
	Mode string `env:"CACHE_MODE"`
	// Namespace prefixes every key.
	Namespace string `env:"CACHE_NAMESPACE" envDefault:"larder"`
	// DefaultTTL applies to writes that give no TTL.
	DefaultTTL time.Duration `env:"CACHE_DEFAULT_TTL" envDefault:"1h"`
	// Timeout is the budget of one store call before the cache fails open.
	Timeout time.Duration `env:"CACHE_TIMEOUT" envDefault:"50ms"`
	// MemoryMaxBytes bounds the in-process store of memory mode.
	MemoryMaxBytes ByteSize `env:"CACHE_MEMORY_MAX_BYTES" envDefault:"256MiB"`
	// LocalMaxBytes bounds the local tier of decoded values in front
	// of Redis (redis mode); 0 turns the tier off.
	LocalMaxBytes ByteSize `env:"CACHE_LOCAL_MAX_BYTES" envDefault:"64MiB"`

	// RedisURL is redis://[user:password@]host:port/db, rediss:// for TLS.
	// It wins over the REDIS_HOST family.
	RedisURL string `env:"REDIS_URL"`
	// RedisHost, RedisPort, RedisDB, RedisUsername and RedisPassword
	// locate Redis piece by piece, for deployments that pass the host and
	// the password separately (a compose file, a secret store) rather than
	// as one URL. Setting RedisHost selects redis mode.
	RedisHost     string `env:"REDIS_HOST"`
	RedisPort     int    `env:"REDIS_PORT" envDefault:"6379"`
	RedisDB       int    `env:"REDIS_DB" envDefault:"0"`
	RedisUsername string `env:"REDIS_USERNAME"`
	RedisPassword string `env:"REDIS_PASSWORD"`
	// RedisTLS turns on TLS for the REDIS_HOST family (REDIS_URL says it
	// with rediss://).
	RedisTLS bool `env:"REDIS_TLS"`
	// RedisMaxConnections bounds the connections to each Redis node; see
	// [redisstore.Options.MaxConnections] for how it maps onto rueidis,
	// which pipelines commands over a few connections instead of keeping
	// one per request.
	RedisMaxConnections int `env:"REDIS_MAX_CONNECTIONS" envDefault:"10"`
}

// CacheMode returns the mode these settings select.
func (c Config) CacheMode() driver.Mode {
	switch {
	case c.Mode != "":
		return driver.Mode(strings.ToLower(c.Mode))
	case c.Debug:
		return driver.ModeOff
	case c.RedisURL != "" || c.RedisHost != "":
		return driver.ModeRedis
	}
	return driver.ModeMemory
}

// Validate checks every setting and returns an error naming the variable of
// the first bad one, wrapping larder.ErrInvalidOptions.
func (c Config) Validate() error {
	bad := func(name, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", larder.ErrInvalidOptions, name, fmt.Sprintf(format, args...))
	}
	switch m := c.CacheMode(); m {
	case driver.ModeOff, driver.ModeMemory, driver.ModeRedis:
	default:
		return bad("CACHE_MODE", "%q is not one of off, memory, redis", c.Mode)
	}
	switch {
	case c.Namespace == "" || strings.ContainsAny(c.Namespace, " \t\r\n"):
		return bad("CACHE_NAMESPACE", "%q must be non-empty and without white space", c.Namespace)
	case c.DefaultTTL <= 0:
		return bad("CACHE_DEFAULT_TTL", "%v must be positive", c.DefaultTTL)
	case c.Timeout <= 0:
		return bad("CACHE_TIMEOUT", "%v must be positive", c.Timeout)
	case c.MemoryMaxBytes < 1<<20:
		return bad("CACHE_MEMORY_MAX_BYTES", "%v is below the 1MiB minimum", c.MemoryMaxBytes)
	case c.LocalMaxBytes < 0:
		return bad("CACHE_LOCAL_MAX_BYTES", "%v is negative", c.LocalMaxBytes)
	case c.RedisPort < 1 || c.RedisPort > 65535:
		return bad("REDIS_PORT", "%d is not a TCP port", c.RedisPort)
	case c.RedisDB < 0:
		return bad("REDIS_DB", "%d is negative", c.RedisDB)
	case c.RedisMaxConnections < 1:
		return bad("REDIS_MAX_CONNECTIONS", "%d must be at least 1", c.RedisMaxConnections)
	case strings.ContainsAny(c.RedisHost, "/@ "):
		return bad("REDIS_HOST", "%q must be a host name or address (use REDIS_URL for URLs)", c.RedisHost)
	}
	if c.RedisURL != "" {
		u, err := url.Parse(c.RedisURL)
		if err != nil {
			// url's own message repeats the input, which may hold a password.
			return bad("REDIS_URL", "not a URL")
		}
		switch u.Scheme {
		case "redis", "rediss", "unix":
		default:
			return bad("REDIS_URL", "scheme %q must be redis, rediss or unix", u.Scheme)
		}
		if u.Scheme != "unix" && u.Host == "" {
			return bad("REDIS_URL", "%s has no host", u.Redacted())
		}
		if db := strings.Trim(u.Path, "/"); u.Scheme != "unix" && db != "" {
			if n, err := strconv.Atoi(db); err != nil || n < 0 {
				return bad("REDIS_URL", "database %q in %s is not a number", db, u.Redacted())
			}
		}
	}
	return nil
}

// RedisAddr returns host:port for the REDIS_HOST family.
func (c Config) RedisAddr() string {
	host := c.RedisHost
	if host == "" {
		host = "localhost"
	}
	return net.JoinHostPort(host, strconv.Itoa(c.RedisPort))
}

// redactedURL returns RedisURL with its password replaced.
func (c Config) redactedURL() string {
	if c.RedisURL == "" {
		return ""
	}
	u, err := url.Parse(c.RedisURL)
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}

// String describes the configuration without secrets.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mode=%s namespace=%s default_ttl=%v timeout=%v", c.CacheMode(), c.Namespace, c.DefaultTTL, c.Timeout)
	switch c.CacheMode() {
	case driver.ModeMemory:
		fmt.Fprintf(&b, " memory_max_bytes=%v", c.MemoryMaxBytes)
	case driver.ModeRedis:
		if c.RedisURL != "" {
			fmt.Fprintf(&b, " redis_url=%s", c.redactedURL())
		} else {
			fmt.Fprintf(&b, " redis_addr=%s redis_db=%d redis_tls=%v", c.RedisAddr(), c.RedisDB, c.RedisTLS)
			if c.RedisUsername != "" {
				fmt.Fprintf(&b, " redis_username=%s", c.RedisUsername)
			}
			if c.RedisPassword != "" {
				b.WriteString(" redis_password=xxxxx")
			}
		}
		fmt.Fprintf(&b, " redis_max_connections=%d local_max_bytes=%v", c.RedisMaxConnections, c.LocalMaxBytes)
	}
	return b.String()
}

// LogValue makes slog print the redacted String, so that logging a Config
// cannot leak a password.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// GoString keeps %#v from printing the password either.
func (c Config) GoString() string { return "config.Config{" + c.String() + "}" }
