package redisstore

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"net"
	"runtime"
	"strings"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/redis/rueidis"
)

// Defaults applied to zero-valued Options fields.
const (
	// DefaultAddr is the server used when neither URL nor Addr is set: a
	// Redis on this machine, on its standard port.
	DefaultAddr = "localhost:6379"
	// DefaultMaxConnections is the default of [Options.MaxConnections],
	// and of REDIS_MAX_CONNECTIONS in package config.
	DefaultMaxConnections = 10
	// DefaultDialTimeout bounds connecting and the connection handshake.
	DefaultDialTimeout = 5 * time.Second
)

// maxPipelined caps the pipelined connections per node at what rueidis
// itself never exceeds by default: past four, more connections only add
// server-side context switches, since auto-pipelining already batches
// concurrent commands on each connection.
const maxPipelined = 4

// Options configures New. The zero value connects to localhost:6379 with the
// defaults below; every field is optional. New reads an Options value and
// keeps copies of what it needs, so the caller may reuse or change it
// afterwards.
type Options struct {
	// URL locates the server as
	// redis://[[user][:password]@]host[:port][/db][?option=value…].
	// rediss:// turns on TLS with the system's roots and verifies the host
	// name; unix:///path/to/redis.sock[?db=N] uses a unix socket. Several
	// initial addresses (cluster seeds or sentinels) may be given either as
	// a comma-separated host list (redis://h1:6379,h2:6379/0) or with
	// addr=host:port query parameters.
	// Other query parameters understood by rueidis.ParseURL are honoured,
	// such as dial_timeout, client_name, master_set and skip_verify.
	// URL and Addr are mutually exclusive.
	URL string

	// Addr is the server as host:port, or a comma-separated list of
	// host:port initial addresses for a Cluster or for Sentinels. It is
	// used when URL is empty; if both are empty DefaultAddr is used.
	Addr string

	// Username is the ACL user to authenticate as. Empty means the URL's
	// user, or the "default" user. It overrides the URL's user when set.
	Username string

	// Password authenticates Username (or the default user, as with
	// requirepass). It overrides the URL's password when set. It is never
	// logged nor included in errors.
	Password string

	// DB is the logical database to SELECT on every connection. Zero means
	// the URL's database, or database 0. A Cluster has only database 0.
	DB int

	// TLS, when not nil, turns on TLS with this configuration (which New
	// clones), also for a redis:// URL; it overrides the configuration a
	// rediss:// URL implies. With an empty ServerName the host of each
	// address dialled is verified.
	TLS *tls.Config

	// MaxConnections bounds the connections the store opens to each
	// Redis node (REDIS_MAX_CONNECTIONS in package config). Zero means
	// [DefaultMaxConnections].
	//
	// rueidis sends concurrent non-blocking commands over a few shared,
	// auto-pipelined connections, and takes a dedicated connection from a
	// pool only for blocking commands and for batches of 2,000 commands or
	// more. MaxConnections is split between the two:
	//   - pipelined connections: the largest power of two that is at most
	//     max(1, MaxConnections/2) and at most min(4, GOMAXPROCS rounded
	//     down to a power of two), opened when first used;
	//   - pool connections: MaxConnections minus the pipelined ones, opened
	//     only on demand, so a store that never sends large batches keeps
	//     just the pipelined connections open.
	// For example the default of 10 gives 2 pipelined and up to 8 pooled
	// connections with GOMAXPROCS=2, and 4 and up to 6 with GOMAXPROCS>=4;
	// 2 gives one of each. With 1, the store sends everything, large
	// batches included, over its one pipelined connection; only blocking
	// commands sent through Client would open a second.
	// The bound is per node: a Cluster client has it for each node it
	// talks to, and a Sentinel client adds one connection to a sentinel.
	// Raw commands sent through Client use the same connections.
	MaxConnections int

	// DialTimeout bounds connecting to a node, including the TLS and
	// HELLO/AUTH handshake. Zero means DefaultDialTimeout. A call's context
	// deadline always applies as well, so this only matters for calls
	// without one and for the background connector.
	DialTimeout time.Duration

	// ClientName is sent with HELLO SETNAME so the connections show up by
	// this name in CLIENT LIST. Empty means the URL's client_name, or none.
	ClientName string

	// SentinelMasterSet, when set, makes the initial addresses Sentinels
	// and the store connects to the master of this set, following
	// failovers. It overrides the URL's master_set.
	SentinelMasterSet string

	// SentinelUsername is the ACL user to authenticate to the Sentinels
	// as, when they require it. Empty means their default user.
	SentinelUsername string

	// SentinelPassword authenticates to the Sentinels, when they require
	// it. It is never logged nor included in errors.
	SentinelPassword string

	// TrackingPrefixes are key prefixes to track from the first
	// connection on (see Store.OnInvalidate): every connection the store
	// opens enables RESP3 client tracking in broadcasting mode (CLIENT
	// TRACKING ON BCAST PREFIX p …), so that Redis reports each change to
	// a key that starts with one of these prefixes, whoever made it and
	// whether or not this store read the key. A single empty prefix
	// tracks every key. No prefix may be a prefix of another, nor appear
	// twice, as Redis refuses overlapping prefixes.
	//
	// A Cache needs none of this: it registers its namespace with
	// Store.Track when it is created, which turns tracking on for the
	// namespace (connecting again if the prefix is new). Giving the
	// namespace here as well ("ns:" for Namespace "ns") saves that
	// reconnection, and tracks the prefixes for other readers of
	// OnInvalidate.
	//
	// Tracking needs a server that speaks RESP3 (Redis or Valkey 6 and
	// later) and lets the user run CLIENT TRACKING. A server that does not,
	// including one reached with ?protocol=2 in the URL, is used without
	// tracking: the store works as with no prefixes, logs a warning, and
	// Store.Tracking reports false.
	//
	// Empty (the default) leaves tracking off until Track is called, and
	// the store then also works with servers that only speak RESP2.
	TrackingPrefixes []string

	// Logger receives the store's few log records: a warning when Redis is
	// unreachable at start-up, a record when the background connector
	// connects, and a warning when the server refuses client tracking. Nil
	// discards them. Records never contain passwords.
	Logger *slog.Logger
}

// invalid returns an error about field that wraps driver.ErrInvalidOptions.
func invalid(field, format string, args ...any) error {
	return fmt.Errorf("redisstore: Options.%s %s: %w", field, fmt.Sprintf(format, args...), driver.ErrInvalidOptions)
}

// validate reports the first field that is out of range. It checks what
// can be checked without parsing the URL, which clientOption does.
func (o *Options) validate() error {
	switch {
	case o.URL != "" && o.Addr != "":
		return invalid("Addr", "must be empty when Options.URL is set")
	case o.DB < 0:
		return invalid("DB", "is %d, want >= 0", o.DB)
	case o.MaxConnections < 0:
		return invalid("MaxConnections", "is %d, want >= 0", o.MaxConnections)
	case o.DialTimeout < 0:
		return invalid("DialTimeout", "is %v, want >= 0", o.DialTimeout)
	}
	if err := validPrefixes(o.TrackingPrefixes); err != nil {
		return err
	}
	if o.Addr != "" {
		for _, a := range strings.Split(o.Addr, ",") {
			if _, port, err := net.SplitHostPort(strings.TrimSpace(a)); err != nil || port == "" {
				return invalid("Addr", "has %q, want host:port", strings.TrimSpace(a))
			}
		}
	}
	return nil
}

// clientOption turns validated options into rueidis options. Errors never
// quote the URL, which may hold a password.
func (o *Options) clientOption() (rueidis.ClientOption, error) {
	var copt rueidis.ClientOption
	switch {
	case o.URL != "":
		u, err := expandHostList(o.URL)
		if err != nil {
			return copt, err
		}
		if copt, err = rueidis.ParseURL(u); err != nil {
			msg := redact(err.Error(), o.URL, u, userinfo(o.URL), o.Password)
			return copt, invalid("URL", "cannot be parsed: %s", msg)
		}
	case o.Addr != "":
		for _, a := range strings.Split(o.Addr, ",") {
			copt.InitAddress = append(copt.InitAddress, strings.TrimSpace(a))
		}
	default:
		copt.InitAddress = []string{DefaultAddr}
	}
	if o.Username != "" {
		copt.Username = o.Username
	}
	if o.Password != "" {
		copt.Password = o.Password
	}
	if o.DB != 0 {
		copt.SelectDB = o.DB
	}
	if copt.SelectDB < 0 {
		return copt, invalid("URL", "selects database %d, want >= 0", copt.SelectDB)
	}
	if o.TLS != nil {
		copt.TLSConfig = o.TLS.Clone()
	}
	if o.ClientName != "" {
		copt.ClientName = o.ClientName
	}
	if o.SentinelMasterSet != "" {
		copt.Sentinel.MasterSet = o.SentinelMasterSet
	}
	if copt.Sentinel.MasterSet != "" {
		copt.Sentinel.Username = o.SentinelUsername
		copt.Sentinel.Password = o.SentinelPassword
		copt.Sentinel.TLSConfig = copt.TLSConfig
	}

	if o.DialTimeout > 0 {
		copt.Dialer.Timeout = o.DialTimeout
	} else if copt.Dialer.Timeout == 0 {
		copt.Dialer.Timeout = DefaultDialTimeout
	}
	copt.Sentinel.Dialer.Timeout = copt.Dialer.Timeout

	maxConns := o.MaxConnections
	if maxConns == 0 {
		maxConns = DefaultMaxConnections
	}
	copt.PipelineMultiplex, copt.BlockingPoolSize, copt.BlockingPipeline = connectionPlan(maxConns, runtime.GOMAXPROCS(0))

	// The store does not use rueidis's client-side cache (DoCache), so the
	// CLIENT TRACKING handshake it needs is skipped; this also lets the
	// store talk to servers without RESP3. Tracking prefixes, from the
	// options or from Track, turn broadcasting tracking on instead (see
	// tracked).
	copt.DisableCache = true
	// rueidis retries read-only commands after network errors with a
	// growing delay until the context's deadline is near, which turns a
	// refused connection into a call that takes most of its budget. One
	// immediate retry keeps what retrying is for (a pooled connection that
	// went stale while idle, a server that just restarted) and then fails
	// fast, leaving further retries to the caller.
	copt.RetryDelay = func(attempts int, _ rueidis.Completed, _ error) time.Duration {
		if attempts <= 1 {
			return 0
		}
		return -1
	}
	return copt, nil
}

// connectionPlan splits maxConns (>= 1) between pipelined and pooled
// connections as the MaxConnections documentation describes, for a
// process with procs = GOMAXPROCS. It returns rueidis's PipelineMultiplex
// (log2 of the pipelined connections), BlockingPoolSize, and
// BlockingPipeline (0 for rueidis's default).
func connectionPlan(maxConns, procs int) (multiplex, pool, blockingPipeline int) {
	procPow := 1 << (bits.Len(uint(max(procs, 1))) - 1)
	halfPow := 1 << (bits.Len(uint(max(maxConns/2, 1))) - 1)
	pipelined := min(maxPipelined, procPow, halfPow)
	multiplex = bits.Len(uint(pipelined)) - 1
	if multiplex == 0 {
		// rueidis replaces a zero PipelineMultiplex by its own default;
		// a negative one means exactly one pipelined connection.
		multiplex = -1
	}
	pool = maxConns - pipelined
	if pool < 1 {
		// A single connection: the pool cannot be empty (rueidis would
		// take zero as its default of 1,024), so keep the store's large
		// batches on the pipelined connection, where they never need it.
		pool, blockingPipeline = 1, math.MaxInt32
	}
	return multiplex, pool, blockingPipeline
}

// expandHostList rewrites redis://h1:p1,h2:p2/… into
// redis://h1:p1/…?addr=h2:p2, the form rueidis.ParseURL understands, since
// net/url rejects a comma-separated host.
func expandHostList(raw string) (string, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw, nil // let ParseURL report it
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	at := strings.LastIndexByte(authority, '@')
	userinfo, hosts := authority[:at+1], authority[at+1:]
	if !strings.Contains(hosts, ",") {
		return raw, nil
	}
	list := strings.Split(hosts, ",")
	for _, h := range list {
		if strings.TrimSpace(h) == "" {
			return "", invalid("URL", "has an empty host in its host list")
		}
	}
	path, query, _ := strings.Cut(tail, "?")
	query, fragment, _ := strings.Cut(query, "#")
	var extra []string
	for _, h := range list[1:] {
		extra = append(extra, "addr="+strings.TrimSpace(h))
	}
	if query != "" {
		extra = append([]string{query}, extra...)
	}
	out := scheme + "://" + userinfo + strings.TrimSpace(list[0]) + path + "?" + strings.Join(extra, "&")
	if fragment != "" {
		out += "#" + fragment
	}
	return out, nil
}

// userinfo returns the user:password part of a URL-like string, or "".
func userinfo(raw string) string {
	_, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		rest = rest[:end]
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		return rest[:at]
	}
	return ""
}

// redact removes the URL and password from msg, since error texts of
// net/url quote the URL they failed to parse, password included.
func redact(msg string, secrets ...string) string {
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return msg
}
