package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/redistest"
	"github.com/larderhq/larder/internal/storetest"
	"github.com/larderhq/larder/memstore"
	"github.com/larderhq/larder/redisstore"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

func TestMain(m *testing.M) { redistest.Main(m) }

// item is a ~200-byte JSON value, the size DESIGN.md's numbers use.
type item struct {
	ID        int       `json:"id"`
	Name      string    `json:"name"`
	Email     string    `json:"email"`
	Bio       string    `json:"bio"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func sample() item {
	t := time.Date(2026, 11, 26, 4, 0, 0, 0, time.UTC)
	return item{ID: 42, Name: "Ada Lovelace", Email: "ada@example.com",
		Bio: "Mathematician and writer, known for her work on the Analytical Engine.", CreatedAt: t, UpdatedAt: t}
}

// parallelism makes b.RunParallel use 64 goroutines on this 2-core
// machine, as in DESIGN.md's measurements.
func parallelism() int { return 32 }

type cacheOps struct {
	get func(ctx context.Context, key string, dst *item) (bool, error)
	set func(ctx context.Context, key string, v item) error
}

func subjects(b testing.TB) map[string]cacheOps {
	srv := redistest.Shared(b)
	out := map[string]cacheOps{}

	out["larder-memory"] = larderOps(b, storetest.Memory(b, memstore.Options{}), 0)

	rs := storetest.Redis(b, redisstore.Options{Addr: srv.Addr(), DB: srv.FreshDB()})
	// The Redis path itself: BenchmarkTierHit measures the local tier.
	out["larder-redis"] = larderOps(b, rs, -1)

	gr := goredis.NewClient(&goredis.Options{Addr: srv.Addr(), DB: srv.FreshDB(), PoolSize: 64})
	b.Cleanup(func() { _ = gr.Close() })
	out["go-redis"] = cacheOps{
		get: func(ctx context.Context, key string, dst *item) (bool, error) {
			data, err := gr.Get(ctx, key).Bytes()
			if err == goredis.Nil {
				return false, nil
			} else if err != nil {
				return false, err
			}
			return true, json.Unmarshal(data, dst)
		},
		set: func(ctx context.Context, key string, v item) error {
			data, err := json.Marshal(v)
			if err != nil {
				return err
			}
			return gr.Set(ctx, key, data, time.Hour).Err()
		},
	}

	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr()}, SelectDB: srv.FreshDB(), DisableCache: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(rc.Close)
	out["rueidis"] = cacheOps{
		get: func(ctx context.Context, key string, dst *item) (bool, error) {
			data, err := rc.Do(ctx, rc.B().Get().Key(key).Build()).AsBytes()
			if rueidis.IsRedisNil(err) {
				return false, nil
			} else if err != nil {
				return false, err
			}
			return true, json.Unmarshal(data, dst)
		},
		set: func(ctx context.Context, key string, v item) error {
			data, err := json.Marshal(v)
			if err != nil {
				return err
			}
			return rc.Do(ctx, rc.B().Set().Key(key).Value(rueidis.BinaryString(data)).Ex(time.Hour).Build()).Error()
		},
	}
	return out
}

func larderOps(b testing.TB, s driver.Store, localMaxBytes int64) cacheOps {
	c, err := larder.New(larder.Options{Store: s, Namespace: "bench", LocalMaxBytes: localMaxBytes})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = c.Close() })
	return cacheOps{
		get: func(ctx context.Context, key string, dst *item) (bool, error) { return c.Get(ctx, key, dst) },
		set: func(ctx context.Context, key string, v item) error { return c.Set(ctx, key, v, time.Hour) },
	}
}

var order = []string{"go-redis", "rueidis", "larder-redis", "larder-memory"}

// BenchmarkGetHit reads one hot key, decoded into a struct.
func BenchmarkGetHit(b *testing.B) {
	ctx := context.Background()
	subs := subjects(b)
	for _, name := range order {
		ops := subs[name]
		b.Run(name, func(b *testing.B) {
			if err := ops.set(ctx, "hot", sample()); err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(parallelism())
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var v item
				for pb.Next() {
					ok, err := ops.get(ctx, "hot", &v)
					if err != nil || !ok {
						b.Fatalf("get = %v, %v", ok, err)
					}
				}
			})
		})
	}
}

// BenchmarkSet writes one of 1,000 keys, encoded from a struct.
func BenchmarkSet(b *testing.B) {
	ctx := context.Background()
	subs := subjects(b)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("item:%d", i)
	}
	for _, name := range order {
		ops := subs[name]
		b.Run(name, func(b *testing.B) {
			b.SetParallelism(parallelism())
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				v := sample()
				i := 0
				for pb.Next() {
					i++
					if err := ops.set(ctx, keys[i%len(keys)], v); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
