package cacheadmin

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// RequireToken returns middleware that lets a request through only when it
// carries the header
//
//	Authorization: Bearer <token>
//
// with the given token. A request without the header, with another scheme
// or with another token is answered 401, with "WWW-Authenticate: Bearer"
// and a JSON detail, and never reaches next. The scheme is matched without
// regard to case, as HTTP requires.
//
// An empty token means the admin endpoints are disabled: every request is
// answered 403 with a detail saying to set ADMIN_TOKEN, whatever it
// carries, so that a service deployed without a token is closed rather
// than open. Use a long random token (32 bytes from crypto/rand, encoded)
// and serve it over TLS only: a bearer token is a password sent with every
// request.
//
// The comparison takes the same time whatever the token sent: both tokens
// are hashed with SHA-256 and the digests compared with
// crypto/subtle.ConstantTimeCompare, so that neither the position of the
// first differing byte nor the token's length shows in the response time.
// The middleware is safe for concurrent use.
func RequireToken(token string) func(http.Handler) http.Handler {
	if token == "" {
		return func(http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				noStore(w)
				writeError(w, http.StatusForbidden, "admin endpoints are disabled: set ADMIN_TOKEN to enable admin endpoints")
			})
		}
	}
	// Hashing the expected token once keeps the per-request work to one
	// hash of what the client sent.
	want := sha256.Sum256([]byte(token))
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, ok := bearerToken(r)
			if !ok {
				unauthorized(w, "missing bearer token: send the header \"Authorization: Bearer TOKEN\"")
				return
			}
			sum := sha256.Sum256([]byte(got))
			if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
				unauthorized(w, "invalid bearer token")
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// bearerToken returns the token of a request's "Authorization: Bearer"
// header, and false when there is no such header or it is empty.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	// RFC 7235 allows more than one space after the scheme.
	token = strings.TrimLeft(token, " ")
	return token, token != ""
}

// unauthorized answers 401 with the challenge RFC 6750 asks for.
func unauthorized(w http.ResponseWriter, detail string) {
	noStore(w)
	w.Header().Set("WWW-Authenticate", "Bearer")
	writeError(w, http.StatusUnauthorized, detail)
}
