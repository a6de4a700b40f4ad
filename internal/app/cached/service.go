package cached

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/internal/app/user"
)

// Options tunes a Service. Zero values mean the documented defaults.
type Options struct {
	// UserTTL is how long a user stays cached. Default 1 h.
	UserTTL time.Duration
	// ListTTL is how long a page of the list stays cached. Default 5 min.
	ListTTL time.Duration
	// DashboardTTL is how long the dashboard stays cached. Default 1 min:
	// its "last 30 days" moves with the clock, not only with writes.
	DashboardTTL time.Duration
	// Logger receives warnings about invalidations that could not be
	// written. Default: discard.
	Logger *slog.Logger
}

const (
	genKey       = "users:list:gen"
	dashboardKey = "stats:dashboard"
	genTTL       = 24 * time.Hour
)

// Service is a user.Service that caches another one. It is safe for
// concurrent use.
type Service struct {
	next  user.Service
	cache *larder.Cache
	opts  Options
}

var _ user.Service = (*Service)(nil)

// New returns a Service reading through cache to next.
func New(next user.Service, cache *larder.Cache, opts Options) *Service {
	if opts.UserTTL <= 0 {
		opts.UserTTL = time.Hour
	}
	if opts.ListTTL <= 0 {
		opts.ListTTL = 5 * time.Minute
	}
	if opts.DashboardTTL <= 0 {
		opts.DashboardTTL = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{next: next, cache: cache, opts: opts}
}

func userKey(id int64) string { return fmt.Sprintf("user:%d", id) }

// Get is cache-aside (the guide's pattern 1).
func (s *Service) Get(ctx context.Context, id int64) (user.User, error) {
	return readThrough(ctx, s, userKey(id), s.opts.UserTTL, func(ctx context.Context) (user.User, error) {
		return s.next.Get(ctx, id)
	})
}

// List caches each page under the lists' current generation.
func (s *Service) List(ctx context.Context, page, size int) (user.Page, error) {
	if err := user.ValidatePage(page, size); err != nil {
		return user.Page{}, err
	}
	key := fmt.Sprintf("users:list:%s:%d:%d", s.listGen(ctx), page, size)
	return readThrough(ctx, s, key, s.opts.ListTTL, func(ctx context.Context) (user.Page, error) {
		return s.next.List(ctx, page, size)
	})
}

// Dashboard caches the dashboard for DashboardTTL, and drops it on writes.
func (s *Service) Dashboard(ctx context.Context) (user.Dashboard, error) {
	return readThrough(ctx, s, dashboardKey, s.opts.DashboardTTL, s.next.Dashboard)
}

// Recent is not cached: it feeds warming, which must read the database.
func (s *Service) Recent(ctx context.Context, n int) ([]user.User, error) {
	return s.next.Recent(ctx, n)
}

// Create writes the new user through and invalidates the lists and the
// dashboard, whose totals it changes.
func (s *Service) Create(ctx context.Context, nu user.NewUser) (user.User, error) {
	u, err := s.next.Create(ctx, nu)
	if err != nil {
		return u, err
	}
	s.set(ctx, userKey(u.ID), u, s.opts.UserTTL)
	s.invalidateCollections(ctx)
	return u, nil
}

// Update writes the updated user through (the guide's pattern 2) and
// invalidates the lists and the dashboard, which show users.
func (s *Service) Update(ctx context.Context, id int64, up user.Update) (user.User, error) {
	u, err := s.next.Update(ctx, id, up)
	if errors.Is(err, user.ErrNotFound) {
		s.del(ctx, userKey(id))
	}
	if err != nil {
		return u, err
	}
	s.set(ctx, userKey(id), u, s.opts.UserTTL)
	s.invalidateCollections(ctx)
	return u, nil
}

// Delete removes the user and invalidates every cached page and the
// dashboard (the guide's pattern 3).
func (s *Service) Delete(ctx context.Context, id int64) error {
	err := s.next.Delete(ctx, id)
	if err != nil && !errors.Is(err, user.ErrNotFound) {
		return err
	}
	// Even when the database says "not found", a cached copy may linger
	// from before an earlier, failed invalidation: drop it.
	s.del(ctx, userKey(id))
	if err == nil {
		s.invalidateCollections(ctx)
	}
	return err
}

// Warm loads the n most recent users and the dashboard into the cache with
// at most workers concurrent writes, calling progress after each user. It
// returns how many users it cached.
func (s *Service) Warm(ctx context.Context, n, workers int, progress func(done, total int)) (int, error) {
	if !s.cache.Enabled() || n <= 0 {
		return 0, nil
	}
	users, err := s.next.Recent(ctx, n)
	if err != nil {
		return 0, fmt.Errorf("warm: %w", err)
	}
	workers = max(1, workers)
	sem := make(chan struct{}, workers)
	done := make(chan struct{}, len(users))
	for _, u := range users {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; done <- struct{}{} }()
			s.set(ctx, userKey(u.ID), u, s.opts.UserTTL)
		}()
	}
	for i := range users {
		<-done
		if progress != nil {
			progress(i+1, len(users))
		}
	}
	if d, err := s.next.Dashboard(ctx); err == nil {
		s.set(ctx, dashboardKey, d, s.opts.DashboardTTL)
	}
	return len(users), ctx.Err()
}

// readThrough is cache-aside: a hit answers; a miss loads and fills.
func readThrough[T any](ctx context.Context, s *Service, key string, ttl time.Duration, load func(context.Context) (T, error)) (T, error) {
	var v T
	if !s.cache.Enabled() {
		note(ctx, false, false, true)
		return load(ctx)
	}
	ok, err := s.cache.Get(ctx, key, &v)
	if err != nil && ctx.Err() != nil {
		return v, err
	}
	if ok {
		note(ctx, true, false, false)
		return v, nil
	}
	v, err = load(ctx)
	if err != nil {
		return v, err
	}
	stored := s.set(ctx, key, v, ttl)
	note(ctx, false, stored, false)
	return v, nil
}

// set writes v and reports whether the cache accepted it. Store failures
// are the cache's to count; what reaches here is a bug worth a log line.
func (s *Service) set(ctx context.Context, key string, v any, ttl time.Duration) bool {
	if err := s.cache.Set(ctx, key, v, ttl); err != nil {
		s.opts.Logger.Warn("cache write refused", "key", key, "err", err)
		return false
	}
	return true
}

func (s *Service) del(ctx context.Context, keys ...string) {
	if _, err := s.cache.Delete(ctx, keys...); err != nil {
		s.opts.Logger.Warn("cache delete refused", "keys", keys, "err", err)
	}
}

// listGen returns the lists' current generation, starting one if there is
// none.
func (s *Service) listGen(ctx context.Context) string {
	var gen string
	if ok, _ := s.cache.Get(ctx, genKey, &gen); ok && gen != "" {
		return gen
	}
	gen = newGen()
	s.set(ctx, genKey, gen, genTTL)
	return gen
}

// invalidateCollections moves the lists to a new generation and drops the
// dashboard.
func (s *Service) invalidateCollections(ctx context.Context) {
	s.set(ctx, genKey, newGen(), genTTL)
	s.del(ctx, dashboardKey)
}

func newGen() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
