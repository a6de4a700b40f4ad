package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/cmd/server/internal/cached"
	"github.com/larderhq/larder/cmd/server/internal/user"
	"github.com/larderhq/larder/cmd/server/internal/userdb"
	"github.com/larderhq/larder/internal/storetest"
	"github.com/larderhq/larder/memstore"
)

func newTestAPI(t *testing.T) *API {
	t.Helper()
	return newTestAPIWithCache(t, true)
}

// newTestAPIWithCache builds an API on a seeded SQLite database, with a
// memory cache in front when enabled and the cache off otherwise.
func newTestAPIWithCache(t *testing.T, enabled bool) *API {
	t.Helper()
	ctx := context.Background()
	db, err := userdb.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "api.db"), userdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Seed(ctx, 3, fixedNow); err != nil {
		t.Fatal(err)
	}
	var opts larder.Options
	if enabled {
		opts.Store = storetest.Memory(t, memstore.Options{})
	}
	c, err := larder.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return New(Options{Users: cached.New(db, c, cached.Options{}), Cache: c, DB: db, AdminToken: "t"})
}

// docProblems compares an OpenAPI document with what the API serves: every
// route must be in the document, and every operation in the document must
// reach a handler of the API (not the catch-all 404, not a 405).
func docProblems(a *API, doc []byte) []string {
	var d struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return []string{"document is not JSON: " + err.Error()}
	}
	var problems []string
	documented := map[string]bool{}
	for path, ops := range d.Paths {
		for method := range ops {
			m := strings.ToUpper(method)
			documented[m+" "+path] = true
			req := httptest.NewRequest(m, strings.ReplaceAll(path, "{user_id}", "1"), nil)
			req.Header.Set("Authorization", "Bearer t")
			rec := httptest.NewRecorder()
			a.ServeHTTP(rec, req)
			if rec.Code == http.StatusMethodNotAllowed || (rec.Code == http.StatusNotFound && strings.Contains(rec.Body.String(), `"Not Found"`)) {
				problems = append(problems, fmt.Sprintf("documented %s %s is not served (%d)", m, path, rec.Code))
			}
		}
	}
	for _, rt := range a.rts {
		if !documented[rt.pattern()] {
			problems = append(problems, "route "+rt.pattern()+" is missing from the document")
		}
	}
	sort.Strings(problems)
	return problems
}

func TestOpenAPIMatchesRoutes(t *testing.T) {
	a := newTestAPI(t)
	if p := docProblems(a, a.doc); len(p) > 0 {
		t.Fatalf("OpenAPI document and routes disagree:\n%s", strings.Join(p, "\n"))
	}
	if len(a.rts) < 18 {
		t.Fatalf("only %d routes", len(a.rts))
	}
}

// TestOpenAPICheckCanFail proves docProblems sees both kinds of drift.
func TestOpenAPICheckCanFail(t *testing.T) {
	a := newTestAPI(t)
	var d map[string]any
	if err := json.Unmarshal(a.doc, &d); err != nil {
		t.Fatal(err)
	}
	paths := d["paths"].(map[string]any)
	paths["/api/v1/ghost"] = map[string]any{"get": map[string]any{}}
	delete(paths, "/readyz")
	doctored, _ := json.Marshal(d)
	p := strings.Join(docProblems(a, doctored), "\n")
	if !strings.Contains(p, "GET /api/v1/ghost is not served") || !strings.Contains(p, "GET /readyz is missing") {
		t.Fatalf("doctored document not caught; problems:\n%s", p)
	}
}

func TestStatusMapping(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("x: %w", user.ErrNotFound), 404},
		{&user.ValidationError{Fields: []user.FieldError{{Field: "name", Message: "m"}}}, 422},
		{fmt.Errorf("%w: id", errBadRequest), 422},
		{fmt.Errorf("x: %w", user.ErrDuplicateEmail), 409},
		{errTooLarge, 413},
		{&http.MaxBytesError{Limit: 1}, 413},
		{fmt.Errorf("%w: x", larder.ErrInvalidPattern), 422},
		{fmt.Errorf("%w: x", larder.ErrUnavailable), 503},
		{context.Canceled, 499},
		{errors.New("boom"), 500},
	} {
		t.Run(tc.err.Error(), func(t *testing.T) {
			if got := status(tc.err); got != tc.want {
				t.Fatalf("status(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

var fixedNow = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// TestUserSchemaMatchesType: the document's User lists, and requires, every
// JSON field of user.User and no other.
func TestUserSchemaMatchesType(t *testing.T) {
	var fields []string
	typ := reflect.TypeFor[user.User]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		fields = append(fields, name)
	}
	sort.Strings(fields)
	s := schemas()["User"].(obj)
	var props []string
	for p := range s["properties"].(obj) {
		props = append(props, p)
	}
	sort.Strings(props)
	required := append([]string(nil), s["required"].([]string)...)
	sort.Strings(required)
	if !slices.Equal(props, fields) || !slices.Equal(required, fields) {
		t.Fatalf("User schema: properties %v, required %v; user.User has %v", props, required, fields)
	}
}
