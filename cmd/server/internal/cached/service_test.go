package cached_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/cmd/server/internal/cached"
	"github.com/larderhq/larder/cmd/server/internal/user"
	"github.com/larderhq/larder/cmd/server/internal/userdb"
	"github.com/larderhq/larder/internal/storetest"
	"github.com/larderhq/larder/memstore"
)

// counting counts the reads that reach the database.
type counting struct {
	user.Service
	gets, lists, dashboards atomic.Int64
}

func (c *counting) Get(ctx context.Context, id int64) (user.User, error) {
	c.gets.Add(1)
	return c.Service.Get(ctx, id)
}

func (c *counting) List(ctx context.Context, page, size int) (user.Page, error) {
	c.lists.Add(1)
	return c.Service.List(ctx, page, size)
}

func (c *counting) Dashboard(ctx context.Context) (user.Dashboard, error) {
	c.dashboards.Add(1)
	return c.Service.Dashboard(ctx)
}

func setup(t *testing.T, enabled bool) (*cached.Service, *counting) {
	t.Helper()
	ctx := context.Background()
	db, err := userdb.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "c.db"), userdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Seed(ctx, 30, time.Now()); err != nil {
		t.Fatal(err)
	}
	var opts larder.Options
	if enabled {
		opts.Store = storetest.Memory(t, memstore.Options{})
	}
	c, err := larder.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	origin := &counting{Service: db}
	return cached.New(origin, c, cached.Options{}), origin
}

func TestReadsHitAfterFirstLoad(t *testing.T) {
	svc, db := setup(t, true)
	ctx := context.Background()
	for range 3 {
		if _, err := svc.Get(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.List(ctx, 1, 10); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Dashboard(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if db.gets.Load() != 1 || db.lists.Load() != 1 || db.dashboards.Load() != 1 {
		t.Fatalf("database reads: gets %d lists %d dashboards %d; want 1 each", db.gets.Load(), db.lists.Load(), db.dashboards.Load())
	}
}

func TestWritesInvalidate(t *testing.T) {
	svc, db := setup(t, true)
	ctx := context.Background()
	p, _ := svc.List(ctx, 3, 10)
	_, _ = svc.Dashboard(ctx)
	u, err := svc.Create(ctx, user.NewUser{Name: "N", Email: "n@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	// Invalidate-on-write: the create is visible at once; one read fills.
	for range 2 {
		if got, _ := svc.Get(ctx, u.ID); got.ID != u.ID || db.gets.Load() != 1 {
			t.Fatalf("Get after Create = %+v with %d database reads, want 1", got, db.gets.Load())
		}
	}
	p2, _ := svc.List(ctx, 3, 10)
	d, _ := svc.Dashboard(ctx)
	if p2.Total != p.Total+1 || d.TotalUsers != p.Total+1 || db.lists.Load() != 2 || db.dashboards.Load() != 2 {
		t.Fatalf("after Create: list total %d, dashboard %d (was %d); reads lists %d dashboards %d",
			p2.Total, d.TotalUsers, p.Total, db.lists.Load(), db.dashboards.Load())
	}
	bio := "changed"
	if _, err := svc.Update(ctx, 1, user.Update{Bio: &bio}); err != nil {
		t.Fatal(err)
	}
	// Write-through: the update is cached without a database read.
	if got, _ := svc.Get(ctx, 1); got.Bio != bio || db.gets.Load() != 1 {
		t.Fatalf("Get after Update = %+v with %d database reads, want 1", got, db.gets.Load())
	}
	if err := svc.Delete(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Get(ctx, u.ID); err == nil {
		t.Fatal("deleted user still served")
	}
	if p3, _ := svc.List(ctx, 3, 10); p3.Total != p.Total {
		t.Fatalf("list total after Delete = %d, want %d", p3.Total, p.Total)
	}
}

func TestMissingUserIsCachedBriefly(t *testing.T) {
	svc, db := setup(t, true)
	ctx := context.Background()
	for range 5 {
		if _, err := svc.Get(ctx, 99); !errors.Is(err, user.ErrNotFound) {
			t.Fatalf("Get(99) = %v, want user.ErrNotFound", err)
		}
	}
	if db.gets.Load() != 1 {
		t.Fatalf("%d database reads for 5 Gets of a missing user, want 1", db.gets.Load())
	}
}

func TestOffModeBypasses(t *testing.T) {
	svc, db := setup(t, false)
	ctx, l := cached.Track(context.Background())
	for range 2 {
		if _, err := svc.Get(ctx, 2); err != nil {
			t.Fatal(err)
		}
	}
	if db.gets.Load() != 2 || *l != (cached.Lookup{Used: true, Bypass: true}) {
		t.Fatalf("off mode: %d database reads, lookup %+v", db.gets.Load(), *l)
	}
	if n, err := svc.Warm(ctx, 10, 2, nil); n != 0 || err != nil {
		t.Fatalf("Warm in off mode = %d, %v", n, err)
	}
}

func TestWarm(t *testing.T) {
	svc, db := setup(t, true)
	ctx := context.Background()
	var calls int
	n, err := svc.Warm(ctx, 10, 3, func(done, total int) { calls++ })
	if n != 10 || err != nil || calls != 10 {
		t.Fatalf("Warm = %d, %v with %d progress calls", n, err, calls)
	}
	tctx, l := cached.Track(ctx)
	if _, err := svc.Get(tctx, 30); err != nil || *l != (cached.Lookup{Used: true, Hit: true}) || db.gets.Load() != 0 {
		t.Fatalf("warmed user 30: err %v, lookup %+v, database reads %d", err, *l, db.gets.Load())
	}
	if _, err := svc.Dashboard(ctx); err != nil || db.dashboards.Load() != 1 {
		t.Fatalf("dashboard after warm: %v, reads %d (1 by Warm itself)", err, db.dashboards.Load())
	}
}

// TestNegativeHitIsAHit: a "not found" answered from the negative cache
// is recorded as a hit, not as a miss.
func TestNegativeHitIsAHit(t *testing.T) {
	svc, db := setup(t, true)
	var lookups []cached.Lookup
	for range 2 {
		ctx, l := cached.Track(context.Background())
		if _, err := svc.Get(ctx, 999999); !errors.Is(err, user.ErrNotFound) {
			t.Fatalf("Get(999999) = %v, want not found", err)
		}
		lookups = append(lookups, *l)
	}
	if lookups[0] != (cached.Lookup{Used: true}) || lookups[1] != (cached.Lookup{Used: true, Hit: true}) {
		t.Fatalf("lookups = %+v, want a miss (not stored) then a hit", lookups)
	}
	if n := db.gets.Load(); n != 1 {
		t.Fatalf("%d database reads, want 1 (the second answered by the negative cache)", n)
	}
}

// scripted answers Update with the users it is given, in order, as a
// database would for updates whose write-throughs arrive out of order.
type scripted struct {
	user.Service
	updates []user.User
}

func (s *scripted) Update(ctx context.Context, id int64, up user.Update) (user.User, error) {
	u := s.updates[0]
	s.updates = s.updates[1:]
	return u, nil
}

// TestWriteThroughComparesVersions: the write-through of an update that
// committed first (version 2) but arrives last, with a later updated_at
// (its clock was read after the other's), does not replace version 3.
func TestWriteThroughComparesVersions(t *testing.T) {
	ctx := context.Background()
	c, err := larder.New(larder.Options{Store: storetest.Memory(t, memstore.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	next := &scripted{updates: []user.User{
		{ID: 1, Name: "N", Bio: "committed second", UpdatedAt: at, Version: 3},
		{ID: 1, Name: "N", Bio: "committed first", UpdatedAt: at.Add(time.Second), Version: 2},
	}}
	svc := cached.New(next, c, cached.Options{})
	bio := "x"
	for range 2 {
		if _, err := svc.Update(ctx, 1, user.Update{Bio: &bio}); err != nil {
			t.Fatal(err)
		}
	}
	var got user.User
	if ok, err := c.Get(ctx, "user:1", &got); !ok || err != nil || got.Version != 3 || got.Bio != "committed second" {
		t.Fatalf("cached user:1 = %+v (found %v, %v); want version 3", got, ok, err)
	}
}
