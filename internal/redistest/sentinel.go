package redistest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// StartSentinel starts a Sentinel (redis-server --sentinel) that monitors
// master under the name masterSet, with a quorum of one, and returns once
// it answers PING and knows the master. A client given the Sentinel's
// address and masterSet is then directed to master. The Sentinel is killed
// when tb ends; it skips or fails tb as Start does when redis-server is
// missing.
func StartSentinel(tb testing.TB, master *Server, masterSet string) *Server {
	tb.Helper()
	bin := requireBinary(tb)
	dir := tb.TempDir()
	s, err := newServer(bin, dir, config{}, tb.Fatalf)
	if err != nil {
		tb.Fatalf("redistest: %v", err)
	}
	// Sentinel rewrites its configuration file, so it lives in dir.
	s.sentinelConf = filepath.Join(dir, "sentinel.conf")
	conf := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 1\n", masterSet, master.Port())
	if master.Password() != "" {
		conf += fmt.Sprintf("sentinel auth-pass %s %s\n", masterSet, master.Password())
	}
	if err := os.WriteFile(s.sentinelConf, []byte(conf), 0o600); err != nil {
		tb.Fatalf("redistest: write sentinel configuration: %v", err)
	}
	tb.Cleanup(s.Kill)
	if err := s.startOn(0); err != nil {
		tb.Fatalf("redistest: sentinel: %v", err)
	}
	waitFor(tb, func() error {
		addr, err := s.Do("SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterSet).AsStrSlice()
		if err != nil {
			return err
		}
		if len(addr) != 2 || addr[1] != strconv.Itoa(master.Port()) {
			return fmt.Errorf("sentinel reports master %v", addr)
		}
		return nil
	})
	return s
}
