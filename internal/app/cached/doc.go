// Package cached puts a larder.Cache in front of a user.Service: the
// guide's cache-aside reads, write-through updates and invalidation on
// delete, in one layer, so that handlers know nothing of caching.
//
// Keys (inside the cache's namespace):
//
//	user:{id}                       a User (also serves the profile endpoints)
//	users:list:{gen}:{page}:{size}  a Page of the list
//	users:list:gen                  the lists' generation
//	stats:dashboard                 the Dashboard
//
// Lists are invalidated by changing their generation: one write, however
// many pages are cached, and no SCAN of the keyspace on every change. The
// pages of old generations are never read again and expire by their TTL.
package cached
