// Package bench measures larder side by side with its peers (go-redis,
// rueidis) in the same run, so that every figure is a ratio against a
// baseline measured on the same machine at the same time. It is a module of
// its own so that the library does not depend on the peers.
//
//	cd bench && go test -run '^$' -bench . -benchmem
//
// Command staleread (cmd/staleread) checks the reference service from
// outside for stale reads while Redis stalls or the machine is loaded.
package bench
