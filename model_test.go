package larder_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/larderhq/larder"
	"github.com/larderhq/larder/cachetest"
	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/redistest"
	"github.com/larderhq/larder/memstore"
	"github.com/larderhq/larder/redisstore"
)

// The model check of the whole API. Where TestFetchLinearizable drives
// Fetch and Delete over a store that never fails, this drives every read
// and every write a user has, over a store that fails, times out and runs
// timed-out commands later, through two instances with skewed clocks and
// their local tiers on, with loaders that fail and panic.
//
// The database is a map of versioned ints; writers commit to it and then
// make the cache agree in the way of the key's family (Delete,
// InvalidateTags, SetVersioned, Set, Clear). Each key belongs to one
// family and is always read and written that family's way, as a program
// would. Porcupine checks, key by key, that the reads are those of a
// register that the writes set:
//
//   - A write's interval runs from before its commit to after its cache
//     call returned (whatever that call returned: a write whose cache call
//     failed has still committed, and issue 9 asks that it never leaves
//     stale data behind). Writes take effect in the order the database
//     committed them: two writers whose intervals overlap may not leave
//     the cache holding the older commit, as the register would allow.
//   - A read is what Get found, or what Fetch returned: its value, a value
//     beside ErrStale, or 0 for "not found" (the database starts empty).
//     A Get miss and a Fetch error read nothing.
//   - A read whose value a loader took from the database during the read
//     (the caller's own load, or a flight it shared) is a read of the
//     database, not of the cache, and is left out: between a writer's
//     commit and its invalidation the database is ahead of the cache, and
//     a reader that falls back to the loader (the store failing) sees the
//     new value while the next reader still gets the old one from the
//     cache. That is cache-aside itself, not a fault of larder; a stale
//     value the cache serves afterwards is still a read.
//   - Reads on one instance are linearizable with the writes made on it.
//     Writes made on the other instance may be missed for modelLag: each
//     instance's reads are checked in a view of their own, in which the
//     other instance's writes return modelLag later than they did.
//
// A fill hook forces writes between loads and fills, where cache-aside
// goes wrong, as in TestFetchLinearizable. The same harness over the
// naive cache-aside must find illegal histories.

const (
	// modelLag is how long after a write returns the other instance may
	// still serve the value it replaced: the coherence lag of the
	// local tier (the time an invalidation takes to arrive, and what
	// an instance that cannot hear invalidations keeps entries for), plus,
	// under the injected faults, the time a failed invalidation or
	// write-through takes to be retried until it lands (backoff from 5 ms
	// to 100 ms; a few retries fail too). The model states it; the product
	// has to meet it.
	modelLag = 250 * time.Millisecond
	// modelRuns is the number of seeded runs per mode; the naive control
	// stops at its first illegal history, or fails after modelNaiveRuns.
	modelRuns      = 20
	modelNaiveRuns = 5
	// modelSkew bounds each instance's clock offset from the system's.
	modelSkew = 5 * time.Second
	// modelBudget is Options.Timeout.
	modelBudget = 50 * time.Millisecond
	// modelErrorRate and modelTimeoutRate are the shares of store calls
	// that fail at once and that time out (to run later, up to
	// modelLateDelay after).
	modelErrorRate   = 0.015
	modelTimeoutRate = 0.015
	modelLateDelay   = 20 * time.Millisecond
	// modelLoadErrorRate and modelLoadPanicRate are the shares of loads
	// that fail and that panic. The families that serve stale values on
	// errors fail more often (modelSIEErrorRate, modelMixErrorRate), or
	// they would seldom do it.
	modelLoadErrorRate = 0.05
	modelLoadPanicRate = 0.02
	modelSIEErrorRate  = 0.3
	modelMixErrorRate  = 0.15
	// Readers and writers per instance, and reads per reader.
	modelReaders = 3
	modelWriters = 2
	modelReads   = 250
	// modelGetShare is the share of reads made with Get, not Fetch.
	modelGetShare = 0.2
	// modelForceP is the share of fills at which the hook forces a write
	// of the key between its load and its fill.
	modelForceP = 0.5
	// modelWritePause bounds a writer's pause between unforced writes,
	// modelReadPause a reader's between reads: in memory mode nothing
	// blocks, and readers that never pause would run their reads in a
	// few milliseconds, in which every read on B overlaps every other
	// operation through modelLag and porcupine's search explodes.
	modelWritePause = 8 * time.Millisecond
	modelReadPause  = time.Millisecond
	// modelWriteGapP is the share of writes that pause, up to
	// modelWriteGap, between their commit and their cache call, as an
	// application does its own work there; the writers of a racy family
	// pause more often and longer (modelRacyGapP, modelRacyGap), so that
	// they overtake each other, which is what SetVersioned is for.
	modelWriteGapP = 0.25
	modelWriteGap  = 3 * time.Millisecond
	modelRacyGapP  = 0.5
	modelRacyGap   = 15 * time.Millisecond
	// modelRunCap bounds the reads of one run, so that a product that
	// makes readers wait (a lease whose filler gave up holds a key's
	// readers for LeaseWait) costs checked reads, not the suite's time;
	// reaching it is logged.
	modelRunCap = 2 * time.Second
	// modelSlow is the duration from which a read counts as slow.
	modelSlow = 500 * time.Millisecond
	// modelOpTimeout is the context of each call: one that ends with it
	// hung, which the check reports.
	modelOpTimeout = 10 * time.Second
	// modelCheckTimeout bounds porcupine per run.
	modelCheckTimeout = 30 * time.Second
	// modelShortTTL is the TTL of the families whose entries must expire
	// while the run lasts, so that stale serving happens; modelWindow is
	// their stale window, longer than any skew between the instances.
	modelShortTTL = 40 * time.Millisecond
	modelWindow   = time.Minute
	// modelVerTTL is the TTL of versioned entries: shorter than the skew
	// between two instances, so that a writer whose clock runs ahead sees
	// live entries as expired.
	modelVerTTL = 3 * time.Second
)

// errModelLoad is a loader's failure.
var errModelLoad = errors.New("model: the database failed")

// modelFamily is a set of keys read and written one way.
type modelFamily struct {
	name string
	keys []string
	// fetch reads a key with the family's options.
	fetch func(ctx context.Context, c *larder.Cache, key string, load func(context.Context) (int64, error)) (int64, error)
	// invalidate makes the cache agree with a commit of v (0: the row was
	// deleted) and describes what it did.
	invalidate func(ctx context.Context, c *larder.Cache, key string, v int64, rng *rand.Rand) (string, error)
	// serial: writes of one key are serialized, commit and cache call
	// together (Set, which is blind, needs it; the others are made for
	// racing writers).
	serial bool
	// deletes: a write deletes the row at random instead of committing a
	// new version, so that "not found" keeps happening.
	deletes bool
	// tags of each key, for the diagnostics.
	tags func(key string) []string
	// loadErrorRate replaces modelLoadErrorRate when set.
	loadErrorRate float64
	// racy: writers pause as modelRacyGapP and modelRacyGap say.
	racy bool
}

// modelKeys is how many keys a run has, shared out among its families (at
// least four each): a run narrowed to one family by LARDER_MODEL_FAMILIES
// still spreads its operations over that many registers, since
// porcupine's search of a few crowded ones takes minutes.
const modelKeys = 32

// modelFamilies returns the families with n keys each.
func modelFamilies(n int) []*modelFamily {
	keys := func(prefix string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = prefix + strconv.Itoa(i)
		}
		return out
	}
	del := func(ctx context.Context, c *larder.Cache, key string, _ int64, _ *rand.Rand) (string, error) {
		n, err := c.Delete(ctx, key)
		return fmt.Sprintf("Delete = %d", n), err
	}
	fetchWith := func(opts ...larder.FetchOption) func(context.Context, *larder.Cache, string, func(context.Context) (int64, error)) (int64, error) {
		return func(ctx context.Context, c *larder.Cache, key string, load func(context.Context) (int64, error)) (int64, error) {
			return larder.Fetch(ctx, c, key, load, opts...)
		}
	}
	mixTags := func(key string) []string {
		i, _ := strconv.Atoi(strings.TrimPrefix(key, "mix:"))
		return []string{"mix" + strconv.Itoa(i/2)}
	}
	tagsOf := func(key string) []string {
		i, _ := strconv.Atoi(strings.TrimPrefix(key, "tag:"))
		return []string{"grp" + strconv.Itoa(i/2), "one" + strconv.Itoa(i)}
	}
	return []*modelFamily{
		{name: "plain", keys: keys("plain:"), fetch: fetchWith(), invalidate: del},
		{
			// Every Fetch option at once, and every invalidation: Delete
			// and Clear must reach tagged entries too.
			name: "mix", keys: keys("mix:"), tags: mixTags, deletes: true, loadErrorRate: modelMixErrorRate,
			fetch: func(ctx context.Context, c *larder.Cache, key string, load func(context.Context) (int64, error)) (int64, error) {
				return larder.Fetch(ctx, c, key, load, larder.Tags(mixTags(key)...), larder.TTL(modelShortTTL),
					larder.StaleWhileRevalidate(modelWindow), larder.StaleIfError(modelWindow), larder.NegativeTTL(modelWindow))
			},
			invalidate: func(ctx context.Context, c *larder.Cache, key string, _ int64, rng *rand.Rand) (string, error) {
				switch rng.IntN(3) {
				case 0:
					n, err := c.Delete(ctx, key)
					return fmt.Sprintf("Delete = %d", n), err
				case 1:
					tag := mixTags(key)[0]
					return "InvalidateTags(" + tag + ")", c.InvalidateTags(ctx, tag)
				}
				pattern := larder.EscapeGlob(key)
				n, err := c.Clear(ctx, pattern)
				return fmt.Sprintf("Clear(%s) = %d", pattern, n), err
			},
		},
		{
			name: "tag", keys: keys("tag:"), tags: tagsOf,
			fetch: func(ctx context.Context, c *larder.Cache, key string, load func(context.Context) (int64, error)) (int64, error) {
				return larder.Fetch(ctx, c, key, load, larder.Tags(tagsOf(key)...))
			},
			invalidate: func(ctx context.Context, c *larder.Cache, key string, _ int64, rng *rand.Rand) (string, error) {
				tag := tagsOf(key)[rng.IntN(2)]
				return "InvalidateTags(" + tag + ")", c.InvalidateTags(ctx, tag)
			},
		},
		{name: "swr", keys: keys("swr:"), fetch: fetchWith(larder.TTL(modelShortTTL), larder.StaleWhileRevalidate(modelWindow)), invalidate: del},
		{
			name: "sie", keys: keys("sie:"), loadErrorRate: modelSIEErrorRate,
			fetch: fetchWith(larder.TTL(modelShortTTL), larder.StaleIfError(modelWindow)), invalidate: del,
		},
		{name: "neg", keys: keys("neg:"), fetch: fetchWith(larder.NegativeTTL(modelWindow)), invalidate: del, deletes: true},
		{
			name: "ver", keys: keys("ver:"), racy: true,
			fetch: fetchWith(larder.TTL(modelVerTTL), larder.Version(func(v int64) int64 { return v })),
			invalidate: func(ctx context.Context, c *larder.Cache, key string, v int64, _ *rand.Rand) (string, error) {
				stored, err := c.SetVersioned(ctx, key, v, v, modelVerTTL)
				return fmt.Sprintf("SetVersioned(%d) = %v", v, stored), err
			},
		},
		{
			name: "set", keys: keys("set:"), fetch: fetchWith(), serial: true,
			invalidate: func(ctx context.Context, c *larder.Cache, key string, v int64, _ *rand.Rand) (string, error) {
				return fmt.Sprintf("Set(%d)", v), c.Set(ctx, key, v, 0)
			},
		},
		{
			// Keys with every glob metacharacter, which Clear must take
			// literally once escaped.
			name: "clr", keys: clearKeys(n), fetch: fetchWith(),
			invalidate: func(ctx context.Context, c *larder.Cache, key string, _ int64, rng *rand.Rand) (string, error) {
				pattern := larder.EscapeGlob(key)
				if rng.IntN(2) == 0 {
					pattern += "*"
				}
				n, err := c.Clear(ctx, pattern)
				return fmt.Sprintf("Clear(%s) = %d", pattern, n), err
			},
		},
	}
}

// clearKeys returns n keys that hold glob metacharacters.
func clearKeys(n int) []string {
	forms := []string{`clr:a*`, `clr:b?`, `clr:[c]`, `clr:d\`}
	out := make([]string, n)
	for i := range out {
		out[i] = forms[i%len(forms)] + strconv.Itoa(i)
	}
	return out
}

// modelDB is the database: the version each row holds; absent rows were
// never written or were deleted. Versions are unique across rows, so a read
// names the write it saw.
type modelDB struct {
	mu   sync.Mutex
	vals map[string]int64
	last int64
}

func (db *modelDB) get(key string) (int64, bool) {
	db.mu.Lock()
	defer db.mu.Unlock()
	v, ok := db.vals[key]
	return v, ok
}

// commit writes a new version of key, or deletes the row; it returns what
// the row holds now (0: nothing) and the commit's place in the database's
// order of commits.
func (db *modelDB) commit(key string, del bool) (value, seq int64) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.last++
	if del {
		delete(db.vals, key)
		return 0, db.last
	}
	db.vals[key] = db.last
	return db.last, db.last
}

// modelOp is one operation of the history.
type modelOp struct {
	id     int
	client int
	inst   int // 0: instance A, 1: instance B
	key    string
	write  bool
	value  int64  // written, or read
	seq    int64  // a write's place in the database's commit order
	what   string // the call and how it ended
	call   int64  // ns since the run began
	ret    int64
	dbRead bool // left out: a loader read the value during the call
	view   int  // the instance whose reads this copy is checked with
}

// modelLoad is one load that returned a value (0: not found).
type modelLoad struct {
	key   string
	value int64
	start int64
}

// modelEvent is a store fault, for the diagnostics.
type modelEvent struct {
	at   int64
	inst int
	e    cachetest.FaultEvent
}

// modelLog is a record an instance logged (the breaker opening, a store
// failure), for the diagnostics.
type modelLog struct {
	at   int64
	inst int
	msg  string
}

// modelLogHandler records what an instance logs.
type modelLogHandler struct {
	r    *modelRun
	inst int
}

func (h modelLogHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h modelLogHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h modelLogHandler) WithGroup(string) slog.Handler            { return h }

func (h modelLogHandler) Handle(_ context.Context, rec slog.Record) error {
	msg := rec.Message
	rec.Attrs(func(a slog.Attr) bool {
		msg += " " + a.String()
		return true
	})
	msg = strings.ReplaceAll(msg, "\x00", `\x00`) // tagged keys
	at := h.r.now()
	h.r.mu.Lock()
	h.r.logs = append(h.r.logs, modelLog{at: at, inst: h.inst, msg: msg})
	h.r.mu.Unlock()
	return nil
}

// modelForce is the fill hook's request that a writer write key now.
type modelForce struct {
	key  string
	done chan struct{}
}

// modelConfig is one sub-case.
type modelConfig struct {
	mode   string // "memory" or "redis"
	panics bool   // loaders panic at modelLoadPanicRate
	naive  bool   // the negative control: naive cache-aside, plain keys
	// What the LARDER_MODEL_* variables narrow (see TestModel), to tell
	// which ingredient a failure needs.
	errorRate, timeoutRate float64
	skew                   time.Duration
	families               []string // nil: all
	keys                   int      // per family; 0: modelKeys shared out
}

// modelKnobs reads the LARDER_MODEL_* variables into cfg.
func modelKnobs(t *testing.T, cfg modelConfig) modelConfig {
	cfg.errorRate, cfg.timeoutRate, cfg.skew = modelErrorRate, modelTimeoutRate, modelSkew
	switch v := os.Getenv("LARDER_MODEL_FAULTS"); v {
	case "":
	case "off":
		cfg.errorRate, cfg.timeoutRate = 0, 0
	case "errors":
		cfg.timeoutRate = 0
	case "timeouts":
		cfg.errorRate = 0
	default:
		t.Fatalf("LARDER_MODEL_FAULTS=%q: want off, errors or timeouts", v)
	}
	if v := os.Getenv("LARDER_MODEL_SKEW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			t.Fatalf("LARDER_MODEL_SKEW=%q: want a duration", v)
		}
		cfg.skew = d
	}
	if v := os.Getenv("LARDER_MODEL_KEYS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("LARDER_MODEL_KEYS=%q: want a count", v)
		}
		cfg.keys = n
	}
	if v := os.Getenv("LARDER_MODEL_FAMILIES"); v != "" && !cfg.naive {
		cfg.families = strings.Split(v, ",")
	}
	return cfg
}

// modelRun is one seeded run.
type modelRun struct {
	cfg    modelConfig
	seed   uint64
	start  time.Time
	prefix string
	caches [2]*larder.Cache
	faults [2]*cachetest.Faults
	skew   [2]time.Duration
	db     *modelDB
	fams   []*modelFamily
	famOf  map[string]*modelFamily
	keyMu  map[string]*sync.Mutex

	rngMu sync.Mutex
	rng   *rand.Rand

	reqs      chan modelForce
	stopped   chan struct{}
	forced    atomic.Int64
	readUntil time.Time
	capped    atomic.Bool

	mu     sync.Mutex
	ops    []*modelOp
	loads  []modelLoad
	events []modelEvent
	logs   []modelLog
	// rec is what run recorded, copied once the run is over: background
	// refreshes may still load, and the checks must not race with them.
	rec struct {
		ops    []*modelOp
		loads  []modelLoad
		events []modelEvent
		logs   []modelLog
	}

	loadErrs, panicked atomic.Int64

	// close closes the run's Caches and stores, once: an idle Cache still
	// writes heartbeats and probes, which would load the runs after it.
	close func()
}

func (r *modelRun) now() int64 { return time.Since(r.start).Nanoseconds() }

func (r *modelRun) draw() float64 {
	r.rngMu.Lock()
	defer r.rngMu.Unlock()
	return r.rng.Float64()
}

func (r *modelRun) record(op *modelOp) {
	r.mu.Lock()
	op.id = len(r.ops)
	r.ops = append(r.ops, op)
	r.mu.Unlock()
}

// breakerTrips counts the times a breaker said it opened.
func (r *modelRun) breakerTrips() int {
	n := 0
	for _, l := range r.rec.logs {
		if strings.Contains(l.msg, "breaker open") {
			n++
		}
	}
	return n
}

// modelEnv is what the runs of one sub-case share.
type modelEnv struct {
	srv *redistest.Server
	db  int
}

// newModelRun builds the instances of one run: two Caches in one namespace,
// each over its own Faults, with clocks skewed apart.
func newModelRun(t *testing.T, env *modelEnv, cfg modelConfig, seed uint64) *modelRun {
	t.Helper()
	r := &modelRun{
		cfg: cfg, seed: seed, db: &modelDB{vals: map[string]int64{}},
		rng:  rand.New(rand.NewPCG(seed, 1)),
		reqs: make(chan modelForce), stopped: make(chan struct{}),
		famOf: map[string]*modelFamily{}, keyMu: map[string]*sync.Mutex{},
	}
	families := len(modelFamilies(1))
	if cfg.naive {
		families = 1
	} else if cfg.families != nil {
		families = len(cfg.families)
	}
	perFamily := max(modelKeys/families, 4)
	if cfg.keys > 0 {
		perFamily = cfg.keys
	}
	for _, f := range modelFamilies(perFamily) {
		switch {
		case cfg.naive && f.name != "plain": // Get, load, Set against Delete
		case cfg.families != nil && !slices.Contains(cfg.families, f.name):
		default:
			r.fams = append(r.fams, f)
		}
	}
	if len(r.fams) == 0 {
		t.Fatalf("no family among %q", cfg.families)
	}
	for _, f := range r.fams {
		for _, k := range f.keys {
			r.famOf[k] = f
			r.keyMu[k] = new(sync.Mutex)
		}
	}
	ns := fmt.Sprintf("model-%s-%d", cfg.mode, seed)
	r.start = time.Now()
	var stores [2]driver.Store
	var mem *memstore.Store
	switch cfg.mode {
	case "memory":
		var err error
		if mem, err = memstore.New(memstore.Options{}); err != nil {
			t.Fatal(err)
		}
		stores = [2]driver.Store{mem, mem}
	case "redis":
		for i := range stores {
			s, err := redisstore.New(redisstore.Options{Addr: env.srv.Addr(), DB: env.db, TrackingPrefixes: []string{ns + ":"}})
			if err != nil {
				t.Fatal(err)
			}
			stores[i] = s
		}
	}
	for i := range r.caches {
		inst := i
		f, err := cachetest.NewFaults(stores[i], seed*2+uint64(i), cachetest.FaultConfig{
			ErrorRate: cfg.errorRate, TimeoutRate: cfg.timeoutRate, MaxDelay: modelLateDelay,
			Observe: func(e cachetest.FaultEvent) {
				at := r.now()
				r.mu.Lock()
				r.events = append(r.events, modelEvent{at: at, inst: inst, e: e})
				r.mu.Unlock()
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		f.Disable() // until the run starts
		r.faults[i] = f
		r.skew[i] = time.Duration(r.rng.Int64N(int64(2*cfg.skew)+1)) - cfg.skew
		c, err := larder.New(larder.Options{
			Store: f.Store(), Namespace: ns, Timeout: modelBudget, Clock: skewClock{r.skew[i]},
			Logger: slog.New(modelLogHandler{r, i}),
			// What an instance keeps while it cannot hear invalidations
			// (memstore never can) must fit in the lag.
			LocalFallbackTTL: modelLag / 2,
			// In memory mode both instances share one memstore: the
			// first owns it, the second borrows it.
			BorrowStore: mem != nil && i == 1,
		})
		if err != nil {
			t.Fatal(err)
		}
		larder.SetFillHook(c, r.fillHook)
		r.caches[i] = c
	}
	r.prefix = r.caches[0].Key("")
	r.close = sync.OnceFunc(func() {
		for _, f := range r.faults {
			f.Disable()
		}
		_ = r.caches[1].Close()
		_ = r.caches[0].Close()
		for _, f := range r.faults {
			f.Wait()
		}
		if mem != nil {
			_ = mem.Close()
		}
	})
	t.Cleanup(r.close)
	if cfg.mode == "redis" {
		// Until a store tracks, its instance keeps entries for the
		// fallback TTL only, and changes made before it tracked are
		// unknown to it: start once both hear invalidations.
		for i, c := range r.caches {
			src := c.Store().(driver.InvalidationSource)
			deadline := time.Now().Add(10 * time.Second)
			for !src.Tracking() {
				_ = c.Ping(context.Background())
				if time.Now().After(deadline) {
					t.Fatalf("seed %d: instance %d's store does not track", seed, i)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}
	return r
}

// fillHook runs between a load and its fill (or a refresh's swap): at a
// share of fills it has a writer write that key, and waits for the write
// to return, so that the invalidation lands in the window.
func (r *modelRun) fillHook(full string) {
	key, ok := strings.CutPrefix(full, r.prefix)
	if !ok {
		return
	}
	key, _, _ = strings.Cut(key, "\x00") // a tagged entry's key
	if r.famOf[key] == nil || r.draw() >= modelForceP {
		return
	}
	done := make(chan struct{})
	select {
	case r.reqs <- modelForce{key: key, done: done}:
	case <-r.stopped: // a background refresh after the readers ended
		return
	}
	<-done
	r.forced.Add(1)
}

// loader returns the loader of key for one read: it fails or panics at
// random, and otherwise reads the database, recording what it read.
func (r *modelRun) loader(key string) func(context.Context) (int64, error) {
	errRate := modelLoadErrorRate
	if f := r.famOf[key]; f.loadErrorRate > 0 {
		errRate = f.loadErrorRate
	}
	return func(context.Context) (int64, error) {
		start := r.now()
		x := r.draw()
		switch {
		case x < errRate:
			r.loadErrs.Add(1)
			return 0, errModelLoad
		case r.cfg.panics && x < errRate+modelLoadPanicRate:
			r.panicked.Add(1)
			panic("model: the loader of " + key + " panicked")
		}
		v, ok := r.db.get(key)
		r.mu.Lock()
		r.loads = append(r.loads, modelLoad{key: key, value: v, start: start})
		r.mu.Unlock()
		if !ok {
			return 0, fmt.Errorf("model: row %s: %w", key, larder.ErrNotFound)
		}
		return v, nil
	}
}

// write commits a write of key and makes instance inst's cache agree.
func (r *modelRun) write(client, inst int, key string, rng *rand.Rand, forced bool) {
	f := r.famOf[key]
	if f.serial {
		mu := r.keyMu[key]
		mu.Lock()
		defer mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), modelOpTimeout)
	defer cancel()
	op := &modelOp{client: client, inst: inst, key: key, write: true}
	op.call = r.now()
	op.value, op.seq = r.db.commit(key, f.deletes && rng.IntN(2) == 0)
	gapP, gap := modelWriteGapP, modelWriteGap
	if f.racy {
		gapP, gap = modelRacyGapP, modelRacyGap
	}
	if rng.Float64() < gapP {
		time.Sleep(time.Duration(rng.Int64N(int64(gap))))
	}
	what, err := f.invalidate(ctx, r.caches[inst], key, op.value, rng)
	op.ret = r.now()
	op.what = what
	if err != nil {
		op.what += " → " + err.Error()
	}
	if forced {
		op.what += " (forced)"
	}
	r.record(op)
}

// writer serves the hook's requests first and otherwise writes random
// keys after short pauses, until the readers are done.
func (r *modelRun) writer(client, inst int) {
	rng := rand.New(rand.NewPCG(r.seed, uint64(client)))
	for {
		pause := time.NewTimer(time.Duration(rng.Int64N(int64(modelWritePause))))
		select {
		case <-r.stopped:
			pause.Stop()
			return
		case req := <-r.reqs:
			pause.Stop()
			r.write(client, inst, req.key, rng, true)
			close(req.done)
		case <-pause.C:
			f := r.fams[rng.IntN(len(r.fams))]
			r.write(client, inst, f.keys[rng.IntN(len(f.keys))], rng, false)
		}
	}
}

// modelTally counts how reads ended.
type modelTally struct {
	fetched, stale, notFound, getHits, getMisses, loadFailed, panics, dbReads int
	// slow counts the calls that took modelSlow or more, slowest the
	// longest: logged, as how long the product makes readers wait
	// (leases of fills that gave up), never asserted.
	slow       int
	slowest    time.Duration
	unexpected []string
}

// reader reads random keys through instance inst.
func (r *modelRun) reader(client, inst int, tally *modelTally) {
	rng := rand.New(rand.NewPCG(r.seed, uint64(client)))
	c := r.caches[inst]
	for range modelReads {
		time.Sleep(time.Duration(rng.Int64N(int64(modelReadPause))))
		if time.Now().After(r.readUntil) {
			r.capped.Store(true)
			return
		}
		f := r.fams[rng.IntN(len(r.fams))]
		key := f.keys[rng.IntN(len(f.keys))]
		op := &modelOp{client: client, inst: inst, key: key}
		ctx, cancel := context.WithTimeout(context.Background(), modelOpTimeout)
		var v int64
		var err error
		get := !r.cfg.naive && rng.Float64() < modelGetShare
		op.call = r.now()
		switch {
		case get:
			var ok bool
			ok, err = c.Get(ctx, key, &v)
			if err == nil && !ok {
				err = errModelMiss
			}
		case r.cfg.naive:
			v, err = r.naiveRead(ctx, c, key)
		default:
			v, err = f.fetch(ctx, c, key, r.loader(key))
		}
		op.ret = r.now()
		cancel()
		if d := time.Duration(op.ret - op.call); d >= modelSlow {
			tally.slow++
			tally.slowest = max(tally.slowest, d)
		}
		op.value = v
		verb := "Fetch"
		if get {
			verb = "Get"
		}
		switch {
		case errors.Is(err, errModelMiss):
			tally.getMisses++
			continue
		case get && err == nil:
			tally.getHits++
			op.what = "Get hit"
		case err == nil:
			tally.fetched++
			op.what = verb
		case errors.Is(err, larder.ErrStale):
			tally.stale++
			op.what = verb + " → ErrStale"
		case errors.Is(err, larder.ErrNotFound):
			tally.notFound++
			op.value = 0
			op.what = verb + " → not found"
		case errors.Is(err, larder.ErrPanic):
			tally.panics++
			continue
		case errors.Is(err, errModelLoad):
			tally.loadFailed++
			continue
		default:
			if len(tally.unexpected) < 5 {
				tally.unexpected = append(tally.unexpected, fmt.Sprintf("%s(%s) on instance %c: %v", verb, key, 'A'+inst, err))
			}
			continue
		}
		r.record(op)
	}
}

var errModelMiss = errors.New("model: Get missed")

// naiveRead is the classic cache-aside with its stale set: a value loaded
// before an invalidation is Set after it and stays.
func (r *modelRun) naiveRead(ctx context.Context, c *larder.Cache, key string) (int64, error) {
	var v int64
	if ok, err := c.Get(ctx, key, &v); err != nil || ok {
		return v, err
	}
	v, err := r.loader(key)(ctx)
	switch {
	case errors.Is(err, larder.ErrNotFound):
		v = 0 // cached like any value, as naive code does
	case err != nil:
		return 0, err
	}
	r.fillHook(c.Key(key))
	return v, c.Set(ctx, key, v, 0)
}

// run runs the readers and writers with faults on, and returns the tally.
func (r *modelRun) run() modelTally {
	for _, f := range r.faults {
		f.Enable()
	}
	r.readUntil = time.Now().Add(modelRunCap)
	var writers, readers sync.WaitGroup
	client := 0
	tallies := make([]modelTally, 2*modelReaders)
	for inst := range 2 {
		for range modelWriters {
			cl := client
			writers.Go(func() { r.writer(cl, inst) })
			client++
		}
	}
	for i := range tallies {
		cl, inst := client+i, i%2
		readers.Go(func() { r.reader(cl, inst, &tallies[i]) })
	}
	readers.Wait()
	close(r.stopped)
	writers.Wait()
	for _, f := range r.faults {
		f.Disable()
		f.Wait()
	}
	r.mu.Lock()
	r.rec.ops, r.rec.loads, r.rec.events = slices.Clone(r.ops), slices.Clone(r.loads), slices.Clone(r.events)
	r.rec.logs = slices.Clone(r.logs)
	r.mu.Unlock()
	var sum modelTally
	for _, t := range tallies {
		sum.fetched += t.fetched
		sum.stale += t.stale
		sum.notFound += t.notFound
		sum.getHits += t.getHits
		sum.getMisses += t.getMisses
		sum.loadFailed += t.loadFailed
		sum.panics += t.panics
		sum.unexpected = append(sum.unexpected, t.unexpected...)
		sum.slow += t.slow
		sum.slowest = max(sum.slowest, t.slowest)
	}
	return sum
}

// history turns the run's operations into porcupine's, one view per
// instance (see below), leaving out the reads of the database.
func (r *modelRun) history(tally *modelTally) []porcupine.Operation {
	lag := modelLag.Nanoseconds()
	// Each key's loads.
	loads := map[string][]modelLoad{}
	for _, l := range r.rec.loads {
		loads[l.key] = append(loads[l.key], l)
	}
	var out []porcupine.Operation
	// Each instance's reads are checked in a view of their own: with the
	// key's writes made on that instance as they happened, and those made
	// on the other instance stretched by the lag (a write there may reach
	// this instance up to modelLag after it returned). So a read must see
	// every write of its own instance that returned before it began, and
	// every write of the other that returned more than the lag before.
	for view := range 2 {
		for _, op := range r.rec.ops {
			if !op.write {
				if op.inst != view {
					continue
				}
				if !strings.HasPrefix(op.what, "Get") {
					for _, l := range loads[op.key] {
						if l.value == op.value && l.start >= op.call && l.start <= op.ret {
							op.dbRead = true
							break
						}
					}
				}
				if op.dbRead {
					tally.dbReads++
					continue
				}
				v := *op
				v.view = view
				out = append(out, porcupine.Operation{ClientId: op.client, Input: &v, Output: op.value, Call: v.call, Return: v.ret})
				continue
			}
			v := *op
			v.view = view
			if op.inst != view {
				v.ret = op.ret + lag
			}
			out = append(out, porcupine.Operation{ClientId: op.client, Input: &v, Output: op.value, Call: v.call, Return: v.ret})
		}
	}
	return out
}

// modelPanicsRecovered reports whether a panicking loader comes back from
// Fetch as an error: today singleflight re-panics on a goroutine of its
// own, which no recover can catch and which ends the process, so it is
// asked of a child process.
func modelPanicsRecovered(t *testing.T) (bool, string) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestModelPanicProbe$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "LARDER_MODEL_PANIC_PROBE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		return false, strings.Join(lines[:min(len(lines), 6)], "\n")
	}
	return true, ""
}

// TestModelPanicProbe is run by modelPanicsRecovered in a child process.
func TestModelPanicProbe(t *testing.T) {
	if os.Getenv("LARDER_MODEL_PANIC_PROBE") == "" {
		t.Skip("run by TestModel in a child process")
	}
	s, err := memstore.New(memstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := newCache(t, larder.Options{Store: s})
	_, err = larder.Fetch(context.Background(), c, "k", func(context.Context) (int, error) { panic("probe") })
	if !errors.Is(err, larder.ErrPanic) {
		t.Fatalf("Fetch with a panicking loader = %v, want ErrPanic", err)
	}
	// The panic must not surface elsewhere either: give a re-panicking
	// goroutine the time to run.
	time.Sleep(50 * time.Millisecond)
}

// TestModel is the model check of the whole API (see the comment above
// modelLag): 0 illegal histories over modelRuns seeded runs in memory and
// in redis mode, and illegal ones from the naive cache-aside through the
// same harness.
//
// To replay or narrow a failure: LARDER_LIN_SEED (the base seed),
// LARDER_MODEL_RUNS (runs per mode), LARDER_MODEL_MODES (memory,redis),
// LARDER_MODEL_FAMILIES (plain,mix,tag,swr,sie,neg,ver,set,clr),
// LARDER_MODEL_KEYS (keys per family), LARDER_MODEL_FAULTS (off, errors
// or timeouts) and LARDER_MODEL_SKEW (the
// bound of the clock offsets, 0 for none); LARDER_MODEL_VERBOSE explains
// every illegal key, not only the shortest; LARDER_LIN_VIS writes
// porcupine's visualisation of each illegal key there.
func TestModel(t *testing.T) {
	if testing.Short() {
		t.Skip("the model check takes a minute")
	}
	base := linBaseSeed(t)
	t.Logf("base seed %d (replay with LARDER_LIN_SEED=%d); coherence lag %v, budget %v", base, base, modelLag, modelBudget)
	panics, crash := modelPanicsRecovered(t)
	if !panics {
		t.Errorf("a panicking loader ends the process (issue 8, #7); the model runs without panics:\n%s", crash)
	}
	runs := modelRuns
	if s := os.Getenv("LARDER_MODEL_RUNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("LARDER_MODEL_RUNS=%q", s)
		}
		runs = n
	}
	modes := []string{"memory", "redis"}
	if v := os.Getenv("LARDER_MODEL_MODES"); v != "" {
		modes = strings.Split(v, ",")
	}
	for _, mode := range modes {
		env := &modelEnv{}
		if mode == "redis" {
			env.srv = redistest.Shared(t)
			env.db = env.srv.FreshDB()
		}
		t.Run(mode, func(t *testing.T) {
			t.Run("api", func(t *testing.T) {
				modelSubcase(t, env, modelKnobs(t, modelConfig{mode: mode, panics: panics}), base, runs)
			})
			t.Run("naive", func(t *testing.T) {
				modelSubcase(t, env, modelKnobs(t, modelConfig{mode: mode, naive: true}), base, modelNaiveRuns)
			})
		})
	}
}

// modelSubcase runs one sub-case: every run must check Ok, or, for the
// naive control, at least one run must be illegal (it stops there).
func modelSubcase(t *testing.T, env *modelEnv, cfg modelConfig, base uint64, runs int) {
	families := "all families"
	switch {
	case cfg.naive:
		families = "plain keys through the naive cache-aside"
	case cfg.families != nil:
		families = strings.Join(cfg.families, ",")
	}
	t.Logf("%s mode, %s; clock skew ±%v; store faults %.1f %% errors + %.1f %% timeouts; loader failures %.0f %%, panics %.0f %%",
		cfg.mode, families, cfg.skew, 100*cfg.errorRate, 100*cfg.timeoutRate, 100*modelLoadErrorRate, 100*modelLoadPanicRate*map[bool]float64{true: 1}[cfg.panics])
	var illegal, unknown, ops, forced int
	var checking time.Duration
	var stats larder.Stats
	var faults cachetest.FaultCounts
	var tally modelTally
	byFamily := map[string]int{}
	for run := range runs {
		seed := base + uint64(run)
		r := newModelRun(t, env, cfg, seed)
		rt := r.run()
		history := r.history(&rt)
		var st larder.Stats
		var fc cachetest.FaultCounts
		for i, c := range r.caches {
			addStats(&st, c.Stats())
			f := r.faults[i].Counts()
			fc.Calls += f.Calls
			fc.Errors += f.Errors
			fc.Timeouts += f.Timeouts
			fc.LateRuns += f.LateRuns
		}
		r.close()
		checkStart := time.Now()
		res, dump, summaries, families := modelCheck(r, history)
		took := time.Since(checkStart)
		var writes int
		for _, op := range r.rec.ops {
			if op.write {
				writes++
			}
		}
		t.Logf("seed %d: %v; skew A %v, B %v; %d writes, %d reads checked (%d Fetch, %d ErrStale, %d not found, %d Get hits; %d left out as database reads), "+
			"%d Get misses, %d Fetch errors from failed loads, %d from panics (loads: %d failed, %d panicked); %d forced interleavings; faults: %d errors, %d timeouts (%d run late) in %d calls; "+
			"fills %d, dropped %d, lease waits %d, stale %d, stale-on-error %d, negative %d; breaker opened %d times; %d reads took %v or more (slowest %v); porcupine %v%s",
			seed, res, r.skew[0].Round(time.Millisecond), r.skew[1].Round(time.Millisecond), writes, len(history)-writes,
			rt.fetched, rt.stale, rt.notFound, rt.getHits, rt.dbReads, rt.getMisses, rt.loadFailed, rt.panics, r.loadErrs.Load(), r.panicked.Load(), r.forced.Load(),
			fc.Errors, fc.Timeouts, fc.LateRuns, fc.Calls,
			st.Fetch.Fills, st.Fetch.FillsDropped, st.Fetch.LeaseWaits, st.Fetch.Stale, st.Fetch.StaleOnError, st.Fetch.Negative,
			r.breakerTrips(), rt.slow, modelSlow, rt.slowest.Round(time.Millisecond),
			took.Round(time.Millisecond), map[bool]string{true: "; reads stopped at the run cap", false: ""}[r.capped.Load()])
		checking += took
		ops += len(history)
		forced += int(r.forced.Load())
		addStats(&stats, st)
		faults.Errors += fc.Errors
		faults.Timeouts += fc.Timeouts
		faults.LateRuns += fc.LateRuns
		tally.stale += rt.stale
		tally.notFound += rt.notFound
		tally.getHits += rt.getHits
		tally.panics += rt.panics
		tally.dbReads += rt.dbReads
		tally.slow += rt.slow
		tally.slowest = max(tally.slowest, rt.slowest)
		for _, u := range rt.unexpected {
			t.Errorf("seed %d: unexpected error: %s", seed, u)
		}
		switch res {
		case porcupine.Illegal:
			illegal++
			for _, f := range families {
				byFamily[f]++
			}
			if !cfg.naive {
				t.Errorf("seed %d: illegal history (%d operations); illegal keys:\n    %s\nthe shortest explanation:\n%s", seed, len(history), strings.Join(summaries, "\n    "), dump)
			} else {
				t.Logf("seed %d: the naive cache-aside is caught:\n%s", seed, dump)
			}
		case porcupine.Unknown:
			unknown++
			t.Errorf("seed %d: porcupine gave up after %v", seed, modelCheckTimeout)
		}
		if cfg.naive && illegal > 0 {
			runs = run + 1
			break
		}
	}
	t.Logf("%d runs: %d illegal histories, %d unknown; %d operations checked, %d reads left out as database reads, %d forced interleavings; "+
		"%d store errors, %d timeouts (%d run late); %d reads took %v or more (slowest %v); porcupine took %v",
		runs, illegal, unknown, ops, tally.dbReads, forced, faults.Errors, faults.Timeouts, faults.LateRuns,
		tally.slow, modelSlow, tally.slowest.Round(time.Millisecond), checking.Round(time.Millisecond))
	if len(byFamily) > 0 {
		t.Logf("illegal keys by family over the runs: %v", byFamily)
	}
	if cfg.naive {
		if illegal == 0 {
			t.Errorf("the naive cache-aside passed %d runs: the harness cannot see a stale set", runs)
		}
		return
	}
	if cfg.families != nil || cfg.errorRate == 0 || cfg.timeoutRate == 0 {
		return // narrowed by LARDER_MODEL_*: not every path can run
	}
	// The paths the check is about must have run, or it proved nothing.
	paths := map[string]uint64{
		"forced interleavings": uint64(forced), "store timeouts run late": faults.LateRuns, "store errors": faults.Errors,
		"reads beside ErrStale": uint64(tally.stale), "reads of not found": uint64(tally.notFound), "Get hits": uint64(tally.getHits),
		"stale-while-revalidate answers": stats.Fetch.Stale, "negative-cache answers": stats.Fetch.Negative, "fills dropped": stats.Fetch.FillsDropped,
	}
	if cfg.panics {
		paths["Fetch errors from panics"] = uint64(tally.panics)
	}
	for what, n := range paths {
		if n == 0 {
			t.Errorf("no %s in %d runs: the check does not reach that path", what, runs)
		}
	}
}

func addStats(dst *larder.Stats, s larder.Stats) {
	dst.Fetch.Fills += s.Fetch.Fills
	dst.Fetch.FillsDropped += s.Fetch.FillsDropped
	dst.Fetch.LeaseWaits += s.Fetch.LeaseWaits
	dst.Fetch.Stale += s.Fetch.Stale
	dst.Fetch.StaleOnError += s.Fetch.StaleOnError
	dst.Fetch.Negative += s.Fetch.Negative
}
