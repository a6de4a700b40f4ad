package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/cmd/server/internal/server"
	"github.com/larderhq/larder/cmd/server/internal/user"
	"github.com/larderhq/larder/cmd/server/internal/userdb"
	"github.com/larderhq/larder/cmd/server/internal/userdb/dbtest"
	"github.com/larderhq/larder/config"
	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/redistest"
)

// TestTwoInstancesAgree runs two instances of the service on one database
// and one Redis, both in redis mode with the local tier on, and sends
// 40 concurrent PUTs to one user, 20 through each, each with a bio of its
// own. Once all are acknowledged the cache must hold what the database
// committed last: the row, the Redis entry and a GET through each
// instance show the same bio and version. Each trial uses a new user;
// every trial that disagrees is reported.
//
// Write-through once compared updated_at, read from the clock before the
// UPDATE waited for the row's lock: the cache could then keep an update
// that committed before the last one, for as long as the entry's TTL.
func TestTwoInstancesAgree(t *testing.T) {
	const trials, writers = 20, 40
	dbtest.Run(t, func(t *testing.T, e dbtest.Engine) {
		ctx := context.Background()
		srv := redistest.Shared(t)
		vars := map[string]string{
			"DATABASE_URL": e.DSN,
			"REDIS_URL":    fmt.Sprintf("redis://%s/%d", srv.Addr(), srv.FreshDB()),
			"CACHE_WARM":   "false",
			// A write-through that times out fails open and leaves the
			// entry it could not replace: a fault, not an ordering, and
			// not this test's subject. The default budget (50 ms) is
			// short for a loaded machine running the race detector.
			"CACHE_TIMEOUT": "5s",
			"LOG_LEVEL":     "info",
		}
		a := start(t, vars, server.Hooks{})
		b := start(t, vars, server.Hooks{})

		db, err := userdb.Open(ctx, e.DSN, userdb.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		// The Redis entry itself, read by a Cache of the same namespace
		// with no local tier in front of Redis.
		var cfg config.Config
		if err := config.Parse(&cfg, map[string]string{"REDIS_URL": vars["REDIS_URL"], "CACHE_TIMEOUT": "5s", "CACHE_LOCAL_MAX_BYTES": "0"}); err != nil {
			t.Fatal(err)
		}
		direct, err := cfg.Open(nil, larder.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = direct.Close() })
		if direct.Namespace() != a.cache.Namespace() {
			t.Fatalf("reader namespace %q, service %q", direct.Namespace(), a.cache.Namespace())
		}

		disagreed := 0
		for trial := range trials {
			if !agreeTrial(t, ctx, trial, writers, a, b, db, direct) {
				disagreed++
			}
		}
		t.Logf("%s: %d of %d trials left the cache disagreeing with the database", e.Name, disagreed, trials)
		for name, s := range map[string]*service{"a": a, "b": b} {
			st := s.cache.Stats()
			t.Logf("instance %s: store %+v, local %+v, coherence %s", name, st.Store, st.Local, st.LocalCoherence)
		}
	})
}

// agreeTrial runs one trial and reports whether the cache agreed with the
// database; it fails t on anything else that goes wrong.
func agreeTrial(t *testing.T, ctx context.Context, trial, writers int, a, b *service, db *userdb.DB, direct *larder.Cache) bool {
	var created user.User
	a.expect(201, "POST", "/api/v1/users", map[string]string{"name": "Contended", "email": fmt.Sprintf("contended%d@example.com", trial)}).json(t, &created)
	path := fmt.Sprintf("/api/v1/users/%d", created.ID)
	key := fmt.Sprintf("user:%d", created.ID)

	// Both instances cache the user, in Redis and in their tiers, so the
	// writes below have entries to replace.
	for _, s := range []*service{a, b, a, b} {
		s.expect(200, "GET", path, nil)
	}
	if trial == 0 {
		for name, s := range map[string]*service{"a": a, "b": b} {
			if st := s.cache.Stats(); st.Mode != driver.ModeRedis || st.LocalCoherence != "tracking" {
				t.Fatalf("instance %s: mode %s, local tier %q; want redis with a tracking tier", name, st.Mode, st.LocalCoherence)
			}
		}
	}

	type ack struct {
		bio string
		u   user.User
		err error
	}
	acks := make([]ack, writers)
	var wg sync.WaitGroup
	begin := make(chan struct{})
	for i := range writers {
		s := a
		if i%2 == 1 {
			s = b
		}
		bio := fmt.Sprintf("trial-%d-bio-%d", trial, i)
		wg.Go(func() {
			<-begin
			acks[i].bio = bio
			r, err := s.send("PUT", path, map[string]string{"bio": bio})
			switch {
			case err != nil:
				acks[i].err = err
			case r.code != 200:
				acks[i].err = fmt.Errorf("PUT %s = %d %s", path, r.code, r.body)
			default:
				acks[i].err = json.Unmarshal(r.body, &acks[i].u)
			}
		})
	}
	close(begin)
	wg.Wait()
	var last ack // the write that got the highest version
	for i, k := range acks {
		if k.err != nil {
			t.Fatalf("trial %d: write %d: %v", trial, i, k.err)
		}
		if k.u.Bio != k.bio {
			t.Fatalf("trial %d: PUT of %q answered %+v", trial, k.bio, k.u)
		}
		if k.u.Version > last.u.Version {
			last = k
		}
	}

	// The service reads its own writes at once; another instance's, once
	// its tier hears of them. Redis sends a write's invalidation to every
	// tracking connection before the replies to commands sent on it later,
	// and rueidis handles it before those replies, so a round trip through
	// each instance makes sure its tier has heard of every write above.
	for _, s := range []*service{a, b} {
		if err := s.cache.Ping(ctx); err != nil {
			t.Fatalf("trial %d: ping: %v", trial, err)
		}
	}

	row, err := db.Get(ctx, created.ID)
	if err != nil {
		t.Fatalf("trial %d: database: %v", trial, err)
	}
	if row.Version != created.Version+int64(writers) || row.Bio != last.bio {
		t.Fatalf("trial %d: database holds %q at version %d; want %d writes applied, the last %q at version %d",
			trial, row.Bio, row.Version, writers, last.bio, last.u.Version)
	}
	var entry user.User
	found, err := direct.Get(ctx, key, &entry)
	if err != nil || !found {
		t.Fatalf("trial %d: no cache entry for %s after the writes (found %v, %v)", trial, key, found, err)
	}
	var viaA, viaB user.User
	a.expect(200, "GET", path, nil).json(t, &viaA)
	b.expect(200, "GET", path, nil).json(t, &viaB)

	var bad []string
	for _, got := range []struct {
		where string
		u     user.User
	}{{"cache entry", entry}, {"GET via a", viaA}, {"GET via b", viaB}} {
		if got.u.Bio != row.Bio || got.u.Version != row.Version {
			bad = append(bad, fmt.Sprintf("%s %q (version %d)", got.where, got.u.Bio, got.u.Version))
		}
	}
	if len(bad) > 0 {
		t.Errorf("trial %d: database holds %q (version %d), but %s", trial, row.Bio, row.Version, strings.Join(bad, ", "))
		return false
	}
	return true
}
