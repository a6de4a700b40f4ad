package redisstore

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/larderhq/larder/driver"
)

func TestGetManySetMany(t *testing.T) {
	t.Parallel()
	s, _, _ := sharedStore(t)
	ctx := ctxFor(t, 10*time.Second)
	items := []driver.Item{
		{Key: "b:1", Value: []byte("one"), TTL: time.Minute},
		{Key: "b:empty", Value: []byte{}, TTL: time.Minute},
		{Key: "b:bin", Value: []byte("\x00\xff"), TTL: time.Minute},
	}
	if err := s.SetMany(ctx, items); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetMany(ctx, []string{"b:1", "b:missing", "b:empty", "b:bin", "b:1"})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{[]byte("one"), nil, {}, []byte("\x00\xff"), []byte("one")}
	if len(got) != len(want) {
		t.Fatalf("GetMany returned %d values, want %d", len(got), len(want))
	}
	for i := range want {
		if (got[i] == nil) != (want[i] == nil) || string(got[i]) != string(want[i]) {
			t.Errorf("value %d = %#v, want %#v", i, got[i], want[i])
		}
	}
	got[0][0] = 'X'
	if again, _ := s.Get(ctx, "b:1"); string(again) != "one" {
		t.Fatal("GetMany returned a slice aliasing stored data")
	}
	if got, err := s.GetMany(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("GetMany(nil) = %v, %v", got, err)
	}
	if err := s.SetMany(ctx, nil); err != nil {
		t.Fatalf("SetMany(nil) = %v", err)
	}
}

func TestGetManyLarge(t *testing.T) {
	t.Parallel()
	s, _, _ := sharedStore(t)
	ctx := ctxFor(t, 10*time.Second)
	n := 2*mgetBatch + 3
	items := make([]driver.Item, 0, n/2)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "big:" + strconv.Itoa(i)
		if i%2 == 0 {
			items = append(items, driver.Item{Key: keys[i], Value: []byte(strconv.Itoa(i)), TTL: time.Minute})
		}
	}
	if err := s.SetMany(ctx, items); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetMany(ctx, keys)
	if err != nil || len(got) != n {
		t.Fatalf("GetMany = %d values, %v", len(got), err)
	}
	for i, v := range got {
		if i%2 == 0 && string(v) != strconv.Itoa(i) || i%2 == 1 && v != nil {
			t.Fatalf("value %d = %q", i, v)
		}
	}
}

func TestSetManyInvalidTTLWritesNothing(t *testing.T) {
	t.Parallel()
	s, _, _ := sharedStore(t)
	ctx := ctxFor(t, 10*time.Second)
	err := s.SetMany(ctx, []driver.Item{
		{Key: "inv:1", Value: []byte("v"), TTL: time.Minute},
		{Key: "inv:2", Value: []byte("v"), TTL: 0},
	})
	if !errors.Is(err, driver.ErrInvalidTTL) {
		t.Fatalf("SetMany = %v, want ErrInvalidTTL", err)
	}
	if ok, _ := s.Exists(ctx, "inv:1"); ok {
		t.Fatal("SetMany wrote an item although another had an invalid TTL")
	}
}
