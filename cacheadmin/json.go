package cacheadmin

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// errorBody is the FastAPI-style error document.
type errorBody struct {
	Detail string `json:"detail"`
}

// writeJSON writes v as a JSON response with the given status code. It
// encodes v before writing anything, so that a value that cannot be encoded
// becomes a 500 with a JSON detail rather than a 200 with a truncated body.
// Such a value is a programming error; a failure to write to the client
// (it went away) is not reported, because once the status line is sent a
// handler has no better answer to give. writeJSON sets Content-Type and
// Content-Length and leaves every other header, such as Cache-Control, to
// the caller. It is safe for concurrent use on distinct ResponseWriters.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		// A constant document cannot fail to encode, so there is no
		// recursion here.
		body = []byte(`{"detail":"internal error: the response could not be encoded as JSON"}`)
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	// The body is JSON whatever the client guesses; this keeps a browser
	// from sniffing an error detail that echoes input into HTML.
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError writes the error document {"detail": detail} with the given
// status code, through writeJSON. The detail is shown to the client as it
// is, so it must not contain secrets. It is safe for concurrent use on
// distinct ResponseWriters.
func writeError(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, errorBody{Detail: detail})
}

// noStore marks a response as not to be kept by browsers or proxies: the
// cache's state changes from one request to the next, and a health answer
// served from an intermediate cache would hide an outage.
func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
}

// allowMethods answers 405 and reports false unless r uses one of methods.
// The mux normally rejects other methods already when the service mounts
// the handler with a method pattern; this keeps a handler mounted without
// one (mux.Handle("/admin/cache/clear", …)) from clearing on a GET.
func allowMethods(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	allow := methods[0]
	for _, m := range methods[1:] {
		allow += ", " + m
	}
	w.Header().Set("Allow", allow)
	writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; use "+allow)
	return false
}
