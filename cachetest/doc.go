// Package cachetest checks that a driver.Store honours the contract written
// in the driver.Store documentation, so that every store (memstore,
// redisstore, or one written by a user of larder) is held to the same rules.
//
// A store's own tests call Run:
//
//	func TestContract(t *testing.T) {
//		cachetest.Run(t, func(t *testing.T) driver.Store {
//			s, err := mystore.New(...)
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// The checks are also available one by one from Checks, as plain functions
// that return an error instead of failing a test, so that other packages
// (and cachetest's own tests, which run them against deliberately broken
// stores) can call them directly.
//
// Every check confines itself to keys that start with the prefix it is
// given, and builds every Clear and Count pattern from that prefix, escaped,
// so the suite can run against a Redis server shared with other tests. The
// checks assume that the store has room for what they write (at most a few
// tens of MiB at once) and evicts none of it while they run.
//
// Checks of the optional interfaces (driver.ConditionalStore,
// driver.BatchStore, driver.KeyCounter) return a *NotImplementedError for a
// store that lacks the interface, which Run reports as a skipped test.
//
// The package also holds a kit for testing code built on a Cache or on a
// store: Clock, a driver.Clock that moves only when the test moves it;
// MapStore, a map-backed store that expires entries by such a clock and
// passes Run; and Faults, which wraps any store (a MapStore included) to
// inject errors, latency and timeouts whose command still runs later.
package cachetest
