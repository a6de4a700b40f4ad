package larder_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/larderhq/larder"
	"github.com/larderhq/larder/driver"
)

// The linearizability proof: a database (an in-memory map of versioned
// values) sits behind a cache; writers commit to the database and then
// invalidate the key, readers read through the cache. Every operation's
// call and return are recorded and porcupine checks, key by key, that the
// history is one a single register could have produced: no reader ever sees
// a value older than one a completed write (or an earlier read) already
// made visible.
//
// Random scheduling seldom lands an invalidation between a filler's load
// and its fill, the window where cache-aside goes wrong, so the fill hook
// forces it there: at a random share of fills it hands the
// key to a writer and waits while that writer commits a new version and
// invalidates. The same harness run over a naive cache-aside (Get, load,
// Set) must find the stale set; that is the proof it can see the bug.

const (
	linReaders = 16
	linWriters = 4
	linKeys    = 32
	linRuns    = 20
	// linMaxReads bounds each reader's reads per run. A run ends once
	// linMinForced interleavings have been forced, which takes a few
	// hundred reads per reader through Fetch (every forced invalidation
	// makes the next read of the key a miss) and up to about 1,500 through
	// the naive cache (whose stale sets turn the next reads into hits);
	// reaching the bound means the hook stopped forcing, and fails the run.
	linMaxReads = 4000
	// linForceP is the share of fills at which the hook forces a writer's
	// commit and invalidation between the load and the fill. A forced
	// invalidation makes the next read of the key a miss, whose fill may be
	// forced again; below 1 the chain ends and the key serves hits until
	// the next write, so both paths of Fetch are exercised.
	linForceP = 0.7
	// linWriteP is the chance that a writer with no request from the hook
	// writes a random key when it gets the processor: enough unforced
	// invalidations to start chains and to overwrite the naive cache's
	// stale sets, not so many that hits become rare.
	linWriteP = 0.25
	// linMinForced is what the issue asks of every run.
	linMinForced = 1000
	// linCheckTimeout bounds porcupine per run; register histories of a
	// few hundred operations per key check in milliseconds.
	linCheckTimeout = 60 * time.Second
)

// linDB is the database behind the cache: each key holds the version last
// committed (0 before any commit). Versions are unique across keys, so a
// read names exactly the write it observed.
type linDB struct {
	mu   sync.Mutex
	vals map[string]int64
	last int64
}

func (db *linDB) get(key string) int64 {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.vals[key]
}

func (db *linDB) commit(key string) int64 {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.last++
	db.vals[key] = db.last
	return db.last
}

// linInput is a porcupine operation's input: a write of value, or a read
// (whose output is the value read).
type linInput struct {
	key   string
	write bool
	value int64
}

// linModel is a register per key, starting at 0.
var linModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(linInput).key
			byKey[k] = append(byKey[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(byKey))
		for _, ops := range byKey {
			out = append(out, ops)
		}
		return out
	},
	Init: func() any { return int64(0) },
	Step: func(state, input, output any) (bool, any) {
		in := input.(linInput)
		if in.write {
			return true, in.value
		}
		return output.(int64) == state.(int64), state
	},
	DescribeOperation: func(input, output any) string {
		in := input.(linInput)
		if in.write {
			return fmt.Sprintf("write(%s, %d)", in.key, in.value)
		}
		return fmt.Sprintf("read(%s) = %d", in.key, output)
	},
	DescribeState: func(state any) string { return strconv.FormatInt(state.(int64), 10) },
}

// linRun is one seeded run of the harness.
type linRun struct {
	seed uint64
	// caches are the instances under test, all in one namespace over one
	// store; reader i reads through caches[i%len(caches)].
	caches []*larder.Cache
	db     *linDB
	keys   []string
	clock  atomic.Int64 // porcupine's timestamps: a linearizable counter

	hookMu  sync.Mutex
	hookRng *rand.Rand
	forced  atomic.Int64
	reqs    chan linForce // the hook's requests to the writers
	stopped chan struct{} // closed once every reader is done
}

type linForce struct {
	key  string
	done chan struct{}
}

func (r *linRun) now() int64 { return r.clock.Add(1) }

// fillHook runs between a load and its fill. At a random share of fills it
// has a writer commit and invalidate that very key, and waits until the
// write has returned, so that the invalidation lands in the window.
func (r *linRun) fillHook(full string) {
	key, ok := strings.CutPrefix(full, r.caches[0].Key(""))
	if !ok {
		return
	}
	r.hookMu.Lock()
	force := r.hookRng.Float64() < linForceP
	r.hookMu.Unlock()
	if !force {
		return
	}
	done := make(chan struct{})
	r.reqs <- linForce{key: key, done: done}
	<-done
	r.forced.Add(1)
}

// write is the writers' operation: commit, then invalidate.
func (r *linRun) write(ctx context.Context, client int, key string) (porcupine.Operation, error) {
	call := r.now()
	v := r.db.commit(key)
	_, err := r.caches[0].Delete(ctx, key)
	ret := r.now()
	return porcupine.Operation{ClientId: client, Input: linInput{key: key, write: true, value: v}, Call: call, Return: ret}, err
}

// writer serves the hook's requests first and otherwise writes random
// keys, yielding in between, so that invalidations also land where nobody
// forced them and the naive cache's stale sets get overwritten and tried
// again. It keeps serving after an error (reported at the end), so that
// no hook waits for it forever.
func (r *linRun) writer(ctx context.Context, client int) (ops []porcupine.Operation, firstErr error) {
	rng := rand.New(rand.NewPCG(r.seed, uint64(client)))
	for {
		var done chan struct{}
		key := r.keys[rng.IntN(len(r.keys))]
		select {
		case <-r.stopped:
			return ops, firstErr
		case req := <-r.reqs:
			key, done = req.key, req.done
		default:
			runtime.Gosched()
			if rng.Float64() >= linWriteP {
				continue
			}
		}
		op, err := r.write(ctx, client, key)
		ops = append(ops, op)
		if done != nil {
			close(done)
		}
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("write %s: %w", key, err)
		}
	}
}

// linReadFunc reads key through the cache under test, loading from db on a
// miss; hook is the fill hook, for variants that have no Fetch to run it.
type linReadFunc func(ctx context.Context, c *larder.Cache, db *linDB, key string, hook func(full string)) (int64, error)

// fetchRead is the product: Fetch, with its lease and single-flight.
func fetchRead(ctx context.Context, c *larder.Cache, db *linDB, key string, _ func(string)) (int64, error) {
	return larder.Fetch(ctx, c, key, func(context.Context) (int64, error) { return db.get(key), nil })
}

// naiveRead is the classic cache-aside with its stale-set race: a value
// loaded before an invalidation is Set after it and stays.
func naiveRead(ctx context.Context, c *larder.Cache, db *linDB, key string, hook func(string)) (int64, error) {
	var v int64
	if ok, err := c.Get(ctx, key, &v); err != nil || ok {
		return v, err
	}
	v = db.get(key)
	hook(c.Key(key))
	return v, c.Set(ctx, key, v, 0)
}

// runOnce runs the readers and writers and returns the history.
func (r *linRun) runOnce(t *testing.T, read linReadFunc) []porcupine.Operation {
	ctx := context.Background()
	var wg sync.WaitGroup
	histories := make([][]porcupine.Operation, linReaders+linWriters)
	errs := make([]error, linReaders+linWriters)
	for w := range linWriters {
		client := linReaders + w
		wg.Go(func() { histories[client], errs[client] = r.writer(ctx, client) })
	}
	var readers sync.WaitGroup
	for client := range linReaders {
		readers.Go(func() {
			rng := rand.New(rand.NewPCG(r.seed, uint64(client)))
			var ops []porcupine.Operation
			for range linMaxReads {
				if r.forced.Load() >= linMinForced {
					break
				}
				key := r.keys[rng.IntN(len(r.keys))]
				call := r.now()
				v, err := read(ctx, r.caches[client%len(r.caches)], r.db, key, r.fillHook)
				ret := r.now()
				if err != nil {
					errs[client] = fmt.Errorf("read %s: %w", key, err)
					break
				}
				ops = append(ops, porcupine.Operation{ClientId: client, Input: linInput{key: key}, Output: v, Call: call, Return: ret})
				// Yield as the writers do: in memory mode nothing blocks,
				// and readers running whole time slices would starve them.
				runtime.Gosched()
			}
			histories[client] = ops
		})
	}
	readers.Wait()
	close(r.stopped)
	wg.Wait()
	for client, err := range errs {
		if err != nil {
			t.Fatalf("seed %d: client %d: %v", r.seed, client, err)
		}
	}
	return slices.Concat(histories...)
}

// linCheck checks a run's history. On an illegal history it logs, for
// the first illegal key, the operations around the first one porcupine
// could not linearize, and writes porcupine's visualisation when
// LARDER_LIN_VIS names a directory.
func linCheck(t *testing.T, seed uint64, history []porcupine.Operation, verbose bool) porcupine.CheckResult {
	t.Helper()
	res := porcupine.CheckOperationsTimeout(linModel, history, linCheckTimeout)
	if res != porcupine.Illegal || !verbose {
		return res
	}
	for _, part := range linModel.Partition(history) {
		slices.SortFunc(part, func(a, b porcupine.Operation) int { return cmp.Compare(a.Call, b.Call) })
		r, info := porcupine.CheckOperationsVerbose(linModel, part, linCheckTimeout)
		if r != porcupine.Illegal {
			continue
		}
		// The first operation, in call order, outside the longest
		// linearizable prefix is where the history goes wrong.
		done := map[int]bool{}
		for _, l := range info.PartialLinearizations()[0] {
			if len(l) > len(done) {
				clear(done)
				for _, id := range l {
					done[id] = true
				}
			}
		}
		stuck := 0
		for stuck < len(part) && done[stuck] {
			stuck++
		}
		var b strings.Builder
		for i := max(stuck-20, 0); i < min(stuck+20, len(part)); i++ {
			op := part[i]
			mark := " "
			if i == stuck {
				mark = ">"
			}
			fmt.Fprintf(&b, "  %s [%d, %d] client %d: %s\n", mark, op.Call, op.Return, op.ClientId, linModel.DescribeOperation(op.Input, op.Output))
		}
		t.Logf("seed %d: illegal history of key %s, around the first operation not linearizable (>):\n%s", seed, part[0].Input.(linInput).key, b.String())
		if dir := os.Getenv("LARDER_LIN_VIS"); dir != "" {
			path := filepath.Join(dir, fmt.Sprintf("lin-%s-%d.html", strings.ReplaceAll(t.Name(), "/", "-"), seed))
			if err := porcupine.VisualizePath(linModel, info, path); err != nil {
				t.Logf("visualisation: %v", err)
			} else {
				t.Logf("visualisation: %s", path)
			}
		}
		break
	}
	return res
}

// linBaseSeed is the first run's seed: LARDER_LIN_SEED when set (to replay
// a failure), otherwise the clock, so that each run of the suite explores
// other choices. Either way it is logged.
func linBaseSeed(t *testing.T) uint64 {
	if s := os.Getenv("LARDER_LIN_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("LARDER_LIN_SEED=%q: %v", s, err)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}

// TestFetchLinearizable: reads through Fetch are linearizable against
// writes that commit to the database and then invalidate, in memory and
// redis modes, over 20 seeded runs of at least 1,000 forced
// fill/invalidate interleavings each; in redis mode also with the readers
// split between two instances, which then contend through the store's
// leases and not only through single-flight. The same harness over a naive
// cache-aside finds its stale set.
func TestFetchLinearizable(t *testing.T) {
	base := linBaseSeed(t)
	t.Logf("base seed %d (replay with LARDER_LIN_SEED=%d)", base, base)
	keys := make([]string, linKeys)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
	}
	for _, tc := range []struct {
		name      string
		mode      string
		instances int
		read      linReadFunc
		// linearizable: every run must check Ok; otherwise at least one
		// run must be Illegal.
		linearizable bool
	}{
		{"Fetch", "memory", 1, fetchRead, true},
		{"naive", "memory", 1, naiveRead, false},
		{"Fetch", "redis", 1, fetchRead, true},
		{"Fetch, two instances", "redis", 2, fetchRead, true},
		{"naive", "redis", 1, naiveRead, false},
	} {
		t.Run(tc.mode+"/"+tc.name, func(t *testing.T) {
			// One store (a client each per instance) for all runs; each
			// run has Caches, and a namespace, of its own.
			a, b := instances(t, tc.mode)
			stores := []driver.Store{a.Store(), b.Store()}[:tc.instances]
			var illegal, unknown, ops int
			var checking time.Duration
			var forcedMin, forcedSum, hits, dropped = int64(-1), int64(0), uint64(0), uint64(0)
			for run := range linRuns {
				seed := base + uint64(run)
				r := &linRun{
					seed: seed, db: &linDB{vals: map[string]int64{}}, keys: keys,
					hookRng: rand.New(rand.NewPCG(seed, 1<<32)),
					reqs:    make(chan linForce), stopped: make(chan struct{}),
				}
				for _, s := range stores {
					// A generous budget: a store call abandoned under -race
					// would be a lost invalidation, a failure of the store
					// and not of the protocol this test is about.
					o := larder.Options{Store: s, Namespace: "lin" + strconv.Itoa(run), Timeout: 5 * time.Second}
					if tc.instances > 1 {
						// Across instances the local tier is coherent
						// within the store's invalidation delay, not
						// linearizable (coherence_test.go measures it);
						// this case is about the store tier's leases.
						o.LocalMaxBytes = -1
					}
					c := newCache(t, o)
					larder.SetFillHook(c, r.fillHook)
					r.caches = append(r.caches, c)
				}
				history := r.runOnce(t, tc.read)
				var st larder.Stats
				for _, c := range r.caches {
					s := c.Stats()
					st.Store.Hits += s.Store.Hits
					st.Store.Errors += s.Store.Errors + s.Store.Timeouts
					st.Fetch.FillsDropped += s.Fetch.FillsDropped
				}
				forced := r.forced.Load()
				ops += len(history)
				forcedSum += forced
				if forcedMin < 0 || forced < forcedMin {
					forcedMin = forced
				}
				hits += st.Store.Hits
				dropped += st.Fetch.FillsDropped
				if forced < linMinForced {
					t.Errorf("seed %d: %d forced fill/invalidate interleavings, want ≥ %d", seed, forced, linMinForced)
				}
				if st.Store.Errors > 0 {
					t.Fatalf("seed %d: %d store failures: the run proves nothing", seed, st.Store.Errors)
				}
				if tc.linearizable && st.Fetch.FillsDropped < uint64(forced) {
					// Each forced invalidation removed a lease, so each
					// must have cost its fill.
					t.Errorf("seed %d: %d fills dropped for %d forced invalidations", seed, st.Fetch.FillsDropped, forced)
				}
				checkStart := time.Now()
				res := linCheck(t, seed, history, tc.linearizable)
				checking += time.Since(checkStart)
				switch res {
				case porcupine.Illegal:
					illegal++
					if tc.linearizable {
						t.Errorf("seed %d: illegal history (%d operations)", seed, len(history))
					}
				case porcupine.Unknown:
					unknown++
					if tc.linearizable {
						t.Errorf("seed %d: porcupine gave up after %v", seed, linCheckTimeout)
					}
				}
			}
			t.Logf("%d runs: %d illegal histories, %d unknown; forced interleavings per run: min %d, mean %d; "+
				"%d operations, %d store hits, %d fills dropped in all; porcupine took %v",
				linRuns, illegal, unknown, forcedMin, forcedSum/linRuns, ops, hits, dropped, checking.Round(time.Millisecond))
			if !tc.linearizable && illegal == 0 {
				t.Errorf("the naive cache-aside passed %d runs: the harness cannot see a stale set", linRuns)
			}
		})
	}
}
