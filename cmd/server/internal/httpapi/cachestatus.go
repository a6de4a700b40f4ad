package httpapi

import (
	"net/http"

	"github.com/larderhq/larder/cmd/server/internal/cached"
)

// cacheStatus formats l as an RFC 9211 Cache-Status value, or "" when no
// cached read happened. The syntax lives here, not in package cached,
// because it is a detail of HTTP that the caching layer need not know.
func cacheStatus(l *cached.Lookup) string {
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

// track starts recording the cache's answer for r and returns a function
// that writes it as the Cache-Status header; call it before writing the
// body.
func track(r *http.Request) (*http.Request, func(http.ResponseWriter)) {
	ctx, l := cached.Track(r.Context())
	return r.WithContext(ctx), func(w http.ResponseWriter) {
		if v := cacheStatus(l); v != "" {
			w.Header().Set("Cache-Status", v)
		}
	}
}
