// Package memstore is the in-process driver.Store: a bounded, concurrent
// map from keys to byte values with a TTL per entry, built on otter's
// W-TinyLFU cache.
//
// The store is bounded in bytes, not entries, because cached values vary
// from a few bytes to megabytes and a count limit would either waste memory
// or run out of it. Each entry weighs its key, its value and EntryOverhead;
// when the total passes Options.MaxBytes, otter evicts the entries least
// likely to be used again. Eviction is asynchronous, so the total may pass
// the bound briefly.
//
// A Store implements driver.Store and the optional driver.ConditionalStore,
// driver.BatchStore, driver.KeyCounter, driver.InProcessStore and
// driver.ModeReporter. It does not implement driver.InvalidationSource:
// nothing outside the process can change it.
//
// Clear and Count match keys with Redis's glob semantics (see
// internal/glob), so that an application behaves the same on memstore as
// on Redis.
//
// All methods of a Store are safe for concurrent use.
package memstore
