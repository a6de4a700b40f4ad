package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// faultStats counts what the fault loop did.
type faultStats struct {
	stalls   int
	failures int
	lastErr  string
}

// runFault stalls Redis every cfg.every for cfg.stall until ctx is done:
// SIGSTOP then SIGCONT, or CLIENT PAUSE <stall> ALL. It always leaves Redis
// running.
func runFault(ctx context.Context, cfg *config, rs *redisServer) faultStats {
	var fs faultStats
	if cfg.fault == "none" {
		return fs
	}
	tick := time.NewTicker(cfg.every)
	defer tick.Stop()
	for i := 0; i < maxLoop; i++ {
		select {
		case <-ctx.Done():
			return fs
		case <-tick.C:
		}
		var err error
		switch cfg.fault {
		case "sigstop":
			if err = rs.signal(syscall.SIGSTOP); err == nil {
				sleepCtx(ctx, cfg.stall)
				err = rs.signal(syscall.SIGCONT)
			}
		case "pause":
			_, err = redisDo(rs.addr(), 2*time.Second, "CLIENT", "PAUSE", strconv.FormatInt(cfg.stall.Milliseconds(), 10), "ALL")
		}
		if err != nil {
			fs.failures++
			fs.lastErr = err.Error()
			continue
		}
		fs.stalls++
	}
	return fs
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// scenarioResult is what a long-outage scenario measured, beyond the
// check's own counts.
type scenarioResult struct {
	lines []string
	// outage is the window of the outage since the run's start, for the
	// counts of requests that started inside it.
	outageFrom, outageTo time.Duration
	// restartAt is when the restarted Redis answered PING, since the run's
	// start (restart only).
	restartAt time.Duration
	// goroutinesBefore is go_goroutines of each instance just before the
	// outage.
	goroutinesBefore []int
}

func (s *scenarioResult) addf(format string, args ...any) {
	s.lines = append(s.lines, fmt.Sprintf(format, args...))
}

// runScenario waits cfg.at, then makes the outage that cfg.scenario names.
func runScenario(ctx context.Context, cfg *config, rs *redisServer, c *client) *scenarioResult {
	res := &scenarioResult{}
	if cfg.scenario == "" {
		return res
	}
	sleepCtx(ctx, time.Until(c.t0.Add(cfg.at)))
	if ctx.Err() != nil {
		return res
	}
	for _, in := range c.instances {
		res.goroutinesBefore = append(res.goroutinesBefore, goroutines(ctx, c.http, in))
	}
	switch cfg.scenario {
	case "stop4s":
		res.outageFrom = time.Since(c.t0)
		if err := rs.signal(syscall.SIGSTOP); err != nil {
			res.addf("SIGSTOP failed: %v", err)
			return res
		}
		sleepCtx(ctx, 4*time.Second)
		_ = rs.signal(syscall.SIGCONT)
		res.outageTo = time.Since(c.t0)
		res.addf("redis SIGSTOPped from %v to %v", res.outageFrom.Round(time.Millisecond), res.outageTo.Round(time.Millisecond))
	case "pause3000write", "pause3000all":
		mode := strings.ToUpper(strings.TrimPrefix(cfg.scenario, "pause3000"))
		// The probe user is cached on every instance, as a hot user would
		// be, so that a stale copy has somewhere to survive the update.
		for i := range c.instances {
			for range 3 {
				_, _, _, _, _ = c.getBio(ctx, i, probeID(cfg))
			}
		}
		res.outageFrom = time.Since(c.t0)
		if _, err := redisDo(rs.addr(), 2*time.Second, "CLIENT", "PAUSE", "3000", mode); err != nil {
			res.addf("CLIENT PAUSE failed: %v", err)
			return res
		}
		resume := time.Now().Add(3 * time.Second)
		res.outageTo = resume.Sub(c.t0)
		res.addf("CLIENT PAUSE 3000 %s from %v to %v", mode, res.outageFrom.Round(time.Millisecond), res.outageTo.Round(time.Millisecond))
		probeUpdate(ctx, cfg, c, resume, res)
	case "restart":
		res.outageFrom = time.Since(c.t0)
		rs.kill()
		res.addf("redis killed (SIGKILL) at %v", res.outageFrom.Round(time.Millisecond))
		sleepCtx(ctx, cfg.down)
		if err := rs.start(ctx); err != nil {
			res.addf("restart failed: %v", err)
			return res
		}
		res.restartAt = time.Since(c.t0)
		res.outageTo = res.restartAt
		res.addf("redis restarted on the same port, answering PING at %v", res.restartAt.Round(time.Millisecond))
	}
	return res
}

// probeUpdate updates a user that no writer touches, half a second into
// the pause, and polls it on every instance until 3 s after Redis resumes;
// it reports, per instance, when the reads turned new for good relative to
// the resume.
func probeUpdate(ctx context.Context, cfg *config, c *client, resume time.Time, res *scenarioResult) {
	id := probeID(cfg)
	sleepCtx(ctx, 400*time.Millisecond)
	bio := fmt.Sprintf("probe %d", time.Now().UnixNano())
	until := resume.Add(3 * time.Second)
	pctx, cancel := context.WithDeadline(ctx, until.Add(2*time.Second))
	defer cancel()

	type poll struct {
		start time.Time
		isNew bool
	}
	polls := make([][]poll, len(c.instances))
	var wg sync.WaitGroup
	for i := range c.instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 10_000 && time.Now().Before(until) && pctx.Err() == nil; n++ {
				start := time.Now()
				code, got, _, _, err := c.getBio(pctx, i, id)
				polls[i] = append(polls[i], poll{start, err == nil && code == http.StatusOK && got == bio})
				sleepCtx(pctx, 10*time.Millisecond)
			}
		}()
	}
	// The polls start first, so that each instance shows the old bio
	// before the update.
	sleepCtx(pctx, 100*time.Millisecond)
	putStart := time.Now()
	code, err := c.putBio(pctx, 0, id, bio)
	putDone := time.Now()
	wg.Wait()
	res.addf("probe PUT /api/v1/users/%d on instance 0 at %v: status %d err %v, took %v (ack %v after resume)",
		id, putStart.Sub(c.t0).Round(time.Millisecond), code, err, putDone.Sub(putStart).Round(time.Millisecond),
		putDone.Sub(resume).Round(time.Millisecond))
	for i, ps := range polls {
		lastOld := -1
		for j, p := range ps {
			if !p.isNew {
				lastOld = j
			}
		}
		switch {
		case len(ps) == 0:
			res.addf("probe instance %d: no reads", i)
		case lastOld == len(ps)-1:
			res.addf("probe instance %d: still old %v after resume (%d reads)", i, until.Sub(resume), len(ps))
		case lastOld < 0:
			res.addf("probe instance %d: every read new (%d reads)", i, len(ps))
		default:
			when := ps[lastOld+1].start.Sub(resume)
			note := "after Redis resumed"
			if when < 0 {
				note = "before Redis resumed"
			}
			res.addf("probe instance %d: new for good from the read started %v %s (last old read started %v after resume; %d reads)",
				i, when.Abs().Round(time.Millisecond), note, ps[lastOld].start.Sub(resume).Round(time.Millisecond), len(ps))
		}
	}
}

// probeID is the user the pause scenarios update: one no writer touches.
func probeID(cfg *config) int64 { return int64(cfg.users + 1) }
