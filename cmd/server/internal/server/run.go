package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/cmd/server/internal/cached"
	"github.com/larderhq/larder/cmd/server/internal/httpapi"
	"github.com/larderhq/larder/cmd/server/internal/user"
	"github.com/larderhq/larder/cmd/server/internal/userdb"
	"github.com/larderhq/larder/prommetrics"
)

// Hooks lets a caller (main, or a test) observe the lifecycle.
type Hooks struct {
	// Ready is called with the listening address once the service accepts
	// requests.
	Ready func(addr string)
	// Cache is called with the cache once it is open, for tests that need
	// to inspect it.
	Cache func(*larder.Cache)
	// WrapDB, when set, wraps the database's user.Service before the cache
	// goes in front of it, for tests that slow or break the database.
	WrapDB func(user.Service) user.Service
}

// Run runs the service with settings s until ctx is done, then shuts down
// gracefully: stop accepting, drain in-flight requests for at most
// s.ShutdownTimeout, close the cache and the database. Logs go to logOut.
func Run(ctx context.Context, s Settings, logOut io.Writer, hooks Hooks) error {
	log, err := newLogger(s, logOut)
	if err != nil {
		return err
	}
	log.Info("starting", "cache", s.Config, "database", s.redactedDB(), "addr", s.HTTPAddr)

	db, err := userdb.Open(ctx, s.DatabaseURL, userdb.Options{SQLitePath: s.SQLitePath, Logger: log})
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer closeLogged(log, "database", db)
	if err := db.Seed(ctx, s.SeedUsers, time.Now()); err != nil {
		return fmt.Errorf("seed database: %w", err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	rec, err := prommetrics.NewRecorder(reg, prommetrics.Options{})
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	cache, err := s.Open(log, larder.Options{Recorder: rec})
	if err != nil {
		return fmt.Errorf("open cache: %w", err)
	}
	defer closeLogged(log, "cache", cache)
	if err := reg.Register(prommetrics.NewCollector(cache)); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if hooks.Cache != nil {
		hooks.Cache(cache)
	}
	cacheUp := true
	if err := cache.Ping(ctx); err != nil {
		cacheUp = false
		log.Warn("cache unreachable at start-up; serving from the database until it answers", "mode", cache.Mode(), "err", err)
	}

	var origin user.Service = db
	if hooks.WrapDB != nil {
		origin = hooks.WrapDB(origin)
	}
	users := cached.New(origin, cache, cached.Options{Logger: log})
	var warming sync.WaitGroup
	defer warming.Wait() // before the cache closes (deferred above)
	wctx, stopWarming := context.WithCancel(ctx)
	defer stopWarming()
	switch {
	case !s.CacheWarm:
	case !cacheUp:
		// Warm once the store first answers, not never: a Redis that
		// comes up after the service would otherwise stay cold.
		log.Warn("cache unreachable: warming waits until it answers")
		warming.Go(func() { warmWhenReachable(wctx, log, cache, users, s) })
	default:
		warm(ctx, log, users, s)
	}

	metrics, err := httpapi.NewMetrics(reg)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	api := httpapi.New(httpapi.Options{
		Users: users, Cache: cache, DB: db, AdminToken: s.AdminToken, Metrics: metrics, Logger: log,
	})
	if s.AdminToken == "" {
		log.Info("admin endpoints disabled; set ADMIN_TOKEN to enable them")
	}
	return serve(ctx, log, s, api, hooks.Ready)
}

func serve(ctx context.Context, log *slog.Logger, s Settings, h http.Handler, ready func(string)) error {
	ln, err := net.Listen("tcp", s.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on HTTP_ADDR %s: %w", s.HTTPAddr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String(), "docs", "http://"+ln.Addr().String()+"/docs")
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests", "timeout", s.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), s.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("drain: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("drained")
	return nil
}

// warmWhenReachable pings the cache with backoff and warms it once it
// answers; it gives up when ctx ends (shutdown).
func warmWhenReachable(ctx context.Context, log *slog.Logger, cache *larder.Cache, users *cached.Service, s Settings) {
	wait := 100 * time.Millisecond
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if err := cache.Ping(ctx); err == nil {
			log.Info("cache answers: warming it now")
			warm(ctx, log, users, s)
			return
		}
		wait = min(2*wait, 5*time.Second)
	}
}

func warm(ctx context.Context, log *slog.Logger, users *cached.Service, s Settings) {
	start := time.Now()
	step := max(1, s.WarmUsers/4)
	n, err := users.Warm(ctx, s.WarmUsers, s.WarmConcurrency, func(done, total int) {
		if done%step == 0 || done == total {
			log.Info("warming cache", "done", done, "total", total)
		}
	})
	if err != nil {
		log.Warn("cache warming stopped", "err", err, "users", n)
		return
	}
	log.Info("cache warmed", "users", n, "took", time.Since(start).Round(time.Millisecond))
}

func newLogger(s Settings, out io.Writer) (*slog.Logger, error) {
	level, err := s.level()
	if err != nil {
		return nil, err
	}
	opts := &slog.HandlerOptions{Level: level}
	if s.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(out, opts)), nil
	}
	return slog.New(slog.NewTextHandler(out, opts)), nil
}

func closeLogged(log *slog.Logger, what string, c io.Closer) {
	if err := c.Close(); err != nil {
		log.Warn("close "+what, "err", err)
		return
	}
	log.Info("closed " + what)
}
