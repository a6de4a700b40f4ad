// Package storetest opens the real stores that the repository's tests run
// against: a memstore, or a redisstore on a throwaway redis-server from
// package redistest. Each store it opens is closed when the test that
// opened it ends, so that a test need not remember to, and a test that
// hands the store to a Cache which closes it loses nothing: the second
// Close is refused harmlessly.
//
// A package whose tests open redis stores calls redistest.Main (or Wrap)
// from its TestMain, as for redistest.Shared, which Redis and Open use.
//
// Fake stores and clocks for tests are in package cachetest (MapStore,
// Clock); this package is for tests that must meet the real ones.
//
// This package is for tests only and is internal to the repository.
package storetest
