package bench

import (
	"context"
	"testing"
	"time"

	gocache "github.com/go-redis/cache/v9"
	"github.com/larderhq/larder"
	"github.com/larderhq/larder/internal/redistest"
	"github.com/larderhq/larder/internal/storetest"
	"github.com/larderhq/larder/redisstore"
	goredis "github.com/redis/go-redis/v9"
)

// BenchmarkTierHit compares reads of one hot ~200-byte value served from
// process memory and from Redis:
//
//   - larder-local: larder in redis mode with its local tier
//     (decoded values, coherent through RESP3 tracking), by Get and by Fetch;
//   - go-redis-cache-tinylfu: go-redis/cache with its TinyLFU local cache
//     (not coherent across instances);
//   - larder-redis-tier-off: larder in redis mode without the tier;
//   - go-redis: GET and json.Unmarshal, the baseline.
func BenchmarkTierHit(b *testing.B) {
	ctx := context.Background()
	srv := redistest.Shared(b)
	want := sample()

	newLarder := func(local int64) *larder.Cache {
		o := redisstore.Options{Addr: srv.Addr(), DB: srv.FreshDB()}
		if local >= 0 {
			// Tracking only with the tier, as config sets it up: with
			// CACHE_LOCAL_MAX_BYTES=0 nothing asks Redis to track.
			o.TrackingPrefixes = []string{"bench:"}
		}
		s := storetest.Redis(b, o)
		c, err := larder.New(larder.Options{Store: s, Namespace: "bench", LocalMaxBytes: local})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close() })
		if err := c.Set(ctx, "hot", want, time.Hour); err != nil {
			b.Fatal(err)
		}
		return c
	}
	withTier, tierOff := newLarder(0), newLarder(-1)

	rdb := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), DB: srv.FreshDB(), PoolSize: 64})
	b.Cleanup(func() { _ = rdb.Close() })
	gc := gocache.New(&gocache.Options{Redis: rdb, LocalCache: gocache.NewTinyLFU(10000, time.Minute)})
	if err := gc.Set(&gocache.Item{Ctx: ctx, Key: "hot", Value: want, TTL: time.Hour}); err != nil {
		b.Fatal(err)
	}
	plain := subjects(b)["go-redis"]
	if err := plain.set(ctx, "hot", want); err != nil {
		b.Fatal(err)
	}

	load := func(context.Context) (item, error) { return want, nil }
	cases := []struct {
		name string
		get  func(*item) error
	}{
		{"larder-local-get", func(v *item) error { return hit(withTier.Get(ctx, "hot", v)) }},
		{"larder-local-fetch", func(v *item) error {
			got, err := larder.Fetch(ctx, withTier, "hot", load)
			*v = got
			return err
		}},
		{"go-redis-cache-tinylfu", func(v *item) error { return gc.Get(ctx, "hot", v) }},
		{"larder-redis-tier-off", func(v *item) error { return hit(tierOff.Get(ctx, "hot", v)) }},
		{"go-redis", func(v *item) error { return hit(plain.get(ctx, "hot", v)) }},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var v item
			if err := tc.get(&v); err != nil || !same(v, want) {
				b.Fatalf("first read = %+v, %v", v, err)
			}
			b.SetParallelism(parallelism())
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var v item
				for pb.Next() {
					if err := tc.get(&v); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// same compares items as values: go-redis/cache's msgpack gives times back
// in the local zone, which == would count as a difference.
func same(a, b item) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Email == b.Email && a.Bio == b.Bio &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}
