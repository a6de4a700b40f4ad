// Package config reads larder's settings from the environment and an
// optional .env file, validates them, and builds the Cache they describe.
//
// DEBUG turns the cache off for development; REDIS_HOST, REDIS_PORT,
// REDIS_DB, REDIS_PASSWORD and REDIS_MAX_CONNECTIONS (or one REDIS_URL)
// locate Redis, under the names services written in other languages
// commonly use, so that a service moved to Go keeps its .env
// (docs/from-fastapi.md maps one such service). larder's own variables
// (CACHE_MODE, CACHE_NAMESPACE, CACHE_TIMEOUT, …) tune the rest; [Config]
// has one field per variable, and the README's configuration table lists
// them all. The real environment wins over .env. Secrets never appear in
// String, in LogValue or in error messages.
package config
