package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// bioPrefix marks the bios the writers set; any other bio (the seeded one)
// reads as counter 0, older than every write.
const bioPrefix = "staleread "

// maxLoop bounds every request loop in count, besides the run's deadline.
const maxLoop = 50_000_000

// ack is one acknowledged write: counter n was answered 200 at at.
type ack struct {
	n  int64
	at time.Time
}

// userState is what the writer of one user has had acknowledged. acks is in
// increasing n and at, since one writer writes the user, one write at a
// time.
type userState struct {
	id         int64
	writerInst int

	mu    sync.Mutex
	acked int64
	acks  []ack
}

// snapshot returns the newest acknowledged counter and the start time of a
// read, taken under the lock so that every ack counted happened before the
// read started.
func (u *userState) snapshot() (int64, time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.acked, time.Now()
}

func (u *userState) record(n int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if n > u.acked {
		u.acked = n
		u.acks = append(u.acks, ack{n: n, at: time.Now()})
	}
}

// lateness returns how late a read that started at start is when it saw
// counter seen while newest had been acknowledged: start minus the ack time
// of the first acknowledged write it missed (the write it has been behind
// the longest), or 0 when it missed none.
func (u *userState) lateness(seen, newest int64, start time.Time) time.Duration {
	if seen >= newest {
		return 0
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	i := sort.Search(len(u.acks), func(i int) bool { return u.acks[i].n > seen })
	if i == len(u.acks) {
		return 0
	}
	return max(0, start.Sub(u.acks[i].at))
}

// kind is the tally of one kind of request (reads or writes).
type kind struct {
	n, non2xx, errs, over1s int
	lat                     []time.Duration
	slowest                 time.Duration
	slowestAt               time.Duration // since the run's start
	slowestCode             int
}

func (k *kind) add(start time.Time, lat time.Duration, code int, err error, t0 time.Time) {
	k.n++
	switch {
	case err != nil:
		k.errs++
	case code < 200 || code > 299:
		k.non2xx++
	}
	if lat > time.Second {
		k.over1s++
	}
	if len(k.lat) < maxLoop {
		k.lat = append(k.lat, lat)
	}
	if lat > k.slowest {
		k.slowest, k.slowestAt, k.slowestCode = lat, start.Sub(t0), code
	}
}

func (k *kind) merge(o *kind) {
	k.n += o.n
	k.non2xx += o.non2xx
	k.errs += o.errs
	k.over1s += o.over1s
	k.lat = append(k.lat, o.lat...)
	if o.slowest > k.slowest {
		k.slowest, k.slowestAt, k.slowestCode = o.slowest, o.slowestAt, o.slowestCode
	}
}

// percentile returns the p-th percentile (0–100) of k's latencies; it
// sorts them the first time.
func (k *kind) percentile(p float64) time.Duration {
	if len(k.lat) == 0 {
		return 0
	}
	if !sort.SliceIsSorted(k.lat, func(i, j int) bool { return k.lat[i] < k.lat[j] }) {
		sort.Slice(k.lat, func(i, j int) bool { return k.lat[i] < k.lat[j] })
	}
	i := int(p / 100 * float64(len(k.lat)-1))
	return k.lat[i]
}

// bucket is one second of the run, by request start.
type bucket struct {
	reads, hits, bad int
	maxLat           time.Duration
}

// tally is what one goroutine saw; goroutines keep their own and the run
// merges them at the end, so counting costs no lock.
type tally struct {
	reads, writes kind

	sameReads, sameStale      int
	crossReads, crossStale    int
	crossLate50, crossLate150 int
	sameMaxLate, crossMaxLate time.Duration

	cacheHits, cacheStatus int // reads answered "larder; hit", reads with a Cache-Status

	buckets []bucket
}

func (t *tally) bucket(start, t0 time.Time) *bucket {
	i := int(start.Sub(t0) / time.Second)
	if i < 0 || i > 24*3600 {
		return nil
	}
	for len(t.buckets) <= i {
		t.buckets = append(t.buckets, bucket{})
	}
	return &t.buckets[i]
}

// classify counts one 200 read of u that started at start, when newest was
// the newest acknowledged counter, and returned seen.
func (t *tally) classify(u *userState, same bool, newest, seen int64, start time.Time) {
	late := u.lateness(seen, newest, start)
	if same {
		t.sameReads++
		if seen < newest {
			t.sameStale++
		}
		t.sameMaxLate = max(t.sameMaxLate, late)
		return
	}
	t.crossReads++
	if seen < newest {
		t.crossStale++
	}
	if late > 50*time.Millisecond {
		t.crossLate50++
	}
	if late > 150*time.Millisecond {
		t.crossLate150++
	}
	t.crossMaxLate = max(t.crossMaxLate, late)
}

func (t *tally) merge(o *tally) {
	t.reads.merge(&o.reads)
	t.writes.merge(&o.writes)
	t.sameReads += o.sameReads
	t.sameStale += o.sameStale
	t.crossReads += o.crossReads
	t.crossStale += o.crossStale
	t.crossLate50 += o.crossLate50
	t.crossLate150 += o.crossLate150
	t.sameMaxLate = max(t.sameMaxLate, o.sameMaxLate)
	t.crossMaxLate = max(t.crossMaxLate, o.crossMaxLate)
	t.cacheHits += o.cacheHits
	t.cacheStatus += o.cacheStatus
	for len(t.buckets) < len(o.buckets) {
		t.buckets = append(t.buckets, bucket{})
	}
	for i, b := range o.buckets {
		m := &t.buckets[i]
		m.reads += b.reads
		m.hits += b.hits
		m.bad += b.bad
		m.maxLat = max(m.maxLat, b.maxLat)
	}
}

// client issues the check's requests.
type client struct {
	http      *http.Client
	instances []*instance
	readPath  string // "/api/v1/examples/users/%d/profile" or "/api/v1/users/%d"
	t0        time.Time
}

func (c *client) readURL(inst int, id int64) string {
	return c.instances[inst].url(strings.Replace(c.readPath, "{id}", strconv.FormatInt(id, 10), 1))
}

// putBio sets user id's bio on instance inst and returns the status.
func (c *client) putBio(ctx context.Context, inst int, id int64, bio string) (int, error) {
	body, _ := json.Marshal(map[string]string{"bio": bio})
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.instances[inst].url("/api/v1/users/"+strconv.FormatInt(id, 10)), bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// getBio reads user id on instance inst and returns the status, the bio and
// whether the cache answered (Cache-Status: larder; hit), and whether a
// Cache-Status was present at all.
func (c *client) getBio(ctx context.Context, inst int, id int64) (code int, bio string, hit, status bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.readURL(inst, id), nil)
	if err != nil {
		return 0, "", false, false, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", false, false, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, "", false, false, err
	}
	cs := resp.Header.Get("Cache-Status")
	hit, status = strings.HasSuffix(cs, "; hit"), cs != ""
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, "", hit, status, nil
	}
	var v struct {
		Bio string `json:"bio"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return resp.StatusCode, "", hit, status, err
	}
	return resp.StatusCode, v.Bio, hit, status, nil
}

func counterOf(bio string) int64 {
	s, ok := strings.CutPrefix(bio, bioPrefix)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// writer writes its users in turn, each with the next counter, one write at
// a time, until ctx is done.
func (c *client) writer(ctx context.Context, users []*userState, gap time.Duration, t *tally) {
	next := make(map[int64]int64, len(users))
	for i := 0; i < maxLoop && ctx.Err() == nil; i++ {
		u := users[i%len(users)]
		n := next[u.id] + 1
		next[u.id] = n
		start := time.Now()
		code, err := c.putBio(ctx, u.writerInst, u.id, bioPrefix+strconv.FormatInt(n, 10))
		lat := time.Since(start)
		if ctx.Err() != nil {
			return // cut short by the end of the run: neither acked nor failed
		}
		t.writes.add(start, lat, code, err, c.t0)
		if b := t.bucket(start, c.t0); b != nil && (err != nil || code != http.StatusOK) {
			b.bad++
		}
		if err == nil && code == http.StatusOK {
			u.record(n)
		}
		if gap > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(gap):
			}
		}
	}
}

// reader reads random users on instance inst until ctx is done.
func (c *client) reader(ctx context.Context, inst int, users []*userState, seed uint64, t *tally) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	for i := 0; i < maxLoop && ctx.Err() == nil; i++ {
		u := users[rng.IntN(len(users))]
		newest, start := u.snapshot()
		code, bio, hit, status, err := c.getBio(ctx, inst, u.id)
		lat := time.Since(start)
		if ctx.Err() != nil {
			return
		}
		t.reads.add(start, lat, code, err, c.t0)
		b := t.bucket(start, c.t0)
		if b != nil {
			b.reads++
			b.maxLat = max(b.maxLat, lat)
			if err != nil || code != http.StatusOK {
				b.bad++
			}
		}
		if status {
			t.cacheStatus++
			if hit {
				t.cacheHits++
				if b != nil {
					b.hits++
				}
			}
		}
		if err == nil && code == http.StatusOK {
			t.classify(u, inst == u.writerInst, newest, counterOf(bio), start)
		}
	}
}
