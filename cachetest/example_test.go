package cachetest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/cachetest"
)

// A Cache and a MapStore on one Clock: the test moves time, and entries
// expire in both without a sleep.
func ExampleMapStore() {
	ctx := context.Background()
	clock := cachetest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	store := cachetest.NewMapStore(clock)
	c, err := larder.New(larder.Options{Store: store, Clock: clock, Namespace: "app"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	if err := c.Set(ctx, "session", "token", 30*time.Minute); err != nil {
		log.Fatal(err)
	}
	clock.Advance(10 * time.Minute)
	left, _ := store.TTL("app:session")
	fmt.Println(store.Keys(), "expires in", left)

	clock.Advance(20 * time.Minute)
	var token string
	ok, _ := c.Get(ctx, "session", &token)
	fmt.Println("found after 30 minutes:", ok)
	// Output:
	// [app:session] expires in 20m0s
	// found after 30 minutes: false
}

// A MapStore wrapped in NewFaults is a store that fails on demand: here
// every call fails, and the Cache fails open, reading a miss.
func ExampleNewFaults() {
	ctx := context.Background()
	faults, err := cachetest.NewFaults(cachetest.NewMapStore(nil), 1, cachetest.FaultConfig{ErrorRate: 1})
	if err != nil {
		log.Fatal(err)
	}
	faults.Disable()
	c, err := larder.New(larder.Options{Store: faults.Store(), LocalMaxBytes: -1})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	_ = c.Set(ctx, "k", "v", time.Minute)

	faults.Enable()
	var v string
	ok, err := c.Get(ctx, "k", &v)
	fmt.Println("while faulty:", ok, err)
	_, err = faults.Store().Get(ctx, "app:k")
	fmt.Println("the store's error is injected:", errors.Is(err, cachetest.ErrInjected))

	faults.Disable()
	ok, _ = c.Get(ctx, "k", &v)
	fmt.Println("once healed:", ok, v)
	// Output:
	// while faulty: false <nil>
	// the store's error is injected: true
	// once healed: true v
}

// A stepping Clock makes every interval that code times come out the
// same, and every timestamp it takes distinct.
func ExampleClock_Step() {
	clock := cachetest.NewClock(time.Unix(0, 0).UTC())
	clock.Step(time.Millisecond)
	start := clock.Now()
	fmt.Println(clock.Now().Sub(start), clock.Now().Sub(start))
	// Output: 1ms 2ms
}
