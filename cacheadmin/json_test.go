package cacheadmin

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

func TestWriteJSON(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		v        any
		wantCode int
		wantBody string
	}{
		{"object", 201, map[string]int{"deleted": 3}, 201, `{"deleted":3}` + "\n"},
		{"null", 200, nil, 200, "null\n"},
		{"HTML is escaped", 200, map[string]string{"x": "<b>"}, 200, `{"x":"\u003cb\u003e"}` + "\n"},
		{
			"unencodable value", 200, map[string]float64{"x": math.NaN()}, 500,
			`{"detail":"internal error: the response could not be encoded as JSON"}` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			writeJSON(rec, tt.status, tt.v)
			if rec.Code != tt.wantCode {
				t.Errorf("status code = %d, want %d", rec.Code, tt.wantCode)
			}
			if got := rec.Body.String(); got != tt.wantBody {
				t.Errorf("body = %q, want %q", got, tt.wantBody)
			}
			h := rec.Header()
			if got := h.Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q", got)
			}
			if got := h.Get("Content-Length"); got != strconv.Itoa(len(tt.wantBody)) {
				t.Errorf("Content-Length = %q, want %d", got, len(tt.wantBody))
			}
			if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
		})
	}
}

func TestWriteError(t *testing.T) {
	rec := httptest.NewRecorder()
	writeError(rec, http.StatusNotFound, `no user "42"`)
	if rec.Code != http.StatusNotFound {
		t.Errorf("status code = %d, want 404", rec.Code)
	}
	if got, want := rec.Body.String(), `{"detail":"no user \"42\""}`+"\n"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
}
