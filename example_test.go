package larder_test

import (
	"context"
	"fmt"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/memstore"
)

func ExampleNew() {
	store, err := memstore.New(memstore.Options{MaxBytes: 64 << 20})
	if err != nil {
		panic(err)
	}
	c, err := larder.New(larder.Options{Store: store, Namespace: "myapp"})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	fmt.Println(c.Enabled(), c.Mode(), c.Key("user:42"))
	// Output: true memory myapp:user:42
}

func ExampleCache_Get() {
	store, _ := memstore.New(memstore.Options{})
	c, _ := larder.New(larder.Options{Store: store})
	defer c.Close()
	ctx := context.Background()

	type User struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	var u User
	if ok, _ := c.Get(ctx, "user:42", &u); !ok {
		u = User{ID: 42, Name: "Ada"} // load from the database
		_ = c.Set(ctx, "user:42", u, time.Hour)
	}
	ok, _ := c.Get(ctx, "user:42", &u)
	fmt.Println(ok, u.Name)
	// Output: true Ada
}

func ExampleCache_Clear() {
	store, _ := memstore.New(memstore.Options{})
	c, _ := larder.New(larder.Options{Store: store})
	defer c.Close()
	ctx := context.Background()
	for _, k := range []string{"users:list:1", "users:list:2", "user:1"} {
		_ = c.Set(ctx, k, k, 0)
	}
	n, _ := c.Clear(ctx, "users:list:*")
	fmt.Println(n)
	// Output: 2
}

func ExampleEscapeGlob() {
	email := "a*b@example.com"
	fmt.Println("user:" + larder.EscapeGlob(email) + ":*")
	// Output: user:a\*b@example.com:*
}

func ExampleOptions_off() {
	// A nil Store is off mode, for development without Redis (DEBUG=true
	// in package config): reads miss, writes do nothing.
	c, _ := larder.New(larder.Options{})
	defer c.Close()
	_ = c.Set(context.Background(), "k", 1, 0)
	ok, _ := c.Get(context.Background(), "k", new(int))
	fmt.Println(c.Enabled(), ok)
	// Output: false false
}
