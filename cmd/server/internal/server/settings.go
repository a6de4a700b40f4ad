package server

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/config"
)

// Settings are the service's environment variables: the cache's (embedded
// config.Config) and the service's own.
type Settings struct {
	config.Config

	// HTTPAddr is where the service listens.
	HTTPAddr string `env:"HTTP_ADDR" envDefault:"127.0.0.1:8000"`
	// DatabaseURL selects PostgreSQL (postgres://…); empty means SQLite at
	// SQLitePath.
	DatabaseURL string `env:"DATABASE_URL"`
	// SQLitePath is the embedded database file.
	SQLitePath string `env:"SQLITE_PATH" envDefault:"data/larder.db"`
	// SeedUsers is how many demo users an empty database receives.
	SeedUsers int `env:"SEED_USERS" envDefault:"1000"`
	// AdminToken guards the admin endpoints; empty disables them.
	AdminToken string `env:"ADMIN_TOKEN"`
	// CacheWarm turns warming at start-up on or off.
	CacheWarm bool `env:"CACHE_WARM" envDefault:"true"`
	// WarmUsers is how many of the most recent users warming loads.
	WarmUsers int `env:"CACHE_WARM_USERS" envDefault:"100"`
	// WarmConcurrency bounds warming's concurrent cache writes.
	WarmConcurrency int `env:"CACHE_WARM_CONCURRENCY" envDefault:"8"`
	// ShutdownTimeout bounds the draining of in-flight requests.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"10s"`
	// LogFormat is text or json.
	LogFormat string `env:"LOG_FORMAT" envDefault:"text"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `env:"LOG_LEVEL" envDefault:"info"`
}

// LoadSettings parses and validates the settings from vars.
func LoadSettings(vars map[string]string) (Settings, error) {
	var s Settings
	if err := config.Parse(&s, vars); err != nil {
		return s, err
	}
	return s, s.Validate()
}

// Validate checks the cache settings and the service's own, naming the
// variable of the first bad one.
func (s Settings) Validate() error {
	if err := s.Config.Validate(); err != nil {
		return err
	}
	bad := func(name, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", larder.ErrInvalidOptions, name, fmt.Sprintf(format, args...))
	}
	switch {
	case s.HTTPAddr == "":
		return bad("HTTP_ADDR", "must not be empty")
	case s.SeedUsers < 0:
		return bad("SEED_USERS", "%d is negative", s.SeedUsers)
	case s.WarmUsers < 0 || s.WarmUsers > 1000:
		return bad("CACHE_WARM_USERS", "%d must be between 0 and 1000", s.WarmUsers)
	case s.WarmConcurrency < 1:
		return bad("CACHE_WARM_CONCURRENCY", "%d must be at least 1", s.WarmConcurrency)
	case s.ShutdownTimeout <= 0:
		return bad("SHUTDOWN_TIMEOUT", "%v must be positive", s.ShutdownTimeout)
	case s.LogFormat != "text" && s.LogFormat != "json":
		return bad("LOG_FORMAT", "%q must be text or json", s.LogFormat)
	}
	if _, err := s.level(); err != nil {
		return bad("LOG_LEVEL", "%q must be debug, info, warn or error", s.LogLevel)
	}
	return nil
}

func (s Settings) level() (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(strings.ToUpper(s.LogLevel)))
	return l, err
}

// redactedDB names the database without credentials, for logs.
func (s Settings) redactedDB() string {
	if s.DatabaseURL == "" {
		return "sqlite:" + s.SQLitePath
	}
	u, err := url.Parse(s.DatabaseURL)
	if err != nil {
		return "(unparsable DATABASE_URL)"
	}
	return u.Redacted()
}
