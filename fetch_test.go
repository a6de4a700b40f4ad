package larder_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/larderhq/larder"
)

func TestFetchBasics(t *testing.T) {
	for name, open := range modes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c := open(t, larder.Options{})
			var loads atomic.Int64
			load := func(context.Context) (user, error) { loads.Add(1); return user{1, "Ada"}, nil }
			for range 3 {
				u, err := larder.Fetch(ctx, c, "user:1", load)
				if err != nil || u.Name != "Ada" {
					t.Fatalf("Fetch = %+v, %v", u, err)
				}
			}
			if loads.Load() != 1 {
				t.Fatalf("%d loads for 3 fetches, want 1", loads.Load())
			}
			// Fetch and Get share one format.
			var u user
			if ok, _ := c.Get(ctx, "user:1", &u); !ok || u.Name != "Ada" {
				t.Fatalf("Get after Fetch = %v %+v", ok, u)
			}
			if err := c.Set(ctx, "user:2", user{2, "Bob"}, 0); err != nil {
				t.Fatal(err)
			}
			if u, err := larder.Fetch(ctx, c, "user:2", load); err != nil || u.Name != "Bob" {
				t.Fatalf("Fetch after Set = %+v, %v", u, err)
			}
			// Invalidation is seen at once.
			if _, err := c.Delete(ctx, "user:1"); err != nil {
				t.Fatal(err)
			}
			if _, err := larder.Fetch(ctx, c, "user:1", load); err != nil || loads.Load() != 2 {
				t.Fatalf("after Delete: err %v, loads %d", err, loads.Load())
			}
		})
	}
}

func TestFetchNegativeAndErrors(t *testing.T) {
	for name, open := range modes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c := open(t, larder.Options{})
			var loads atomic.Int64
			missing := func(context.Context) (user, error) {
				loads.Add(1)
				return user{}, larder.ErrNotFound
			}
			for range 5 {
				if _, err := larder.Fetch(ctx, c, "user:404", missing, larder.NegativeTTL(time.Minute)); !errors.Is(err, larder.ErrNotFound) {
					t.Fatalf("err = %v, want ErrNotFound", err)
				}
			}
			if loads.Load() != 1 || c.Stats().Fetch.Negative != 4 {
				t.Fatalf("loads %d, negative hits %d; want 1, 4", loads.Load(), c.Stats().Fetch.Negative)
			}
			boom := errors.New("database down")
			failing := func(context.Context) (user, error) { return user{}, boom }
			if _, err := larder.Fetch(ctx, c, "user:500", failing); !errors.Is(err, boom) {
				t.Fatalf("err = %v, want the loader's", err)
			}
			// A failed load leaves no lease behind.
			ok := func(context.Context) (user, error) { return user{5, "E"}, nil }
			if u, err := larder.Fetch(ctx, c, "user:500", ok, larder.LeaseWait(50*time.Millisecond)); err != nil || u.ID != 5 {
				t.Fatalf("after a failed load: %+v, %v", u, err)
			}
		})
	}
}

func TestFetchTags(t *testing.T) {
	for name, open := range modes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c := open(t, larder.Options{})
			var loads atomic.Int64
			load := func(context.Context) (int, error) { return int(loads.Add(1)), nil }
			for _, k := range []string{"list:1", "list:2", "list:3"} {
				if _, err := larder.Fetch(ctx, c, k, load, larder.Tags("lists")); err != nil {
					t.Fatal(err)
				}
			}
			_, _ = larder.Fetch(ctx, c, "list:1", load, larder.Tags("lists"))
			if loads.Load() != 3 {
				t.Fatalf("%d loads before invalidation, want 3", loads.Load())
			}
			if err := c.InvalidateTags(ctx, "lists"); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"list:1", "list:2", "list:3"} {
				_, _ = larder.Fetch(ctx, c, k, load, larder.Tags("lists"))
			}
			if loads.Load() != 6 {
				t.Fatalf("%d loads after invalidating the tag, want 6", loads.Load())
			}
		})
	}
}

func TestFetchOffModeLoadsDirectly(t *testing.T) {
	c := newCache(t, larder.Options{})
	var loads int
	for range 3 {
		_, _ = larder.Fetch(context.Background(), c, "k", func(context.Context) (int, error) { loads++; return 1, nil })
	}
	if loads != 3 {
		t.Fatalf("%d loads in off mode, want 3", loads)
	}
}

func TestSetVersionedNeverGoesBackwards(t *testing.T) {
	for name, open := range modes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c := open(t, larder.Options{})
			steps := []struct {
				version int64
				want    bool
			}{{5, true}, {3, false}, {5, false}, {9, true}, {8, false}}
			for _, s := range steps {
				got, err := c.SetVersioned(ctx, "row", s.version, s.version, time.Minute)
				if err != nil || got != s.want {
					t.Fatalf("SetVersioned(v%d) = %v, %v; want %v", s.version, got, err, s.want)
				}
			}
			var v int64
			if ok, _ := c.Get(ctx, "row", &v); !ok || v != 9 {
				t.Fatalf("after the writes Get = %v, %d; want 9", ok, v)
			}
			// Concurrent writers of versions 1..64 leave 64.
			done := make(chan struct{})
			for ver := int64(1); ver <= 64; ver++ {
				go func() { _, _ = c.SetVersioned(ctx, "race", ver, ver, time.Minute); done <- struct{}{} }()
			}
			for range 64 {
				<-done
			}
			if ok, _ := c.Get(ctx, "race", &v); !ok || v != 64 {
				t.Fatalf("after concurrent writers Get = %v, %d; want 64", ok, v)
			}
		})
	}
}
