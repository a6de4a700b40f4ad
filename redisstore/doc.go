// Package redisstore is the Redis (and Valkey) back end of larder: a
// driver.Store over github.com/redis/rueidis, for standalone servers,
// Sentinel-managed masters and Clusters (detected automatically), with TLS
// and ACL users.
//
// Besides the Store contract it implements driver.ConditionalStore (SET NX
// and two Lua scripts for compare-and-swap and compare-and-delete),
// driver.BatchStore (MGET, or pipelined GETs on a Cluster, and pipelined
// SETs), driver.KeyCounter, driver.Infoer and driver.InvalidationSource.
//
// # Invalidations
//
// A Cache over the store registers its namespace with Store.Track when it
// is created, and the store then turns on RESP3 client tracking in
// broadcasting mode for that prefix on every connection;
// Options.TrackingPrefixes does so from the first connection. The store's
// OnInvalidate reports each key under the tracked prefixes that changes in
// Redis, whoever changed it, so that the Cache can keep an local tier
// coherent across processes. Whenever changes may have been missed (a
// connection closed, the server was flushed, tracking was widened) it
// reports nil keys, meaning "drop everything". Servers that cannot track
// (RESP2 only, CLIENT TRACKING refused by an ACL or a managed service) are
// used without it; Track then returns an error and Store.Tracking reports
// false.
//
// # Failing open
//
// A cache must never be the reason a service is down, so the store is
// built to fail quickly and recover by itself:
//
//   - New does not fail when Redis is unreachable. It logs a warning,
//     returns a store whose calls fail at once with driver.ErrUnavailable,
//     and connects in the background; configuration errors (a bad URL, a
//     wrong password, an untrusted certificate) are still returned.
//   - Every call returns by its context's deadline, even when the server is
//     hung (stopped, or its network black-holed), which rueidis alone does
//     not guarantee under load. Errors caused by an unreachable server wrap
//     driver.ErrUnavailable; those caused by the context wrap its error.
//   - Once connected, rueidis reconnects by itself after the server
//     restarts; a failed command is retried once at once, never with a
//     delay, so a dead server costs a call almost nothing.
//
// # Keys and patterns
//
// Keys and values are used exactly as given, as binary-safe strings. Clear
// and Count take Redis glob patterns and walk the keyspace with SCAN (on
// every master of a Cluster); KEYS, FLUSHDB and FLUSHALL are never sent.
package redisstore
