// Package driver defines what a store behind a larder Cache implements, as
// database/sql/driver does for database/sql: the small [Store] interface,
// the optional interfaces a Cache detects by type assertion (each says what
// the Cache does when a store lacks it), the [Item] of batch writes, the
// [Mode] a store reports, the [Clock] a Cache and a store share, and the
// errors of the contract.
//
// Applications do not call these methods; they hand a Store (memstore,
// redisstore, or their own) to larder.New and use the Cache. A new store
// is checked against the whole contract by cachetest.Run.
package driver
