package cacheadmin_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/larderhq/larder/cacheadmin"
)

func TestRequireToken(t *testing.T) {
	const token = "s3cret-token-0123456789"
	tests := []struct {
		name       string
		token      string // the configured token
		header     string // the Authorization header; "" for none
		wantCode   int
		wantDetail string // substring of the detail, for refusals
	}{
		{name: "no header", token: token, wantCode: 401, wantDetail: "missing bearer token"},
		{name: "wrong scheme", token: token, header: "Basic " + token, wantCode: 401, wantDetail: "missing bearer token"},
		{name: "scheme only", token: token, header: "Bearer", wantCode: 401, wantDetail: "missing bearer token"},
		{name: "empty token", token: token, header: "Bearer ", wantCode: 401, wantDetail: "missing bearer token"},
		{name: "wrong token", token: token, header: "Bearer wrong", wantCode: 401, wantDetail: "invalid bearer token"},
		{name: "token prefix", token: token, header: "Bearer " + token[:len(token)-1], wantCode: 401, wantDetail: "invalid bearer token"},
		{name: "token with suffix", token: token, header: "Bearer " + token + "x", wantCode: 401, wantDetail: "invalid bearer token"},
		{name: "token case differs", token: token, header: "Bearer " + strings.ToUpper(token), wantCode: 401, wantDetail: "invalid bearer token"},
		{name: "right token", token: token, header: "Bearer " + token, wantCode: 200},
		{name: "scheme in lower case", token: token, header: "bearer " + token, wantCode: 200},
		{name: "several spaces", token: token, header: "Bearer   " + token, wantCode: 200},
		{name: "admin disabled, no header", token: "", wantCode: 403, wantDetail: "set ADMIN_TOKEN to enable admin endpoints"},
		{name: "admin disabled, empty bearer", token: "", header: "Bearer ", wantCode: 403, wantDetail: "set ADMIN_TOKEN"},
		{name: "admin disabled, some token", token: "", header: "Bearer x", wantCode: 403, wantDetail: "set ADMIN_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reached := false
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reached = true
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"ok":true}`)
			})
			var header []string
			if tt.header != "" {
				header = []string{"Authorization", tt.header}
			}
			res := serve(t, cacheadmin.RequireToken(tt.token)(next), http.MethodGet, "/admin/cache/stats", "", header...)
			if res.status != tt.wantCode {
				t.Fatalf("status code = %d, want %d; body %s", res.status, tt.wantCode, res.raw)
			}
			if reached != (tt.wantCode == http.StatusOK) {
				t.Errorf("next reached = %v with status %d", reached, res.status)
			}
			wantChallenge := ""
			if tt.wantCode == http.StatusUnauthorized {
				wantChallenge = "Bearer"
			}
			if got := res.header.Get("WWW-Authenticate"); got != wantChallenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, wantChallenge)
			}
			if tt.wantCode == http.StatusOK {
				return
			}
			if d := detail(t, res); !strings.Contains(d, tt.wantDetail) {
				t.Errorf("detail = %q, want it to contain %q", d, tt.wantDetail)
			}
			if strings.Contains(res.raw, token) {
				t.Error("the refusal echoes the token")
			}
		})
	}
}
