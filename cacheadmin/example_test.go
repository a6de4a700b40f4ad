package cacheadmin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/cacheadmin"
	"github.com/larderhq/larder/memstore"
)

// newExampleCache returns a memory-mode cache holding two users and a
// post.
func newExampleCache() *larder.Cache {
	s, err := memstore.New(memstore.Options{MaxBytes: 1 << 20})
	if err != nil {
		log.Fatal(err)
	}
	c, err := larder.New(larder.Options{Store: s, Namespace: "myapp"})
	if err != nil {
		log.Fatal(err)
	}
	for _, k := range []string{"user:1", "user:2", "post:1"} {
		if err := c.Set(context.Background(), k, "v", time.Hour); err != nil {
			log.Fatal(err)
		}
	}
	return c
}

// A service mounts the handlers on its own mux, with the admin ones
// behind a token.
func Example() {
	c := newExampleCache()
	defer c.Close()

	mux := http.NewServeMux()
	mux.Handle("GET /health/cache", cacheadmin.Health(c))
	admin := cacheadmin.RequireToken("s3cret") // os.Getenv("ADMIN_TOKEN") in a service
	mux.Handle("GET /admin/cache/stats", admin(cacheadmin.Stats(c)))
	mux.Handle("GET /admin/cache/info", admin(cacheadmin.Info(c)))
	mux.Handle("POST /admin/cache/clear", admin(cacheadmin.Clear(c)))

	srv := httptest.NewServer(mux)
	defer srv.Close()

	for _, auth := range []string{"", "Bearer s3cret"} {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/admin/cache/clear", strings.NewReader(`{"pattern":"user:*"}`))
		if err != nil {
			log.Fatal(err)
		}
		req.Header.Set("Authorization", auth)
		res, err := srv.Client().Do(req)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		fmt.Print(res.StatusCode, " ", string(body))
	}
	// Output:
	// 401 {"detail":"missing bearer token: send the header \"Authorization: Bearer TOKEN\""}
	// 200 {"deleted":2}
}

func ExampleHealth() {
	c := newExampleCache()
	defer c.Close()

	rec := httptest.NewRecorder()
	cacheadmin.Health(c).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health/cache", nil))

	var body struct {
		Status  string  `json:"status"`
		Mode    string  `json:"mode"`
		Latency float64 `json:"latency_ms"`
		Breaker string  `json:"breaker"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		log.Fatal(err)
	}
	// latency_ms varies from run to run.
	fmt.Println(rec.Code, body.Status, body.Mode, body.Breaker)
	// Output: 200 healthy memory none
}

func ExampleStats() {
	c, err := larder.New(larder.Options{}) // off mode
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	rec := httptest.NewRecorder()
	cacheadmin.Stats(c).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/admin/cache/stats", nil))
	fmt.Print(rec.Code, " ", rec.Body.String())
	// Output: 200 {"message":"Cache disabled"}
}

func ExampleClear() {
	c := newExampleCache()
	defer c.Close()

	for _, body := range []string{`{"pattern":"user:*"}`, ``, `{"pattern":"user:*","all":true}`} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/admin/cache/clear", strings.NewReader(body))
		cacheadmin.Clear(c).ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	// Output:
	// 200 {"deleted":2}
	// 200 {"deleted":1}
	// 422 {"detail":"request body must be a JSON object like {\"pattern\": \"user:*\"}: json: unknown field \"all\""}
}

func ExampleRequireToken() {
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"hello":"admin"}`+"\n")
	})
	for _, token := range []string{"s3cret", ""} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/admin/hello", nil)
		req.Header.Set("Authorization", "Bearer s3cret")
		cacheadmin.RequireToken(token)(hello).ServeHTTP(rec, req)
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	// Output:
	// 200 {"hello":"admin"}
	// 403 {"detail":"admin endpoints are disabled: set ADMIN_TOKEN to enable admin endpoints"}
}
