package redistest

import "go.uber.org/goleak"

// LeakOptions returns the goleak options every package testing against
// Redis needs: they exempt two rueidis goroutines that outlive Close and
// that nothing outside rueidis can stop. Both end by themselves within
// seconds:
//
//   - (*call).DelayDo.func1: after a refused connection, rueidis schedules
//     one delayed topology refresh (about a second).
//   - (*clusterClient)._refresh.func2: on a Cluster, connections dropped
//     from the topology are closed 5 s later.
func LeakOptions() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*call).DelayDo.func1"),
		goleak.IgnoreAnyFunction("github.com/redis/rueidis.(*clusterClient)._refresh.func2"),
	}
}
