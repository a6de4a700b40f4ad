package redistest

// Option changes how Start runs redis-server.
type Option func(*config)

// config collects what the options ask for.
type config struct {
	password string
	port     int
	tls      bool
	args     []string
}

// WithPassword makes the server require password for the default user
// (redis-server --requirepass). Server.URL and Server.Do then use it.
func WithPassword(password string) Option {
	return func(c *config) { c.password = password }
}

// WithPort makes the server listen on port instead of a free port chosen by
// Start. It is for tests that must know the address before the server
// exists, such as a client that starts while Redis is still down; FreePort
// gives such a port.
func WithPort(port int) Option {
	return func(c *config) { c.port = port }
}

// WithTLS makes the server accept only TLS connections on its port. Start
// generates a throwaway certificate authority and a server certificate for
// 127.0.0.1 and localhost; Server.TLSConfig returns a client configuration
// that trusts it, and Server.URL uses the rediss scheme.
func WithTLS() Option {
	return func(c *config) { c.tls = true }
}

// WithArgs appends command-line arguments to redis-server, for example
// WithArgs("--maxmemory", "10mb"). Later arguments override earlier ones,
// so these override the defaults Start sets.
func WithArgs(args ...string) Option {
	return func(c *config) { c.args = append(c.args, args...) }
}
