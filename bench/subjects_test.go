package bench

import (
	"context"
	"errors"
	"testing"
)

// TestSubjectsAgree checks that every benchmarked subject stores and
// returns the same value, so that the benchmarks compare like with like.
func TestSubjectsAgree(t *testing.T) {
	ctx := context.Background()
	want := sample()
	for name, ops := range subjects(t) {
		t.Run(name, func(t *testing.T) {
			var got item
			if ok, err := ops.get(ctx, "absent", &got); ok || err != nil {
				t.Fatalf("get(absent) = %v, %v; want a miss", ok, err)
			}
			if err := ops.set(ctx, "agree", want); err != nil {
				t.Fatal(err)
			}
			if ok, err := ops.get(ctx, "agree", &got); !ok || err != nil || got != want {
				t.Fatalf("get = %v, %v, %+v; want %+v", ok, err, got, want)
			}
		})
	}
}

var errMiss = errors.New("bench: unexpected miss")

// hit turns a (found, err) pair into an error for a read that must hit.
func hit(ok bool, err error) error {
	if err == nil && !ok {
		return errMiss
	}
	return err
}
