// Package redistest starts throwaway redis-server processes for tests.
//
// Every server it starts listens on a free port of 127.0.0.1 (never on the
// shared 6379), persists nothing (--save "" --appendonly no), keeps its
// files in a temporary directory, and is killed when the test that started
// it ends. Tests can kill, restart, pause and resume a server to exercise
// the failure paths of a Redis client against a real process rather than a
// fake.
//
// Start gives a test its own process. Shared gives the tests of a package
// one process between them, started lazily and stopped by Main (or Wrap)
// from the package's TestMain; each such test takes a fresh logical database
// with Server.FreshDB so that tests never see each other's keys.
//
// When no redis-server binary can be found, Start skips the test, or fails
// it when the environment variable CI is "true", so that a CI machine
// without Redis cannot pass by skipping everything.
//
// This package is for tests only and is internal to the module.
package redistest
