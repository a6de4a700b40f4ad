package cached

import "context"

// Lookup records how the cache answered a request, so that the layer above
// can report it to the client in whatever form its protocol uses. A Lookup
// belongs to one request and is not safe for concurrent use.
type Lookup struct {
	// Hit is true when the answer came from the cache.
	Hit bool
	// Stored is true when a miss was filled into the cache.
	Stored bool
	// Bypass is true when the cache is off.
	Bypass bool
	// Used is true once a cached read happened at all.
	Used bool
}

type lookupKey struct{}

// Track returns a context that records the cache's answers into the
// returned Lookup.
func Track(ctx context.Context) (context.Context, *Lookup) {
	l := &Lookup{}
	return context.WithValue(ctx, lookupKey{}, l), l
}

func note(ctx context.Context, hit, stored, bypass bool) {
	if l, ok := ctx.Value(lookupKey{}).(*Lookup); ok {
		l.Used, l.Hit, l.Stored, l.Bypass = true, hit, stored, bypass
	}
}
