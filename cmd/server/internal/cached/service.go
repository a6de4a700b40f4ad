package cached

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/larderhq/larder"
	"github.com/larderhq/larder/cmd/server/internal/user"
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

// Tags that group the cached collections: a write invalidates each in one
// store write, however many pages are cached.
const (
	listTag      = "users:list"
	dashboardTag = "dashboard"
	dashboardKey = "stats:dashboard"
	// negativeTTL caches "no such user", so that requests for a missing
	// id do not all reach the database; a create removes it at once.
	negativeTTL = 30 * time.Second
	// staleIfError serves the last known user for this long after its TTL
	// when the database fails.
	staleIfError = 10 * time.Minute
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

// userVersion is the version of a cached user, the row's commit-order
// version: fills (larder.Version) and write-through (SetVersioned) compare
// the same number, so neither replaces a newer user with an older one.
var userVersion = larder.Version(func(u user.User) int64 { return u.Version })

// Get is cache-aside through [larder.Fetch]: one database read per
// missing key however many requests ask, "not found" cached briefly, and
// the last value served if the database fails.
func (s *Service) Get(ctx context.Context, id int64) (user.User, error) {
	u, err := fetch(ctx, s, userKey(id), func(ctx context.Context) (user.User, error) {
		u, err := s.next.Get(ctx, id)
		if errors.Is(err, user.ErrNotFound) {
			err = fmt.Errorf("%w: %w", larder.ErrNotFound, err)
		}
		return u, err
	}, larder.TTL(s.opts.UserTTL), larder.NegativeTTL(negativeTTL), larder.StaleIfError(staleIfError), userVersion)
	if errors.Is(err, larder.ErrNotFound) && !errors.Is(err, user.ErrNotFound) {
		err = fmt.Errorf("%w (cached)", user.ErrNotFound)
	}
	return u, err
}

// List caches each page under the lists' tag.
func (s *Service) List(ctx context.Context, page, size int) (user.Page, error) {
	if err := user.ValidatePage(page, size); err != nil {
		return user.Page{}, err
	}
	key := fmt.Sprintf("users:list:%d:%d", page, size)
	return fetch(ctx, s, key, func(ctx context.Context) (user.Page, error) {
		return s.next.List(ctx, page, size)
	}, larder.TTL(s.opts.ListTTL), larder.Tags(listTag))
}

// Dashboard caches the dashboard for DashboardTTL, under its tag.
func (s *Service) Dashboard(ctx context.Context) (user.Dashboard, error) {
	return fetch(ctx, s, dashboardKey, s.next.Dashboard, larder.TTL(s.opts.DashboardTTL), larder.Tags(dashboardTag))
}

// Recent is not cached: it feeds warming, which must read the database.
func (s *Service) Recent(ctx context.Context, n int) ([]user.User, error) {
	return s.next.Recent(ctx, n)
}

// Create drops any cached "not found" for the new id and invalidates the
// lists and the dashboard, whose totals it changes.
func (s *Service) Create(ctx context.Context, nu user.NewUser) (user.User, error) {
	u, err := s.next.Create(ctx, nu)
	if err != nil {
		return u, err
	}
	s.del(ctx, userKey(u.ID))
	s.invalidateCollections(ctx)
	return u, nil
}

// Update writes the updated user through ([larder.Cache.SetVersioned]),
// versioned by the row's version, which the database assigns in commit
// order, so that
// two racing updates, in this process or in two, can never leave the one
// committed first cached; and it invalidates the lists and the dashboard,
// which show users.
func (s *Service) Update(ctx context.Context, id int64, up user.Update) (user.User, error) {
	u, err := s.next.Update(ctx, id, up)
	if errors.Is(err, user.ErrNotFound) {
		s.del(ctx, userKey(id))
	}
	if err != nil {
		return u, err
	}
	if _, err := s.cache.SetVersioned(ctx, userKey(id), u, u.Version, s.opts.UserTTL); err != nil {
		s.opts.Logger.Warn("cache write refused", "key", userKey(id), "err", err)
	}
	s.invalidateCollections(ctx)
	return u, nil
}

// Delete removes the user, drops its cached entry and invalidates every
// cached page and the dashboard by tag.
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

// Warm loads the n most recent users and the dashboard into the cache
// through Fetch (the same leases and single-flight as requests), with at
// most workers at a time, calling progress after each user. It returns how
// many users it warmed.
func (s *Service) Warm(ctx context.Context, n, workers int, progress func(done, total int)) (int, error) {
	if !s.cache.Enabled() || n <= 0 {
		return 0, nil
	}
	users, err := s.next.Recent(ctx, n)
	if err != nil {
		return 0, fmt.Errorf("warm: %w", err)
	}
	sem := make(chan struct{}, max(1, workers))
	done := make(chan struct{}, len(users))
	for _, u := range users {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; done <- struct{}{} }()
			_, _ = larder.Fetch(ctx, s.cache, userKey(u.ID), func(context.Context) (user.User, error) { return u, nil },
				larder.TTL(s.opts.UserTTL), userVersion)
		}()
	}
	for i := range users {
		<-done
		if progress != nil {
			progress(i+1, len(users))
		}
	}
	if _, err := s.Dashboard(ctx); err != nil {
		return len(users), fmt.Errorf("warm dashboard: %w", err)
	}
	return len(users), ctx.Err()
}

// fetch is larder.Fetch that also records in the request's Lookup whether
// this call's answer came from the cache or from its own load.
func fetch[T any](ctx context.Context, s *Service, key string, load func(context.Context) (T, error), opts ...larder.FetchOption) (T, error) {
	if !s.cache.Enabled() {
		note(ctx, false, false, true)
		return load(ctx)
	}
	// Atomic: the loader may still run after Fetch returned (the caller's
	// context ended, or a background refresh), on another goroutine.
	var loadedFlag atomic.Bool
	v, err := larder.Fetch(ctx, s.cache, key, func(ctx context.Context) (T, error) {
		loadedFlag.Store(true)
		return load(ctx)
	}, opts...)
	loaded := loadedFlag.Load()
	if errors.Is(err, larder.ErrStale) {
		s.opts.Logger.Warn("serving a stale value: the database failed", "key", key, "err", err)
		err = nil
	}
	// A "not found" answered from the negative cache is a hit too.
	cached := err == nil || errors.Is(err, larder.ErrNotFound)
	note(ctx, !loaded && cached, loaded && err == nil, false)
	return v, err
}

func (s *Service) del(ctx context.Context, keys ...string) {
	if _, err := s.cache.Delete(ctx, keys...); err != nil {
		s.opts.Logger.Warn("cache delete refused", "keys", keys, "err", err)
	}
}

// invalidateCollections makes every cached list page and the dashboard a
// miss.
func (s *Service) invalidateCollections(ctx context.Context) {
	if err := s.cache.InvalidateTags(ctx, listTag, dashboardTag); err != nil {
		s.opts.Logger.Warn("cache invalidation failed; lists may be stale until their TTL", "err", err)
	}
}
