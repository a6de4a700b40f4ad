package httpapi

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// TestJSONResponses pins the exact bytes and headers of the API's JSON
// answers, errors included, so that a change to how they are written
// cannot slip past the looser checks of the end-to-end tests.
func TestJSONResponses(t *testing.T) {
	a := newTestAPI(t)
	for _, tc := range []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"GET", "/nowhere", "", 404, `{"detail":"Not Found"}`},
		{"GET", v1 + "/users/999999", "", 404, `{"detail":"User not found"}`},
		{"GET", v1 + "/users/x", "", 422, `{"detail":"invalid request: user_id \"x\" must be a positive integer"}`},
		{"GET", v1 + "/users/%3Cb%3E", "", 422, `{"detail":"invalid request: user_id \"\u003cb\u003e\" must be a positive integer"}`},
		{"POST", v1 + "/users", `{"name":"","email":"a@example.com"}`, 422,
			`{"detail":[{"field":"name","message":"must not be blank"}]}`},
		{"POST", v1 + "/users", `{"name":"N","email":"a@example.com","x":1}`, 422,
			`{"detail":"invalid request: body: json: unknown field \"x\""}`},
		{"DELETE", v1 + "/users/3", "", 200, `{"message":"User deleted"}`},
		{"GET", "/healthz", "", 200, `{"status":"ok"}`},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			a.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
			checkJSON(t, rec, tc.code, tc.want+"\n")
		})
	}
}

func TestWriteJSONUnencodable(t *testing.T) {
	rec := httptest.NewRecorder()
	writeJSON(rec, http.StatusOK, map[string]float64{"x": math.NaN()})
	checkJSON(t, rec, http.StatusInternalServerError, encodeFailure+"\n")
}

func checkJSON(t *testing.T, rec *httptest.ResponseRecorder, code int, body string) {
	t.Helper()
	if rec.Code != code || rec.Body.String() != body {
		t.Fatalf("answer %d %q, want %d %q", rec.Code, rec.Body.String(), code, body)
	}
	h := rec.Header()
	if h.Get("Content-Type") != "application/json" || h.Get("Content-Length") != strconv.Itoa(len(body)) ||
		h.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("headers %v: want JSON, its length and nosniff", h)
	}
}
