package cacheadmin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/larderhq/larder"
)

// maxClearBody bounds the Clear request body. The body holds one pattern,
// which the Cache limits to larder.MaxKeyLen bytes anyway; the bound keeps
// a client from making the server read an unbounded stream first.
const maxClearBody = 1 << 20

// clearRequest is the optional Clear request body.
type clearRequest struct {
	Pattern string `json:"pattern"`
}

// clearBody is the Clear response.
type clearBody struct {
	Deleted int `json:"deleted"`
}

// Clear returns the handler of the admin endpoint that removes cached keys.
// It answers POST only. The request body is optional:
//
//	{"pattern": "user:*"}
//
// A missing or empty body, a null body and a missing or empty pattern all
// mean "*", the whole namespace. The pattern is a Redis glob applied to the
// caller's keys and confined to the cache's namespace by c.Clear, so no
// pattern can reach another application's keys. The answer is
//
//	{"deleted": 42}
//
// with 200 (0 in off mode). Errors are {"detail": "…"} with
//
//   - 413 when the body is larger than 1 MiB;
//   - 422 when the body is not a single JSON object of the shape above
//     (malformed JSON, unknown fields, a pattern that is not a string,
//     trailing data), and when c.Clear rejects the pattern
//     (larder.ErrInvalidPattern, or larder.ErrInvalidKey for one longer than
//     larder.MaxKeyLen);
//   - 503 when the store is unavailable (larder.ErrUnavailable, the breaker
//     being open included) or the cache is closed; some keys may have been
//     removed before the failure.
//
// The clear runs under the request's context: on Redis it is SCAN and
// UNLINK in batches, and a client that gives up stops it. The handler is
// safe for concurrent use.
func Clear(c *larder.Cache) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowMethods(w, r, http.MethodPost) {
			return
		}
		noStore(w)
		req, err := decodeClear(w, r)
		if err != nil {
			status, detail := bodyError(err)
			writeError(w, status, detail)
			return
		}
		pattern := req.Pattern
		if pattern == "" {
			pattern = "*"
		}
		n, err := c.Clear(r.Context(), pattern)
		if err != nil {
			status, detail := clearStatus(err)
			writeError(w, status, detail)
			return
		}
		writeJSON(w, http.StatusOK, clearBody{Deleted: n})
	})
}

// errTrailingData reports a request body with more after its JSON value.
var errTrailingData = errors.New("request body must hold a single JSON object")

// decodeClear reads the optional request body; an empty one is a request
// with no pattern.
func decodeClear(w http.ResponseWriter, r *http.Request) (clearRequest, error) {
	var req clearRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxClearBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		if errors.Is(err, io.EOF) {
			return req, nil
		}
		return req, err
	}
	// A second value after the object is a malformed request, not something
	// to ignore: the client may believe it sent something else.
	switch err := dec.Decode(&struct{}{}); {
	case err == nil:
		return req, errTrailingData
	case !errors.Is(err, io.EOF):
		return req, err
	}
	return req, nil
}

// bodyError maps a decoding error to its status and detail.
func bodyError(err error) (int, string) {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return http.StatusRequestEntityTooLarge, "request body is larger than 1 MiB"
	}
	if errors.Is(err, errTrailingData) {
		return http.StatusUnprocessableEntity, err.Error()
	}
	const want = `request body must be a JSON object like {"pattern": "user:*"}`
	// encoding/json's type errors name this package's Go types, which mean
	// nothing to the client; say the same in the request's own terms.
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		if te.Field == "" {
			return http.StatusUnprocessableEntity, want + ", not " + te.Value
		}
		return http.StatusUnprocessableEntity, fmt.Sprintf("%s: field %q must be a string, not %s", want, te.Field, te.Value)
	}
	// The other messages name the offending field or offset and echo no
	// more of the input than a field name or a character.
	return http.StatusUnprocessableEntity, want + ": " + err.Error()
}

// clearStatus maps an error of Cache.Clear to its status and detail.
func clearStatus(err error) (int, string) {
	if errors.Is(err, larder.ErrInvalidPattern) || errors.Is(err, larder.ErrInvalidKey) {
		return http.StatusUnprocessableEntity, err.Error()
	}
	// Anything else is not the client's fault: the store is failing
	// (ErrUnavailable, the breaker included), the cache is closed
	// (ErrClosed), or the request's context ended, in which case nobody
	// reads the answer.
	return http.StatusServiceUnavailable, err.Error()
}
