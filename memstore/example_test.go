package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/larderhq/larder/cachetest"
	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/memstore"
)

func ExampleNew() {
	ctx := context.Background()
	s, err := memstore.New(memstore.Options{MaxBytes: 64 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	if err := s.Set(ctx, "app:user:42", []byte(`{"name":"Ada"}`), time.Minute); err != nil {
		log.Fatal(err)
	}
	v, err := s.Get(ctx, "app:user:42")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(v))

	_, err = s.Get(ctx, "app:user:43")
	fmt.Println(errors.Is(err, driver.ErrNotFound))
	// Output:
	// {"name":"Ada"}
	// true
}

// A fake clock makes TTLs testable without sleeping.
func ExampleOptions_clock() {
	ctx := context.Background()
	clock := cachetest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := memstore.New(memstore.Options{Clock: clock})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	_ = s.Set(ctx, "session", []byte("token"), 30*time.Minute)
	clock.Advance(29 * time.Minute)
	ok, _ := s.Exists(ctx, "session")
	fmt.Println("after 29 minutes:", ok)
	clock.Advance(time.Minute)
	ok, _ = s.Exists(ctx, "session")
	fmt.Println("after 30 minutes:", ok)
	// Output:
	// after 29 minutes: true
	// after 30 minutes: false
}

// Clear takes a Redis glob pattern; a backslash makes a metacharacter
// literal.
func ExampleStore_Clear() {
	ctx := context.Background()
	s, err := memstore.New(memstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	for _, k := range []string{"app:user:1", "app:user:2", "app:order:1", "app:user:*"} {
		_ = s.Set(ctx, k, []byte("v"), time.Minute)
	}
	n, _ := s.Clear(ctx, `app:user:\*`)
	fmt.Println("escaped:", n)
	n, _ = s.Clear(ctx, "app:user:*")
	fmt.Println("wildcard:", n)
	n, _ = s.Count(ctx, "app:*")
	fmt.Println("left:", n)
	// Output:
	// escaped: 1
	// wildcard: 2
	// left: 1
}

// SetNX takes a lease: of several callers, only the first gets it.
func ExampleStore_SetNX() {
	ctx := context.Background()
	s, err := memstore.New(memstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	for _, worker := range []string{"worker-a", "worker-b"} {
		ok, err := s.SetNX(ctx, "lease:report", []byte(worker), 10*time.Second)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(worker, "got the lease:", ok)
	}
	// Only the holder can give the lease back.
	released, _ := s.CompareAndDelete(ctx, "lease:report", []byte("worker-b"))
	fmt.Println("worker-b released it:", released)
	released, _ = s.CompareAndDelete(ctx, "lease:report", []byte("worker-a"))
	fmt.Println("worker-a released it:", released)
	// Output:
	// worker-a got the lease: true
	// worker-b got the lease: false
	// worker-b released it: false
	// worker-a released it: true
}

// A value heavier than the store's bound is refused, not stored.
func ExampleTooLargeError() {
	ctx := context.Background()
	s, err := memstore.New(memstore.Options{MaxBytes: 1 << 10})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	err = s.Set(ctx, "big", make([]byte, 4<<10), time.Minute)
	var tl *memstore.TooLargeError
	if errors.As(err, &tl) {
		fmt.Printf("refused %d bytes, limit %d\n", tl.Weight, tl.MaxWeight)
	}
	// Output:
	// refused 4227 bytes, limit 1024
}

func ExampleStore_Size() {
	ctx := context.Background()
	s, err := memstore.New(memstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	_ = s.Set(ctx, "k", []byte("12345"), time.Minute)
	entries, bytes := s.Size()
	fmt.Println(entries, bytes)
	// Output:
	// 1 134
}
