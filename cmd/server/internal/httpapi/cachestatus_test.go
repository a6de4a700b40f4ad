package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/larderhq/larder/cmd/server/internal/cached"
)

func TestCacheStatus(t *testing.T) {
	for _, tc := range []struct {
		l    cached.Lookup
		want string
	}{
		{cached.Lookup{}, ""},
		{cached.Lookup{Used: true, Bypass: true}, "larder; fwd=bypass"},
		{cached.Lookup{Used: true, Hit: true}, "larder; hit"},
		{cached.Lookup{Used: true, Stored: true}, "larder; fwd=miss; stored"},
		{cached.Lookup{Used: true}, "larder; fwd=miss"},
	} {
		if got := cacheStatus(&tc.l); got != tc.want {
			t.Errorf("cacheStatus(%+v) = %q, want %q", tc.l, got, tc.want)
		}
	}
}

// getCacheStatus sends GET path to a and returns the status code and the
// Cache-Status header of the answer.
func getCacheStatus(a *API, path string) (int, string) {
	rec := httptest.NewRecorder()
	a.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Header().Get("Cache-Status")
}

// TestCacheStatusSequence reads the same resource twice: the first read
// misses and the second hits. A "not found" answered from the negative
// cache is reported as a hit too, and, not being stored, its miss says no
// "stored".
func TestCacheStatusSequence(t *testing.T) {
	for _, tc := range []struct {
		path  string
		code  int
		first string
	}{
		{v1 + "/users/1", http.StatusOK, "larder; fwd=miss; stored"},
		{v1 + "/users/999999", http.StatusNotFound, "larder; fwd=miss"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			a := newTestAPI(t)
			var headers []string
			for range 2 {
				code, h := getCacheStatus(a, tc.path)
				if code != tc.code {
					t.Fatalf("GET %s = %d, want %d", tc.path, code, tc.code)
				}
				headers = append(headers, h)
			}
			if headers[0] != tc.first || headers[1] != "larder; hit" {
				t.Fatalf("Cache-Status = %q, want %q then a hit", headers, tc.first)
			}
		})
	}
}

func TestOffModeBypasses(t *testing.T) {
	a := newTestAPIWithCache(t, false)
	for range 2 {
		if code, h := getCacheStatus(a, v1+"/users/2"); code != http.StatusOK || h != "larder; fwd=bypass" {
			t.Fatalf("off mode: GET user 2 = %d, Cache-Status %q", code, h)
		}
	}
	// Endpoints that do not read through the cache send no Cache-Status.
	if _, h := getCacheStatus(a, "/healthz"); h != "" {
		t.Fatalf("/healthz Cache-Status = %q, want none", h)
	}
}
