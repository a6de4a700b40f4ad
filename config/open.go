package config

import (
	"crypto/tls"
	"fmt"
	"log/slog"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/memstore"
	"github.com/larderhq/larder/redisstore"
)

// Open builds the Cache these settings describe. In redis mode an
// unreachable server is not an error: the store logs a warning, the cache
// fails open, and it connects by itself when the server answers. logger may
// be nil; base supplies the Options that do not come from the environment
// (Clock, Recorder, Codec, breaker tuning); its Store, Namespace, DefaultTTL,
// Timeout, LocalMaxBytes and Logger are replaced.
func (c Config) Open(logger *slog.Logger, base larder.Options) (*larder.Cache, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	store, err := c.store(logger)
	if err != nil {
		return nil, err
	}
	base.Store = store
	base.Namespace = c.Namespace
	base.DefaultTTL = c.DefaultTTL
	base.Timeout = c.Timeout
	base.Logger = logger
	base.LocalMaxBytes = int64(c.LocalMaxBytes)
	if base.LocalMaxBytes == 0 {
		base.LocalMaxBytes = -1 // the variable's 0 means off; Options' 0 means default
	}
	cache, err := larder.New(base)
	if err != nil {
		if store != nil {
			_ = store.Close()
		}
		return nil, err
	}
	return cache, nil
}

func (c Config) store(logger *slog.Logger) (driver.Store, error) {
	switch c.CacheMode() {
	case driver.ModeMemory:
		s, err := memstore.New(memstore.Options{MaxBytes: int64(c.MemoryMaxBytes)})
		if err != nil {
			return nil, fmt.Errorf("memory store: %w", err)
		}
		return s, nil
	case driver.ModeRedis:
		s, err := redisstore.New(c.RedisOptions(logger))
		if err != nil {
			return nil, fmt.Errorf("redis store: %w", err)
		}
		return s, nil
	}
	return nil, nil
}

// RedisOptions translates the settings into redisstore.Options.
func (c Config) RedisOptions(logger *slog.Logger) redisstore.Options {
	o := redisstore.Options{
		MaxConnections: c.RedisMaxConnections,
		Logger:         logger,
	}
	if c.LocalMaxBytes > 0 {
		// The local tier needs to hear of every change under the
		// namespace, made by any instance or by hand. The Cache registers
		// the namespace itself (Store.Track); giving it here as well lets
		// the first connection track it, so that Track has nothing to
		// reconnect for.
		o.TrackingPrefixes = []string{c.Namespace + ":"}
	}
	if c.RedisURL != "" {
		o.URL = c.RedisURL
		return o
	}
	o.Addr = c.RedisAddr()
	o.DB = c.RedisDB
	o.Username = c.RedisUsername
	o.Password = c.RedisPassword
	if c.RedisTLS {
		o.TLS = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.RedisHost}
	}
	return o
}
