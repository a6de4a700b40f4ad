// Command server is larder's reference service: the FastAPI Redis-cache
// guide's application in Go. It runs on embedded defaults (SQLite and an
// in-process cache) with no setup; see the README for its settings.
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
