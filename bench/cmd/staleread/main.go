// Command staleread runs the stale-read check against the reference
// service, from outside, and prints what it counted. It starts a throwaway
// redis-server on a free loopback port, builds cmd/server of the repository
// it sits in, starts one or two instances of it on one SQLite file (or the
// PostgreSQL database of -database-url), and runs, for -duration:
//
//   - one writer per user, which PUTs an increasing counter into the user's
//     bio (PUT /api/v1/users/{id}) and waits for its answer before the next;
//   - readers that GET the users' profiles (or the users, -read user).
//
// A read that starts after a write of its user was acknowledged (200) and
// returns an older counter is stale. Writes of a user go to one instance;
// a read on that instance is same-instance, a read on the other one is
// cross-instance. A read is late by its start minus the ack time of the
// first acknowledged write it did not see, the write it has been behind
// the longest: the figure a coherence bound limits.
//
// While the check runs, -fault stalls Redis every -every for -stall (sigstop:
// SIGSTOP then SIGCONT; pause: CLIENT PAUSE <stall> ALL); -load runs
// `go test -race -count=1 ./...` of the repository beside it in a loop; and
// -scenario makes one long outage -at into the run instead (stop4s,
// pause3000write, pause3000all, restart) and reports what it measured.
//
// Everything listens on loopback only, every loop is bounded in count and
// time, and the program stops by itself after -duration and kills what it
// started, also on Ctrl-C. Its exit status is 0 whatever it counted: it
// measures, it does not judge.
//
//	cd bench && go run ./cmd/staleread -instances 2 -fault sigstop -duration 30s
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type config struct {
	repo        string
	instances   int
	duration    time.Duration
	fault       string
	stall       time.Duration
	every       time.Duration
	tier        string
	load        bool
	loadLead    time.Duration
	writers     int
	readers     int
	users       int
	writeGap    time.Duration
	scenario    string
	at          time.Duration
	down        time.Duration
	read        string
	databaseURL string
	env         envFlag
	reqTimeout  time.Duration
	timeline    bool
	keep        bool
}

// envFlag collects repeated -env KEY=VALUE flags.
type envFlag []string

func (e *envFlag) String() string { return strings.Join(*e, ",") }

func (e *envFlag) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("%q is not KEY=VALUE", v)
	}
	*e = append(*e, v)
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "staleread:", err)
		os.Exit(1)
	}
}

func parseFlags() (*config, error) {
	c := &config{}
	flag.StringVar(&c.repo, "repo", "", "root of the larder repository (default: found from the working directory upwards)")
	flag.IntVar(&c.instances, "instances", 1, "instances of the service: 1 or 2")
	flag.DurationVar(&c.duration, "duration", 30*time.Second, "how long the check runs")
	flag.StringVar(&c.fault, "fault", "none", "Redis fault during the check: none, sigstop or pause")
	flag.DurationVar(&c.stall, "stall", 80*time.Millisecond, "length of each stall")
	flag.DurationVar(&c.every, "every", 500*time.Millisecond, "interval between stalls")
	flag.StringVar(&c.tier, "tier", "on", "local tier: on, or off (CACHE_LOCAL_MAX_BYTES=0)")
	flag.BoolVar(&c.load, "load", false, "run `go test -race -count=1 ./...` of the repository in a loop beside the check")
	flag.DurationVar(&c.loadLead, "load-lead", 5*time.Second, "how long the load runs before the check starts")
	flag.IntVar(&c.writers, "writers", 0, "writer goroutines, each owning users/writers users (default: one per user)")
	flag.IntVar(&c.readers, "readers", 16, "reader goroutines, spread over the instances")
	flag.IntVar(&c.users, "users", 8, "users written and read (ids 1..users)")
	flag.DurationVar(&c.writeGap, "write-gap", 0, "pause of each writer between its writes")
	flag.StringVar(&c.scenario, "scenario", "", "long outage instead of -fault: stop4s, pause3000write, pause3000all or restart")
	flag.DurationVar(&c.at, "at", 3*time.Second, "when the -scenario outage starts, into the run")
	flag.DurationVar(&c.down, "down", 500*time.Millisecond, "restart: how long Redis stays down")
	flag.StringVar(&c.read, "read", "profile", "what readers GET: profile (/api/v1/examples/users/{id}/profile) or user (/api/v1/users/{id})")
	flag.StringVar(&c.databaseURL, "database-url", "", "DATABASE_URL of the instances (default: a fresh SQLite file)")
	flag.Var(&c.env, "env", "extra KEY=VALUE for the instances, e.g. -env CACHE_TIMEOUT=2s (repeatable)")
	flag.DurationVar(&c.reqTimeout, "request-timeout", 15*time.Second, "client timeout of one request")
	flag.BoolVar(&c.timeline, "timeline", false, "print a per-second timeline (always on for -scenario)")
	flag.BoolVar(&c.keep, "keep", false, "keep the temporary directory (logs, database)")
	flag.Parse()

	if c.writers == 0 {
		c.writers = c.users
	}
	switch {
	case flag.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments %q", flag.Args())
	case c.instances != 1 && c.instances != 2:
		return nil, errors.New("-instances must be 1 or 2")
	case c.duration <= 0 || c.duration > 2*time.Hour:
		return nil, errors.New("-duration must be positive and at most 2h")
	case c.fault != "none" && c.fault != "sigstop" && c.fault != "pause":
		return nil, errors.New("-fault must be none, sigstop or pause")
	case c.fault != "none" && (c.stall <= 0 || c.every <= c.stall):
		return nil, errors.New("-stall must be positive and shorter than -every")
	case c.fault == "pause" && c.stall < time.Millisecond:
		return nil, errors.New("-stall must be at least 1ms for CLIENT PAUSE")
	case c.tier != "on" && c.tier != "off":
		return nil, errors.New("-tier must be on or off")
	case c.users < 1 || c.users > 900:
		return nil, errors.New("-users must be between 1 and 900")
	case c.writers < 1 || c.writers > c.users:
		return nil, errors.New("-writers must be between 1 and -users")
	case c.readers < 1 || c.readers > 512:
		return nil, errors.New("-readers must be between 1 and 512")
	case c.read != "profile" && c.read != "user":
		return nil, errors.New("-read must be profile or user")
	case c.reqTimeout <= 0:
		return nil, errors.New("-request-timeout must be positive")
	}
	switch c.scenario {
	case "":
	case "stop4s", "pause3000write", "pause3000all", "restart":
		if c.fault != "none" {
			return nil, errors.New("-scenario and -fault do not go together")
		}
		need := c.at + 9*time.Second
		if c.scenario == "restart" {
			need = c.at + c.down + 12*time.Second
		}
		if c.duration < need {
			return nil, fmt.Errorf("-scenario %s needs -duration of at least %v with -at %v", c.scenario, need, c.at)
		}
		c.timeline = true
	default:
		return nil, errors.New("-scenario must be stop4s, pause3000write, pause3000all or restart")
	}
	if c.repo == "" {
		r, err := findRepo()
		if err != nil {
			return nil, err
		}
		c.repo = r
	}
	return c, nil
}

// findRepo walks up from the working directory to the go.mod of the
// library, so that the program builds the service beside it (a worktree's
// own).
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for range 32 {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(strings.TrimSpace(string(b)), "module github.com/larderhq/larder\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", errors.New("no github.com/larderhq/larder go.mod above the working directory; pass -repo")
}

func run() error {
	cfg, err := parseFlags()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// A second Ctrl-C then kills the program outright; its children
		// die with it (parent-death signal).
		<-ctx.Done()
		stop()
	}()

	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		return errors.New("redis-server not found (scripts/ensure-redis.sh)")
	}
	dir, err := os.MkdirTemp("", "staleread-")
	if err != nil {
		return err
	}
	if cfg.keep {
		fmt.Println("keeping", dir)
	} else {
		defer os.RemoveAll(dir)
	}

	commit := "?"
	if out, err := exec.Command("git", "-C", cfg.repo, "rev-parse", "--short", "HEAD").Output(); err == nil {
		commit = strings.TrimSpace(string(out))
	}
	bin := filepath.Join(dir, "server")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/server")
	build.Dir = cfg.repo
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/server in %s: %v\n%s", cfg.repo, err, out)
	}

	port, err := freePort()
	if err != nil {
		return err
	}
	rs := &redisServer{bin: redisBin, dir: dir, port: port}
	defer rs.stop()
	if err := rs.start(ctx); err != nil {
		return err
	}

	tokenBytes := make([]byte, 16)
	_, _ = rand.Read(tokenBytes)
	token := hex.EncodeToString(tokenBytes)

	loopback := &net.Dialer{Timeout: 2 * time.Second}
	hc := &http.Client{
		Timeout: cfg.reqTimeout,
		Transport: &http.Transport{
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 512,
			IdleConnTimeout:     30 * time.Second,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if host, _, _ := net.SplitHostPort(addr); host != "127.0.0.1" {
					return nil, fmt.Errorf("refusing to dial %s: loopback only", addr)
				}
				return loopback.DialContext(ctx, network, addr)
			},
		},
	}
	defer hc.CloseIdleConnections()

	set := map[string]string{
		"REDIS_URL":   fmt.Sprintf("redis://%s/0", rs.addr()),
		"ADMIN_TOKEN": token,
		"LOG_LEVEL":   "warn",
		"SEED_USERS":  strconv.Itoa(max(1000, cfg.users+1)),
		"SQLITE_PATH": filepath.Join(dir, "larder.db"),
	}
	if cfg.databaseURL != "" {
		set["DATABASE_URL"] = cfg.databaseURL
	}
	if cfg.tier == "off" {
		set["CACHE_LOCAL_MAX_BYTES"] = "0"
	}
	for _, kv := range cfg.env {
		k, v, _ := strings.Cut(kv, "=")
		set[k] = v
	}
	var insts []*instance
	for i := range cfg.instances {
		p, err := freePort()
		if err != nil {
			return err
		}
		in := &instance{idx: i, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(p)), logPath: filepath.Join(dir, fmt.Sprintf("instance-%d.log", i))}
		set["HTTP_ADDR"] = in.addr
		logf, err := os.Create(in.logPath)
		if err != nil {
			return err
		}
		cmd := exec.Command(bin)
		cmd.Dir = dir // no .env of the caller's
		cmd.Env = serviceEnv(set)
		cmd.Stdout, cmd.Stderr = logf, logf
		in.proc, err = startProc(fmt.Sprintf("instance %d", i), cmd)
		logf.Close()
		if err != nil {
			return err
		}
		defer in.proc.stop(5 * time.Second)
		// One at a time: the first seeds the shared database.
		if err := in.waitHealthy(ctx, hc); err != nil {
			return err
		}
		insts = append(insts, in)
	}

	c := &client{http: hc, instances: insts, readPath: "/api/v1/examples/users/{id}/profile"}
	if cfg.read == "user" {
		c.readPath = "/api/v1/users/{id}"
	}
	users := make([]*userState, cfg.users)
	for i := range users {
		users[i] = &userState{id: int64(i + 1), writerInst: i % cfg.instances}
		for inst := range insts {
			code, _, _, _, err := c.getBio(ctx, inst, users[i].id)
			if err != nil || code != http.StatusOK {
				return fmt.Errorf("GET user %d on instance %d before the check: status %d, %v", users[i].id, inst, code, err)
			}
		}
	}
	hc.CloseIdleConnections()
	idleBefore := make([]int, len(insts))
	for i, in := range insts {
		idleBefore[i] = goroutines(ctx, hc, in)
	}

	var load *loadLoop
	if cfg.load {
		load = startLoad(ctx, cfg.repo, filepath.Join(dir, "load.log"))
		defer load.stop()
		sleepCtx(ctx, cfg.loadLead)
	}
	loadStart := loadAvg()

	rctx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	c.t0 = time.Now()

	var wg sync.WaitGroup
	var tallies []*tally
	newTally := func() *tally { t := &tally{}; tallies = append(tallies, t); return t }
	for w := range cfg.writers {
		var own []*userState
		for i := w; i < len(users); i += cfg.writers {
			own = append(own, users[i])
		}
		t := newTally()
		wg.Go(func() { c.writer(rctx, own, cfg.writeGap, t) })
	}
	for r := range cfg.readers {
		t := newTally()
		wg.Go(func() { c.reader(rctx, r%len(insts), users, uint64(r)+1, t) })
	}
	var fs faultStats
	var sres *scenarioResult
	var samples [][]statsSample
	wg.Go(func() { fs = runFault(rctx, cfg, rs) })
	wg.Go(func() { sres = runScenario(rctx, cfg, rs, c) })
	if cfg.timeline {
		wg.Go(func() { samples = pollStats(rctx, c, token) })
	}
	wg.Wait()
	elapsed := time.Since(c.t0)
	_ = rs.signal(syscall.SIGCONT) // whatever the fault loop was doing when the run ended
	loadEnd := loadAvg()
	underLoad := make([]int, len(insts))
	for i, in := range insts {
		underLoad[i] = goroutines(ctx, hc, in)
	}
	var loadRuns string
	if load != nil {
		load.stop()
		load.mu.Lock()
		loadRuns = fmt.Sprintf("%d started, %d finished (%d failed)", load.started, load.finished, load.failed)
		load.mu.Unlock()
	}

	total := &tally{}
	for _, t := range tallies {
		total.merge(t)
	}
	stats := make([]*cacheStats, len(insts))
	for i, in := range insts {
		stats[i], _ = fetchStats(ctx, hc, in, token)
	}
	hc.CloseIdleConnections()
	sleepCtx(ctx, time.Second)
	idleAfter := make([]int, len(insts))
	for i, in := range insts {
		idleAfter[i] = goroutines(ctx, hc, in)
	}

	r := &report{
		cfg: cfg, commit: commit, elapsed: elapsed, t: total, fault: fs, scenario: sres,
		stats: stats, samples: samples, loadStart: loadStart, loadEnd: loadEnd, loadRuns: loadRuns,
		goroutinesIdleBefore: idleBefore, goroutinesUnderLoad: underLoad, goroutinesIdleAfter: idleAfter,
		interrupted: ctx.Err() != nil,
	}
	r.print(os.Stdout)
	return nil
}
