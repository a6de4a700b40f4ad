// Package larder is production caching for Go HTTP services: Redis or
// Valkey when a service runs on several machines, an in-process store when
// it runs on one, and nothing at all when a developer debugs.
//
// A Cache is built once, in main, from Options (or from the environment with
// package config) and passed to what needs it:
//
//	store, err := memstore.New(memstore.Options{MaxBytes: 64 << 20})
//	…
//	c, err := larder.New(larder.Options{Store: store, Namespace: "myapp"})
//	…
//	defer c.Close()
//
//	var u User
//	if ok, _ := c.Get(ctx, "user:42", &u); !ok {
//		u = loadUser(ctx, 42)
//		_ = c.Set(ctx, "user:42", u, time.Hour)
//	}
//
// The Cache owns the logic — namespacing, encoding, time budgets, the
// circuit breaker, the local tier, single-flight fills, statistics — and a
// store (package memstore, package redisstore, or your own) only moves
// bytes. This is the split of database/sql and database/sql/driver: the
// contract a store implements, [driver.Store] and its optional interfaces,
// lives in package [github.com/larderhq/larder/driver]; what a metrics
// exporter receives, [telemetry.Event] through a [telemetry.Recorder],
// lives in package [github.com/larderhq/larder/telemetry]. This package
// holds what an application calls.
//
// A cache must never take a service down. Every read and write fails open:
// when the store errs, exceeds Options.Timeout (50 ms by default) or has
// tripped the circuit breaker, reads miss and writes are dropped, the
// failure is counted and logged at a bounded rate, and the caller carries on
// against its database. The breaker probes a dead store in the background
// and the cache resumes by itself when it answers again.
//
// Every key lives under a namespace ("larder:" by default), so applications
// and versions can share one Redis; Clear removes keys by glob pattern
// within the namespace, with SCAN and UNLINK on Redis, never KEYS or FLUSH*.
package larder
