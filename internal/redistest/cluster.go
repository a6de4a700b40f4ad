package redistest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// clusterTimeout bounds how long StartCluster waits for the nodes to agree
// on the topology; gossip between local nodes converges in about a second.
const clusterTimeout = 30 * time.Second

// Cluster is a Redis Cluster of throwaway servers started by StartCluster.
type Cluster struct {
	// Masters hold the hash slots, split evenly in order.
	Masters []*Server
	// Replicas replicate the masters: replica i follows master i % len(Masters).
	Replicas []*Server
}

// Addrs returns the addresses of every node, masters first, for use as
// initial addresses of a cluster client.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, s := range c.Nodes() {
		out = append(out, s.Addr())
	}
	return out
}

// Nodes returns every node, masters first.
func (c *Cluster) Nodes() []*Server {
	return append(append([]*Server(nil), c.Masters...), c.Replicas...)
}

// StartCluster starts masters (at least 1) and replicas servers in cluster
// mode, splits the hash slots between the masters, attaches the replicas,
// and returns once every node reports cluster_state:ok and every replica is
// in sync. The servers are killed when tb ends. It skips or fails tb as
// Start does when redis-server is missing.
func StartCluster(tb testing.TB, masters, replicas int) *Cluster {
	tb.Helper()
	if masters < 1 {
		tb.Fatalf("redistest: a cluster needs at least one master, not %d", masters)
	}
	args := WithArgs(
		"--cluster-enabled", "yes",
		"--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", "5000",
		"--cluster-require-full-coverage", "yes",
		// A replica's first sync otherwise waits 5 s for more replicas to
		// share the transfer.
		"--repl-diskless-sync-delay", "0",
	)
	c := &Cluster{}
	for range masters {
		c.Masters = append(c.Masters, Start(tb, args))
	}
	for range replicas {
		c.Replicas = append(c.Replicas, Start(tb, args))
	}

	per := clusterSlots / masters
	for i, m := range c.Masters {
		first, last := i*per, (i+1)*per-1
		if i == masters-1 {
			last = clusterSlots - 1
		}
		mustOK(tb, m, "CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(first), strconv.Itoa(last))
	}
	for _, n := range c.Nodes()[1:] {
		mustOK(tb, c.Masters[0], "CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(n.Port()))
	}
	nodes := len(c.Masters) + len(c.Replicas)
	waitFor(tb, func() error {
		for _, n := range c.Nodes() {
			if err := clusterInfoHas(n, "cluster_known_nodes:"+strconv.Itoa(nodes)); err != nil {
				return err
			}
		}
		return nil
	})
	for i, r := range c.Replicas {
		id, err := c.Masters[i%masters].Do("CLUSTER", "MYID").ToString()
		if err != nil {
			tb.Fatalf("redistest: CLUSTER MYID: %v", err)
		}
		mustOK(tb, r, "CLUSTER", "REPLICATE", id)
	}
	waitFor(tb, func() error {
		for _, n := range c.Nodes() {
			if err := clusterInfoHas(n, "cluster_state:ok", "cluster_slots_ok:"+strconv.Itoa(clusterSlots)); err != nil {
				return err
			}
		}
		for _, r := range c.Replicas {
			info, err := r.Do("INFO", "replication").ToString()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "master_link_status:up") {
				return fmt.Errorf("replica %s is not in sync yet", r.Addr())
			}
		}
		return nil
	})
	return c
}

// mustOK sends a command that must succeed.
func mustOK(tb testing.TB, s *Server, args ...string) {
	tb.Helper()
	if err := s.Do(args...).Error(); err != nil {
		tb.Fatalf("redistest: %s on %s: %v", strings.Join(args, " "), s.Addr(), err)
	}
}

// clusterInfoHas reports whether CLUSTER INFO of s has every line in want.
func clusterInfoHas(s *Server, want ...string) error {
	info, err := s.Do("CLUSTER", "INFO").ToString()
	if err != nil {
		return err
	}
	for _, w := range want {
		if !strings.Contains(info, w+"\r\n") {
			return fmt.Errorf("node %s: CLUSTER INFO lacks %q", s.Addr(), w)
		}
	}
	return nil
}

// waitFor polls check until it returns nil, failing tb after clusterTimeout
// (which also bounds how long a Sentinel takes to learn its master).
func waitFor(tb testing.TB, check func() error) {
	tb.Helper()
	deadline := time.Now().Add(clusterTimeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redistest: cluster not ready after %v: %v", clusterTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
