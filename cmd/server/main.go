// Command server is larder's reference service: users, profiles, paged
// lists and a dashboard read from a SQL database, with larder in front
// (cache-aside reads, versioned write-through, invalidation by tag), and
// the cache's health, statistics and admin endpoints. It runs on embedded
// defaults (SQLite and an in-process cache) with no setup; see the README
// for its settings, and docs/from-fastapi.md for how it maps a FastAPI
// service that caches in Redis.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/larderhq/larder/cmd/server/internal/server"
	"github.com/larderhq/larder/config"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

func run() error {
	vars, err := config.Environ(os.Environ(), ".env")
	if err != nil {
		return err
	}
	s, err := server.LoadSettings(vars)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return server.Run(ctx, s, os.Stderr, server.Hooks{})
}
