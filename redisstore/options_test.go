package redisstore

import (
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/larderhq/larder/driver"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		opts      Options
		wantField string // "" means valid
	}{
		{name: "zero value", opts: Options{}},
		{name: "full", opts: Options{Addr: "h:1", DB: 3, MaxConnections: 1, DialTimeout: time.Second}},
		{name: "addr list", opts: Options{Addr: "h1:1, h2:2"}},
		{name: "url and addr", opts: Options{URL: "redis://h:1", Addr: "h:1"}, wantField: "Options.Addr"},
		{name: "negative db", opts: Options{DB: -1}, wantField: "Options.DB"},
		{name: "negative max connections", opts: Options{MaxConnections: -1}, wantField: "Options.MaxConnections"},
		{name: "negative dial timeout", opts: Options{DialTimeout: -time.Second}, wantField: "Options.DialTimeout"},
		{name: "addr without port", opts: Options{Addr: "localhost"}, wantField: "Options.Addr"},
		{name: "addr list with empty entry", opts: Options{Addr: "h:1,"}, wantField: "Options.Addr"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.opts.validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, driver.ErrInvalidOptions) {
				t.Fatalf("validate() = %v, want an error wrapping ErrInvalidOptions", err)
			}
			if !strings.Contains(err.Error(), tt.wantField) {
				t.Errorf("validate() = %q, want it to name %s", err, tt.wantField)
			}
		})
	}
}

func TestClientOption(t *testing.T) {
	t.Parallel()
	custom := &tls.Config{ServerName: "custom", MinVersion: tls.VersionTLS13}
	tests := []struct {
		name       string
		opts       Options
		addrs      []string
		user, pw   string
		db         int
		tlsServer  string // "" means no TLS
		master     string
		clientName string
	}{
		{name: "default", addrs: []string{DefaultAddr}},
		{name: "addr fields", opts: Options{Addr: "h:1", Username: "u", Password: "p", DB: 2}, addrs: []string{"h:1"}, user: "u", pw: "p", db: 2},
		{name: "addr list", opts: Options{Addr: "h1:1, h2:2"}, addrs: []string{"h1:1", "h2:2"}},
		{name: "url", opts: Options{URL: "redis://u:p@h:1/3"}, addrs: []string{"h:1"}, user: "u", pw: "p", db: 3},
		{name: "url password only", opts: Options{URL: "redis://:p@h:1"}, addrs: []string{"h:1"}, pw: "p"},
		{name: "url default port", opts: Options{URL: "redis://h"}, addrs: []string{"h:6379"}},
		{name: "rediss", opts: Options{URL: "rediss://h:1"}, addrs: []string{"h:1"}, tlsServer: "h"},
		{name: "url host list", opts: Options{URL: "redis://u:p@h1:1,h2:2,h3:3/4?client_name=x"}, addrs: []string{"h1:1", "h2:2", "h3:3"}, user: "u", pw: "p", db: 4, clientName: "x"},
		{name: "url addr params", opts: Options{URL: "redis://h1:1?addr=h2:2"}, addrs: []string{"h1:1", "h2:2"}},
		{name: "fields override url", opts: Options{URL: "redis://u:p@h:1/3", Username: "u2", Password: "p2", DB: 5, ClientName: "n"},
			addrs: []string{"h:1"}, user: "u2", pw: "p2", db: 5, clientName: "n"},
		{name: "tls option", opts: Options{Addr: "h:1", TLS: custom}, addrs: []string{"h:1"}, tlsServer: "custom"},
		{name: "sentinel", opts: Options{URL: "redis://s1:26379?master_set=url", SentinelMasterSet: "mymaster"}, addrs: []string{"s1:26379"}, master: "mymaster"},
		{name: "sentinel from url", opts: Options{URL: "redis://s1:26379?master_set=url"}, addrs: []string{"s1:26379"}, master: "url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			copt, err := tt.opts.clientOption()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(copt.InitAddress, " ") != strings.Join(tt.addrs, " ") {
				t.Errorf("InitAddress = %q, want %q", copt.InitAddress, tt.addrs)
			}
			if copt.Username != tt.user || copt.Password != tt.pw || copt.SelectDB != tt.db {
				t.Errorf("user, password, db = %q, %q, %d; want %q, %q, %d", copt.Username, copt.Password, copt.SelectDB, tt.user, tt.pw, tt.db)
			}
			switch {
			case tt.tlsServer == "" && copt.TLSConfig != nil:
				t.Errorf("TLS is on, want off")
			case tt.tlsServer != "" && (copt.TLSConfig == nil || copt.TLSConfig.ServerName != tt.tlsServer):
				t.Errorf("TLSConfig = %+v, want ServerName %q", copt.TLSConfig, tt.tlsServer)
			}
			if copt.TLSConfig != nil && copt.TLSConfig == custom {
				t.Error("Options.TLS was not cloned")
			}
			if copt.Sentinel.MasterSet != tt.master {
				t.Errorf("MasterSet = %q, want %q", copt.Sentinel.MasterSet, tt.master)
			}
			if copt.ClientName != tt.clientName {
				t.Errorf("ClientName = %q, want %q", copt.ClientName, tt.clientName)
			}
			if !copt.DisableCache || copt.RetryDelay == nil || copt.Dialer.Timeout != DefaultDialTimeout {
				t.Errorf("store defaults not applied: DisableCache=%v RetryDelay set=%v DialTimeout=%v",
					copt.DisableCache, copt.RetryDelay != nil, copt.Dialer.Timeout)
			}
		})
	}
}

func TestClientOptionBadURL(t *testing.T) {
	t.Parallel()
	const secret = "hunter2-secret"
	tests := []struct {
		name string
		url  string
	}{
		{name: "scheme", url: "http://u:" + secret + "@h:1"},
		{name: "db", url: "redis://u:" + secret + "@h:1/abc"},
		{name: "path", url: "redis://u:" + secret + "@h:1/1/2"},
		{name: "port", url: "redis://u:" + secret + "@h:port"},
		{name: "control character", url: "redis://u:" + secret + "@h:1/\x7f"},
		{name: "empty host in list", url: "redis://u:" + secret + "@h1:1,,h2:2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(Options{URL: tt.url})
			if !errors.Is(err, driver.ErrInvalidOptions) {
				t.Fatalf("New = %v, want an error wrapping ErrInvalidOptions", err)
			}
			if !strings.Contains(err.Error(), "Options.URL") {
				t.Errorf("error %q does not name Options.URL", err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

func TestConnectionPlan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		maxConns, procs             int
		wantPipelined, wantPool     int
		wantBlockingPipelineChanged bool
	}{
		{maxConns: 1, procs: 2, wantPipelined: 1, wantPool: 1, wantBlockingPipelineChanged: true},
		{maxConns: 2, procs: 2, wantPipelined: 1, wantPool: 1},
		{maxConns: 3, procs: 8, wantPipelined: 1, wantPool: 2},
		{maxConns: 4, procs: 8, wantPipelined: 2, wantPool: 2},
		{maxConns: 10, procs: 1, wantPipelined: 1, wantPool: 9},
		{maxConns: 10, procs: 2, wantPipelined: 2, wantPool: 8},
		{maxConns: 10, procs: 3, wantPipelined: 2, wantPool: 8},
		{maxConns: 10, procs: 16, wantPipelined: 4, wantPool: 6},
		{maxConns: 100, procs: 64, wantPipelined: 4, wantPool: 96},
	}
	for _, tt := range tests {
		t.Run("", func(t *testing.T) {
			multiplex, pool, bp := connectionPlan(tt.maxConns, tt.procs)
			pipelined := 1
			if multiplex > 0 {
				pipelined = 1 << multiplex
			}
			if pipelined != tt.wantPipelined || pool != tt.wantPool || (bp != 0) != tt.wantBlockingPipelineChanged {
				t.Errorf("connectionPlan(%d, %d) = %d pipelined, %d pooled, blocking pipeline %d; want %d, %d, changed=%v",
					tt.maxConns, tt.procs, pipelined, pool, bp, tt.wantPipelined, tt.wantPool, tt.wantBlockingPipelineChanged)
			}
			if tt.maxConns >= 2 && pipelined+pool > tt.maxConns {
				t.Errorf("%d connections exceed MaxConnections %d", pipelined+pool, tt.maxConns)
			}
		})
	}
}

func TestPermanent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"refused", errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), false},
		{"untrusted certificate", &tls.CertificateVerificationError{Err: errors.New("x509")}, true},
		{"not tls", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := permanent(tt.err); got != tt.want {
				t.Errorf("permanent(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
