// Package cached puts a larder.Cache in front of a user.Service:
// cache-aside reads, write-through updates and invalidation on delete, in
// one layer, so that handlers know nothing of caching.
//
// Keys (inside the cache's namespace):
//
//	user:{id}                  a User (also serves the profile endpoints)
//	users:list:{page}:{size}   a Page of the list, tagged "users:list"
//	stats:dashboard            the Dashboard, tagged "dashboard"
//
// Reads go through larder.Fetch: single-flight and leases, so a burst of
// misses costs one query and a fill that raced with a write is dropped;
// "not found" is cached briefly. Updates are written through with the row's
// version, which the database assigns in commit order, and fills carry the
// same version, so the cache never goes backwards. Every write
// invalidates the lists and the dashboard by tag: one store write, however
// many pages are cached, and no SCAN of the keyspace.
package cached
