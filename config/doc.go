// Package config reads larder's settings from the environment and an
// optional .env file, validates them, and builds the Cache they describe.
//
// The variables keep the names and meaning of the FastAPI guide larder
// succeeds (DEBUG, REDIS_HOST, REDIS_PORT, REDIS_DB, REDIS_PASSWORD,
// REDIS_MAX_CONNECTIONS) and add larder's own (CACHE_MODE, CACHE_NAMESPACE,
// CACHE_TIMEOUT, …); the README's configuration table lists them all. The
// real environment wins over .env. Secrets never appear in String, in
// LogValue or in error messages.
package config
