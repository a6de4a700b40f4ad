package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// encodeFailure answers a value that json.Marshal refused: a programming
// error, reported as a 500 rather than as a 200 with a truncated body.
const encodeFailure = `{"detail":"internal error: the response could not be encoded as JSON"}`

// writeJSON is the one place the API writes a JSON response: v encoded
// before anything is sent, a trailing newline, Content-Type,
// Content-Length, and nosniff so that a browser never renders a detail
// that echoes input as HTML. A failure to write to a client that went
// away is not reported: once the status line is sent there is no better
// answer to give.
func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		code, body = http.StatusInternalServerError, []byte(encodeFailure)
	}
	body = append(body, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// writeDetail writes FastAPI's error document, {"detail": detail}; detail
// is a string or, for a validation error, the list of fields. It is shown
// to the client as it is, so it must not contain secrets.
func writeDetail(w http.ResponseWriter, code int, detail any) {
	writeJSON(w, code, struct {
		Detail any `json:"detail"`
	}{detail})
}
