package redistest

import (
	"os"
	"os/exec"
	"testing"
)

// fallbackPaths are where Debian and Ubuntu (and a source build) put
// redis-server; PATH may not include /usr/sbin for a non-root user, which
// is why they are tried too. scripts/ensure-redis.sh looks in the same
// places.
var fallbackPaths = [...]string{"/usr/bin/redis-server", "/usr/sbin/redis-server", "/usr/local/bin/redis-server"}

// missingMessage is what a test is told when redis-server cannot be found.
const missingMessage = "redis-server not found in PATH, /usr/bin, /usr/sbin or /usr/local/bin; " +
	"make test installs it with apt-get (apt-get install -y redis-server), " +
	"or install it with your package manager"

// findBinary returns the path of a redis-server executable, or "" if there
// is none.
func findBinary() string {
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p
	}
	for _, p := range fallbackPaths {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// requireBinary returns the path of redis-server or ends the test: a CI run
// (CI=true) must not silently skip every Redis test, so there it fails;
// on a developer's machine it skips.
func requireBinary(tb testing.TB) string {
	tb.Helper()
	p := findBinary()
	if p != "" {
		return p
	}
	if os.Getenv("CI") == "true" {
		tb.Fatal(missingMessage)
	}
	tb.Skip(missingMessage)
	return ""
}
