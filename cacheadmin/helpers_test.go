package cacheadmin_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/internal/storetest"
	"github.com/larderhq/larder/memstore"
)

// newMemoryCache returns a memory-mode cache over a real memstore, closed
// when the test ends.
func newMemoryCache(t *testing.T) *larder.Cache {
	t.Helper()
	s := storetest.Memory(t, memstore.Options{MaxBytes: 1 << 20})
	return newCache(t, larder.Options{Store: s, Namespace: "test"})
}

// newOffCache returns an off-mode cache.
func newOffCache(t *testing.T) *larder.Cache {
	t.Helper()
	return newCache(t, larder.Options{})
}

// newFakeCache returns a cache over f with a breaker that opens on the
// second consecutive failure, so that tests can open it cheaply.
func newFakeCache(t *testing.T, f *fakeStore) *larder.Cache {
	t.Helper()
	return newCache(t, larder.Options{
		Store:            f,
		Namespace:        "test",
		BreakerThreshold: 2,
		// Long enough that the breaker's probe never runs during a test.
		ProbeInterval: time.Hour,
	})
}

func newCache(t *testing.T, opts larder.Options) *larder.Cache {
	t.Helper()
	c, err := larder.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// openBreaker makes enough failing calls through c to open its breaker.
func openBreaker(t *testing.T, c *larder.Cache, f *fakeStore) {
	t.Helper()
	f.setBroken(true)
	for range 2 {
		var v string
		if _, err := c.Get(context.Background(), "k", &v); err != nil {
			t.Fatal(err)
		}
	}
	if got := c.Stats().Breaker; got != larder.BreakerOpen {
		t.Fatalf("breaker = %q after failures, want open", got)
	}
}

// response is what a handler answered.
type response struct {
	status int
	header http.Header
	raw    string
	body   map[string]any // the decoded JSON object
}

// serve sends one request to h and decodes its JSON answer, failing the
// test when the answer is not a JSON object with the right Content-Type.
func serve(t *testing.T, h http.Handler, method, target, body string, header ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := response{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if method == http.MethodHead {
		return res
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json; body %s", ct, res.raw)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &res.body); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, res.raw)
	}
	return res
}

// wantKeys fails the test unless body has exactly the given keys.
func wantKeys(t *testing.T, body map[string]any, keys ...string) {
	t.Helper()
	want := make(map[string]bool, len(keys))
	for _, k := range keys {
		want[k] = true
		if _, ok := body[k]; !ok {
			t.Errorf("missing field %q in %v", k, body)
		}
	}
	for k := range body {
		if !want[k] {
			t.Errorf("unexpected field %q in %v", k, body)
		}
	}
}

// detail returns the "detail" of an error answer, failing the test when
// the answer is not of that shape.
func detail(t *testing.T, res response) string {
	t.Helper()
	d, ok := res.body["detail"].(string)
	if !ok || len(res.body) != 1 {
		t.Fatalf("error body = %s, want {\"detail\": \"…\"}", res.raw)
	}
	return d
}
