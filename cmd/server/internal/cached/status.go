package cached

import "context"

// Lookup records how the cache answered a request, so that a handler can
// report it in a Cache-Status header (RFC 9211). A Lookup belongs to one
// request and is not safe for concurrent use.
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

// Header formats the Lookup as an RFC 9211 Cache-Status value, or "" when no
// cached read happened.
func (l *Lookup) Header() string {
	switch {
	case !l.Used:
		return ""
	case l.Bypass:
		return "larder; fwd=bypass"
	case l.Hit:
		return "larder; hit"
	case l.Stored:
		return "larder; fwd=miss; stored"
	}
	return "larder; fwd=miss"
}

func note(ctx context.Context, hit, stored, bypass bool) {
	if l, ok := ctx.Value(lookupKey{}).(*Lookup); ok {
		l.Used, l.Hit, l.Stored, l.Bypass = true, hit, stored, bypass
	}
}
