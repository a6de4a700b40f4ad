package redisstore

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/larderhq/larder/cachetest"
	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/redistest"
)

// TestCluster runs the store against a real three-master Cluster with a
// replica, where keys live in different slots on different nodes: the
// multi-key paths (Delete, GetMany, SetMany) must split by slot, and Clear
// and Count must visit every master once and no replica.
func TestCluster(t *testing.T) {
	t.Parallel()
	cluster := redistest.StartCluster(t, 3, 1)
	addrs := strings.Join(cluster.Addrs(), ",")

	t.Run("operations", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Options{Addr: addrs})
		if c := s.conn.Load(); c == nil || !c.cluster {
			t.Fatal("the store did not detect the Cluster")
		}
		ctx := ctxFor(t, 30*time.Second)
		const n = 3000 // several SCAN batches per master
		items := make([]driver.Item, n)
		keys := make([]string, n)
		for i := range items {
			keys[i] = "op:" + strconv.Itoa(i)
			items[i] = driver.Item{Key: keys[i], Value: []byte(strconv.Itoa(i)), TTL: time.Minute}
		}
		if err := s.SetMany(ctx, items); err != nil {
			t.Fatalf("SetMany across slots: %v", err)
		}
		vals, err := s.GetMany(ctx, append(keys[:10:10], "op:missing"))
		if err != nil {
			t.Fatalf("GetMany across slots: %v", err)
		}
		for i, v := range vals[:10] {
			if string(v) != strconv.Itoa(i) {
				t.Fatalf("GetMany value %d = %q", i, v)
			}
		}
		if vals[10] != nil {
			t.Fatalf("GetMany of a missing key = %q, want nil", vals[10])
		}
		if got, err := s.Delete(ctx, keys[:100]...); got != 100 || err != nil {
			t.Fatalf("Delete across slots = %d, %v; want 100", got, err)
		}
		if got, err := s.Count(ctx, "op:*"); got != n-100 || err != nil {
			t.Fatalf("Count = %d, %v; want %d (each key once, replicas skipped)", got, err, n-100)
		}
		if got, err := s.Clear(ctx, "op:*"); got != n-100 || err != nil {
			t.Fatalf("Clear = %d, %v; want %d", got, err, n-100)
		}
		if got, err := s.Count(ctx, "op:*"); got != 0 || err != nil {
			t.Fatalf("Count after Clear = %d, %v", got, err)
		}
		if ok, err := s.SetNX(ctx, "lease", []byte("a"), time.Minute); !ok || err != nil {
			t.Fatalf("SetNX = %v, %v", ok, err)
		}
		if ok, err := s.CompareAndSwap(ctx, "lease", []byte("a"), []byte("b"), time.Minute); !ok || err != nil {
			t.Fatalf("CompareAndSwap = %v, %v", ok, err)
		}
		if info, err := s.Info(ctx); err != nil || info["redis_mode"] != "cluster" {
			t.Fatalf("Info: redis_mode = %q, %v", info["redis_mode"], err)
		}
	})

	// Each master reports changes to its own keys on the connections a
	// store holds to it, which are those the store has used.
	t.Run("invalidations", func(t *testing.T) {
		t.Parallel()
		o := Options{Addr: addrs, TrackingPrefixes: []string{"inv:"}}
		a, b := newStore(t, o), newStore(t, o)
		if !a.Tracking() || !b.Tracking() {
			t.Fatal("Tracking() = false on a Cluster")
		}
		recA, recB := newRecorder().listen(t, a), newRecorder().listen(t, b)
		ctx := ctxFor(t, 30*time.Second)
		// One key owned by each master, found by asking it.
		var keys []string
		for _, m := range cluster.Masters {
			for i := 0; ; i++ {
				k := "inv:" + strconv.Itoa(i)
				if err := m.Do("SET", k, "0").Error(); err == nil {
					keys = append(keys, k)
					break
				}
			}
		}
		// B reads them, as a tier in front of it would.
		if _, err := b.GetMany(ctx, keys); err != nil {
			t.Fatal(err)
		}
		items := make([]driver.Item, len(keys))
		for i, k := range keys {
			items[i] = driver.Item{Key: k, Value: []byte("1"), TTL: time.Minute}
		}
		if err := a.SetMany(ctx, items); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			recA.waitKey(t, k)
			recB.waitKey(t, k)
		}
		for i, m := range cluster.Masters {
			before := recB.count(keys[i])
			if err := m.Do("DEL", keys[i]).Error(); err != nil {
				t.Fatal(err)
			}
			recB.waitFor(t, keys[i], func() bool { return recB.count(keys[i]) > before })
		}
	})

	// A store built without prefixes tracks on every node once a Cache
	// registers its namespace.
	t.Run("track", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, Options{Addr: addrs})
		if err := s.Track("trk:"); err != nil {
			t.Fatalf("Track on a Cluster: %v", err)
		}
		if !s.Tracking() {
			t.Fatal("Tracking() = false after Track on a Cluster")
		}
		rec := newRecorder().listen(t, s)
		ctx := ctxFor(t, 30*time.Second)
		// On each master, a key inside the prefix and one outside it.
		ownKey := func(m *redistest.Server, prefix string) string {
			for i := 0; ; i++ {
				k := prefix + strconv.Itoa(i)
				if err := m.Do("SET", k, "0").Error(); err == nil {
					return k
				}
			}
		}
		inside := make([]string, len(cluster.Masters))
		outside := make([]string, len(cluster.Masters))
		for i, m := range cluster.Masters {
			inside[i], outside[i] = ownKey(m, "trk:"), ownKey(m, "out:")
		}
		// The store reads them, as a tier in front of it would.
		if _, err := s.GetMany(ctx, append(slices.Clone(inside), outside...)); err != nil {
			t.Fatal(err)
		}
		for i, m := range cluster.Masters {
			// Reports on one connection come in order: once the key
			// inside has come, the one outside would have.
			for _, k := range []string{outside[i], inside[i]} {
				if err := m.Do("SET", k, "1").Error(); err != nil {
					t.Fatal(err)
				}
			}
			rec.waitKey(t, inside[i])
			if n := rec.count(outside[i]); n != 0 {
				t.Errorf("%s reported %d times, want never", outside[i], n)
			}
		}
	})

	t.Run("contract", func(t *testing.T) {
		t.Parallel()
		cachetest.Run(t, func(t *testing.T) driver.Store {
			s, err := New(Options{Addr: addrs})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			return s
		})
	})
}
