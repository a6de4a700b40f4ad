package larder

import (
	"context"
	"errors"
	"testing"
)

func newTestFiller(t *testing.T, maxRefreshes int) *filler {
	t.Helper()
	o, err := Options{MaxRefreshes: maxRefreshes}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	bg := newBackground()
	t.Cleanup(bg.stop)
	return newFiller(o, newCaller(o), nil, bg)
}

// TestRunLoad: the loader's panic, "not found" and a value that does not
// encode each come back as the Fetch documents them, and are counted.
func TestRunLoad(t *testing.T) {
	ctx := context.Background()
	t.Run("panic", func(t *testing.T) {
		f := newTestFiller(t, 1)
		_, _, _, err := runLoad(ctx, f, "k", func(context.Context) (int, error) { panic("boom") }, true)
		var pe *PanicError
		if !errors.As(err, &pe) || !errors.Is(err, ErrPanic) || pe.Key != "k" || pe.Value != "boom" {
			t.Fatalf("runLoad of a panicking loader: %v, want a *PanicError for k", err)
		}
		if s := f.stats.snapshot(); s.Loads != 1 || s.LoadErrors != 1 {
			t.Fatalf("Stats %+v, want 1 load and 1 load error", s)
		}
	})
	t.Run("not found", func(t *testing.T) {
		f := newTestFiller(t, 1)
		missing := errors.New("no such row")
		_, _, _, err := runLoad(ctx, f, "k", func(context.Context) (int, error) {
			return 0, errors.Join(ErrNotFound, missing)
		}, true)
		var nf *NotFoundError
		if !errors.As(err, &nf) || !errors.Is(err, missing) || nf.Key != "k" {
			t.Fatalf("runLoad of a loader that found nothing: %v, want a *NotFoundError wrapping its error", err)
		}
		if s := f.stats.snapshot(); s.Loads != 1 || s.LoadErrors != 0 {
			t.Fatalf("Stats %+v, want 1 load and no load error", s)
		}
	})
	t.Run("a value that does not encode", func(t *testing.T) {
		f := newTestFiller(t, 1)
		v, data, _, err := runLoad(ctx, f, "k", func(context.Context) (chan int, error) { return make(chan int), nil }, true)
		if err != nil || v == nil || data != nil {
			t.Fatalf("runLoad = %v, %q, %v; want the value, no data and no error", v, data, err)
		}
		if err := encodeErr("k", v, data, err); !errors.Is(err, ErrEncode) {
			t.Fatalf("encodeErr = %v, want ErrEncode", err)
		}
		if _, data, _, _ := runLoad(ctx, f, "k", func(context.Context) (int, error) { return 1, nil }, false); data != nil {
			t.Fatal("runLoad encoded a value it was told not to")
		}
	})
}

// TestClaimRefresh: one background refresh per key, and no more at once
// than the slots allow.
func TestClaimRefresh(t *testing.T) {
	f := newTestFiller(t, 2)
	if !f.claimRefresh("a") {
		t.Fatal("the first refresh of a was refused")
	}
	if f.claimRefresh("a") {
		t.Fatal("a second refresh of a was let through while one runs")
	}
	if !f.claimRefresh("b") {
		t.Fatal("a refresh of b was refused with a slot free")
	}
	if f.claimRefresh("c") {
		t.Fatal("a third refresh was let through with two slots")
	}
	f.endRefresh("a")
	if !f.claimRefresh("c") {
		t.Fatal("an ended refresh did not give its slot back")
	}
}

// TestBackground: nothing starts once stop has begun, and stop waits for
// what runs.
func TestBackground(t *testing.T) {
	b := newBackground()
	release, ended := make(chan struct{}), make(chan struct{})
	b.spawn(func() {
		<-release
		close(ended)
	})
	go func() { <-b.ctx.Done(); close(release) }()
	b.stop()
	select {
	case <-ended:
	default:
		t.Fatal("stop returned before its goroutine ended")
	}
	if b.enter() {
		t.Fatal("enter after stop let a goroutine start")
	}
}
