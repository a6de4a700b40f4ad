package userdb_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/larderhq/larder/cmd/server/internal/user"
	"github.com/larderhq/larder/cmd/server/internal/userdb/dbtest"
)

func TestList(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, e dbtest.Engine) {
		t.Parallel()
		ctx := context.Background()
		s := open(t, e, nil)

		// An empty table lists as an empty page, not an error.
		p, err := s.List(ctx, 1, 10)
		if err != nil || p.Total != 0 || p.Users == nil || len(p.Users) != 0 {
			t.Fatalf("empty List = %+v, %v", p, err)
		}

		// Ids 1..23, created in reverse order of emails so that ordering by
		// id is not an accident of another order.
		const n = 23
		for i := 1; i <= n; i++ {
			mustCreate(t, s, fmt.Sprintf("u%02d@example.com", n+1-i))
		}
		all, err := s.List(ctx, 1, user.MaxPageSize)
		if err != nil {
			t.Fatal(err)
		}
		allIDs := ids(all.Users)
		if len(allIDs) != n || !slices.IsSorted(allIDs) {
			t.Fatalf("full list ids = %v, want %d ascending ids", allIDs, n)
		}

		tests := []struct {
			page, size int
			lo, hi     int // the expected users, as allIDs[lo:hi]
		}{
			{page: 1, size: 10, lo: 0, hi: 10},
			{page: 2, size: 10, lo: 10, hi: 20},
			{page: 3, size: 10, lo: 20, hi: 23}, // last, partial page
			{page: 4, size: 10, lo: 23, hi: 23}, // past the end: empty
			{page: 1000, size: 100, lo: 23, hi: 23},
			{page: math.MaxInt, size: 100, lo: 23, hi: 23}, // offset overflows int64
			{page: 1, size: 1, lo: 0, hi: 1},
			{page: 23, size: 1, lo: 22, hi: 23},
			{page: 1, size: 23, lo: 0, hi: 23},
			{page: 1, size: 100, lo: 0, hi: 23},
		}
		for _, tt := range tests {
			name := fmt.Sprintf("page %d size %d", tt.page, tt.size)
			p, err := s.List(ctx, tt.page, tt.size)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if p.Total != n || p.Page != tt.page || p.Size != tt.size {
				t.Errorf("%s: total/page/size = %d/%d/%d, want %d/%d/%d", name, p.Total, p.Page, p.Size, n, tt.page, tt.size)
			}
			if p.Users == nil {
				t.Errorf("%s: Users is nil, want empty slice (JSON [])", name)
			}
			if got, want := ids(p.Users), allIDs[tt.lo:tt.hi]; !slices.Equal(got, want) {
				t.Errorf("%s: ids = %v, want %v", name, got, want)
			}
		}
		if p, _ := s.List(ctx, 1, 10); p.Pages() != 3 {
			t.Errorf("Pages = %d, want 3", p.Pages())
		}
	})
}

func TestRecent(t *testing.T) {
	t.Parallel()
	dbtest.Run(t, func(t *testing.T, e dbtest.Engine) {
		t.Parallel()
		ctx := context.Background()
		clock := newClock(testEpoch, 0)
		s := open(t, e, clock)

		if got, err := s.Recent(ctx, 5); err != nil || got == nil || len(got) != 0 {
			t.Fatalf("Recent on empty table = %v, %v; want empty slice", got, err)
		}

		// Creation times out of id order, with a tie: ids 2 and 4 share the
		// newest instant, so the tie goes to the higher id.
		base := testEpoch.Truncate(time.Microsecond)
		offsets := []time.Duration{ // by id 1..6
			3 * time.Hour, 5 * time.Hour, time.Hour, 5 * time.Hour, 4 * time.Hour, 2 * time.Hour,
		}
		for i, d := range offsets {
			clock.Set(base.Add(d))
			mustCreate(t, s, fmt.Sprintf("r%d@example.com", i+1))
		}
		wantOrder := []int64{4, 2, 5, 1, 6, 3}

		for _, n := range []int{0, 1, 2, 3, 6, 7, user.MaxRecent} {
			got, err := s.Recent(ctx, n)
			if err != nil {
				t.Fatalf("Recent(%d): %v", n, err)
			}
			want := wantOrder[:min(n, len(wantOrder))]
			if !slices.Equal(ids(got), want) {
				t.Errorf("Recent(%d) ids = %v, want %v", n, ids(got), want)
			}
		}
		// Recent reads back what Get reads.
		got, _ := s.Recent(ctx, 1)
		u, err := s.Get(ctx, 4)
		if err != nil || got[0] != u {
			t.Errorf("Recent(1) = %+v, Get(4) = %+v, %v", got[0], u, err)
		}
	})
}
