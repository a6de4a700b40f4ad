package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/cmd/server/internal/server"
)

// service is one running instance of the reference service, over real HTTP.
type service struct {
	t      *testing.T
	base   string
	cache  *larder.Cache
	cancel context.CancelFunc
	done   chan error
	logs   *syncBuffer
}

// start runs the service with vars on a free port and stops it at cleanup.
func start(t *testing.T, vars map[string]string, hooks server.Hooks) *service {
	t.Helper()
	// A cache budget no loaded machine exceeds, unless a test sets one:
	// at the default 50 ms a busy machine makes store calls time out and
	// fail open, and the tests' Cache-Status checks would then measure the
	// machine, not the service.
	all := map[string]string{"HTTP_ADDR": "127.0.0.1:0", "SEED_USERS": "60", "LOG_LEVEL": "debug", "CACHE_TIMEOUT": "5s"}
	for k, v := range vars {
		all[k] = v
	}
	s, err := server.LoadSettings(all)
	if err != nil {
		t.Fatalf("settings: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	svc := &service{t: t, cancel: cancel, done: make(chan error, 1), logs: &syncBuffer{}}
	ready := make(chan string, 1)
	hooks.Ready = func(addr string) { ready <- addr }
	userCache := hooks.Cache
	hooks.Cache = func(c *larder.Cache) {
		svc.cache = c
		if userCache != nil {
			userCache(c)
		}
	}
	go func() { svc.done <- server.Run(ctx, s, svc.logs, hooks) }()
	select {
	case addr := <-ready:
		svc.base = "http://" + addr
	case err := <-svc.done:
		t.Fatalf("service did not start: %v\n%s", err, svc.logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("service did not start in 60s\n%s", svc.logs)
	}
	t.Cleanup(func() {
		if err := svc.stop(); err != nil {
			t.Errorf("service stopped with %v\n%s", err, svc.logs)
		}
		if t.Failed() {
			t.Logf("service logs:\n%s", svc.logs)
		}
	})
	return svc
}

// stop cancels the service's context, as SIGTERM does, and waits for Run.
func (s *service) stop() error {
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // keep it for a second stop
		return err
	case <-time.After(30 * time.Second):
		return io.ErrNoProgress
	}
}

type response struct {
	code   int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
}

func (r response) detail() string {
	var e struct {
		Detail any `json:"detail"`
	}
	_ = json.Unmarshal(r.body, &e)
	if s, ok := e.Detail.(string); ok {
		return s
	}
	b, _ := json.Marshal(e.Detail)
	return string(b)
}

// do sends a request; body may be nil, a string (sent as is) or a value
// (sent as JSON). headers are name, value pairs.
func (s *service) do(method, path string, body any, headers ...string) response {
	s.t.Helper()
	r, err := s.send(method, path, body, headers...)
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

// send is do for goroutines other than the test's, which must not call
// t.Fatal: it returns what went wrong instead.
func (s *service) send(method, path string, body any, headers ...string) (response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		return response{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: reading body: %w", method, path, err)
	}
	return response{code: resp.StatusCode, header: resp.Header, body: data}, nil
}

// expect sends a request and fails unless the status is code.
func (s *service) expect(code int, method, path string, body any, headers ...string) response {
	s.t.Helper()
	r := s.do(method, path, body, headers...)
	if r.code != code {
		s.t.Fatalf("%s %s = %d %s, want %d", method, path, r.code, r.body, code)
	}
	if ct := r.header.Get("Content-Type"); code != 204 && path != "/metrics" && path != "/docs" && !strings.HasPrefix(ct, "application/json") {
		s.t.Fatalf("%s %s: Content-Type %q, want JSON", method, path, ct)
	}
	return r
}

// syncBuffer collects logs from the service's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
