package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// tierJSON is one tier's counters in /admin/cache/stats.
type tierJSON struct {
	Hits     uint64  `json:"hits"`
	Misses   uint64  `json:"misses"`
	HitRatio float64 `json:"hit_ratio"`
	Errors   uint64  `json:"errors"`
	Timeouts uint64  `json:"timeouts"`
}

// cacheStats is the part of /admin/cache/stats the report shows.
type cacheStats struct {
	Breaker string `json:"breaker"`
	tierJSON
	Local tierJSON `json:"local"`
}

func fetchStats(ctx context.Context, hc *http.Client, in *instance, token string) (*cacheStats, error) {
	ctx, cancel := context.WithTimeout(ctx, 6*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.url("/admin/cache/stats"), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	var s cacheStats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return nil, err
	}
	return &s, nil
}

// goroutines returns go_goroutines from the instance's /metrics (the
// service mounts no /debug/pprof), or -1.
func goroutines(ctx context.Context, hc *http.Client, in *instance) int {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.url("/metrics"), nil)
	if err != nil {
		return -1
	}
	resp, err := hc.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return -1
			}
			return int(n)
		}
	}
	return -1
}

// statsSample is one instance's cache counters at one moment of the run.
type statsSample struct {
	at time.Duration
	s  *cacheStats
}

// pollStats samples every instance's /admin/cache/stats once a second
// until ctx is done, for the timeline's per-second hit ratios.
func pollStats(ctx context.Context, c *client, token string) [][]statsSample {
	out := make([][]statsSample, len(c.instances))
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for range 24 * 3600 {
		select {
		case <-ctx.Done():
			return out
		case <-tick.C:
		}
		for i, in := range c.instances {
			s, err := fetchStats(ctx, c.http, in, token)
			if err == nil {
				out[i] = append(out[i], statsSample{at: time.Since(c.t0), s: s})
			}
		}
	}
	return out
}

type report struct {
	cfg                  *config
	commit               string
	elapsed              time.Duration
	t                    *tally
	fault                faultStats
	scenario             *scenarioResult
	stats                []*cacheStats
	samples              [][]statsSample
	loadStart, loadEnd   string
	loadRuns             string
	goroutinesIdleBefore []int
	goroutinesUnderLoad  []int
	goroutinesIdleAfter  []int
	interrupted          bool
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
}

func ratio(a, b int) string {
	if b == 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(a)/float64(b), 'f', 3, 64)
}

func (r *report) print(w io.Writer) {
	cfg, t := r.cfg, r.t
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	what := "fault=" + cfg.fault
	if cfg.fault != "none" {
		what += fmt.Sprintf(" stall=%v every=%v", cfg.stall, cfg.every)
	}
	if cfg.scenario != "" {
		what = "scenario=" + cfg.scenario
	}
	p("staleread: commit %s, instances=%d %s tier=%s load=%v read=%s users=%d writers=%d readers=%d env=%q",
		r.commit, cfg.instances, what, cfg.tier, cfg.load, cfg.read, cfg.users, cfg.writers, cfg.readers, []string(cfg.env))
	if r.interrupted {
		p("INTERRUPTED: the counts cover only part of the run")
	}
	p("ran %v; load average %s at start, %s at end", r.elapsed.Round(time.Millisecond), r.loadStart, r.loadEnd)
	if r.loadRuns != "" {
		p("load: go test -race -count=1 ./... runs: %s", r.loadRuns)
	}
	switch cfg.fault {
	case "sigstop":
		p("fault: %d SIGSTOP/SIGCONT stalls of %v (%d failed%s)", r.fault.stalls, cfg.stall, r.fault.failures, lastErr(r.fault))
	case "pause":
		p("fault: %d CLIENT PAUSE %d ALL (%d failed%s)", r.fault.stalls, cfg.stall.Milliseconds(), r.fault.failures, lastErr(r.fault))
	}

	p("")
	p("reads:  %d (same-instance %d, cross-instance %d)", t.reads.n, t.sameReads, t.crossReads)
	p("STALE same-instance: %d of %d (max lateness %s)", t.sameStale, t.sameReads, ms(t.sameMaxLate))
	if cfg.instances > 1 {
		p("cross-instance: %d older than the newest ack; LATE >50ms: %d, >150ms: %d of %d; max lateness %s",
			t.crossStale, t.crossLate50, t.crossLate150, t.crossReads, ms(t.crossMaxLate))
	}
	p("")
	for _, k := range []struct {
		name string
		k    *kind
	}{{"reads", &t.reads}, {"writes", &t.writes}} {
		p("%-6s n=%d non-2xx=%d errors=%d over-1s=%d p50=%s p99=%s max=%s (at %v, status %d)",
			k.name, k.k.n, k.k.non2xx, k.k.errs, k.k.over1s, ms(k.k.percentile(50)), ms(k.k.percentile(99)),
			ms(k.k.slowest), k.k.slowestAt.Round(time.Millisecond), k.k.slowestCode)
	}
	p("cache hits (Cache-Status: hit) %d of %d reads = %s", t.cacheHits, t.cacheStatus, ratio(t.cacheHits, t.cacheStatus))
	for i, s := range r.stats {
		if s == nil {
			p("instance %d: /admin/cache/stats unavailable", i)
			continue
		}
		p("instance %d: breaker=%s store hits=%d misses=%d ratio=%.3f timeouts=%d errors=%d; local hits=%d misses=%d ratio=%.3f",
			i, s.Breaker, s.Hits, s.Misses, s.HitRatio, s.Timeouts, s.Errors, s.Local.Hits, s.Local.Misses, s.Local.HitRatio)
	}
	p("goroutines (go_goroutines) idle before / end of run / idle after: %v / %v / %v",
		r.goroutinesIdleBefore, r.goroutinesUnderLoad, r.goroutinesIdleAfter)

	if s := r.scenario; s != nil && cfg.scenario != "" {
		p("")
		p("scenario %s:", cfg.scenario)
		for _, l := range s.lines {
			p("  %s", l)
		}
		if len(s.goroutinesBefore) > 0 {
			p("  goroutines just before the outage: %v", s.goroutinesBefore)
		}
		if cfg.scenario == "restart" && s.restartAt > 0 {
			r.printRecovery(p)
		}
	}
	if cfg.timeline {
		r.printTimeline(p)
	}
	p("")
	p("SUMMARY instances=%d %s tier=%s load=%v: reads=%d same-stale=%d cross-late50=%d cross-late150=%d cross-maxlate=%s non2xx=%d errors=%d over1s=%d p50=%s p99=%s max=%s hit=%s",
		cfg.instances, what, cfg.tier, cfg.load, t.reads.n, t.sameStale, t.crossLate50, t.crossLate150, ms(t.crossMaxLate),
		t.reads.non2xx+t.writes.non2xx, t.reads.errs+t.writes.errs, t.reads.over1s+t.writes.over1s,
		ms(t.reads.percentile(50)), ms(t.reads.percentile(99)), ms(max(t.reads.slowest, t.writes.slowest)),
		ratio(t.cacheHits, t.cacheStatus))
}

func lastErr(f faultStats) string {
	if f.lastErr == "" {
		return ""
	}
	return "; last: " + f.lastErr
}

// printRecovery compares the client-side hit ratio of each second after the
// restart with the steady one before the outage (seconds 1 to the outage).
func (r *report) printRecovery(p func(string, ...any)) {
	s, b := r.scenario, r.t.buckets
	from := int(s.outageFrom / time.Second)
	reads, hits := 0, 0
	for i := 1; i < from && i < len(b); i++ {
		reads += b[i].reads
		hits += b[i].hits
	}
	if reads == 0 {
		p("  no steady state before the outage to compare with")
		return
	}
	steady := float64(hits) / float64(reads)
	first := int(s.restartAt/time.Second) + 1
	back, lastBelow := -1, -1
	for i := first; i < len(b); i++ {
		if b[i].reads == 0 {
			continue
		}
		if float64(b[i].hits)/float64(b[i].reads) >= 0.95*steady {
			if back < 0 {
				back = i
			}
		} else {
			lastBelow = i
		}
	}
	since := func(sec int) time.Duration {
		return (time.Duration(sec)*time.Second - s.restartAt).Round(time.Millisecond)
	}
	switch {
	case back < 0:
		p("  hit ratio: steady %.3f (seconds 1 to %d); not back to 95%% of it by the end of the run", steady, from-1)
	case lastBelow < 0:
		p("  hit ratio: steady %.3f (seconds 1 to %d); back to >=95%% of it in second %d, %v after Redis answered again, and stayed",
			steady, from-1, back, since(back))
	case lastBelow == len(b)-1:
		p("  hit ratio: steady %.3f (seconds 1 to %d); first back to >=95%% of it in second %d (%v after Redis answered again), below it again in the last second",
			steady, from-1, back, since(back))
	default:
		p("  hit ratio: steady %.3f (seconds 1 to %d); first back to >=95%% of it in second %d (%v after Redis answered again), and for good from second %d (%v after)",
			steady, from-1, back, since(back), lastBelow+1, since(lastBelow+1))
	}
}

func (r *report) printTimeline(p func(string, ...any)) {
	p("")
	p("timeline (by request start; hit = Cache-Status hit among reads; store/local = instance 0's /admin/cache/stats over the second before):")
	p("  %4s %7s %6s %6s %9s %7s %7s %8s", "sec", "reads", "hit", "bad", "max", "store", "local", "breaker")
	// Samples are taken about once a second; each is filed under the
	// second it is nearest to, and second i's ratios are the counters'
	// growth from sample i to sample i+1.
	at := map[int]*cacheStats{}
	if len(r.samples) > 0 {
		for _, sm := range r.samples[0] {
			at[int(sm.at.Round(time.Second)/time.Second)] = sm.s
		}
	}
	for i, b := range r.t.buckets {
		store, local, breaker := "-", "-", "-"
		if prev, cur := at[i], at[i+1]; prev != nil && cur != nil {
			store = deltaRatio(prev.tierJSON, cur.tierJSON)
			local = deltaRatio(prev.Local, cur.Local)
			breaker = cur.Breaker
		}
		p("  %4d %7d %6s %6d %9s %7s %7s %8s", i, b.reads, ratio(b.hits, b.reads), b.bad, ms(b.maxLat), store, local, breaker)
	}
}

func deltaRatio(a, b tierJSON) string {
	h, m := int(b.Hits)-int(a.Hits), int(b.Misses)-int(a.Misses)
	return ratio(h, h+m)
}
