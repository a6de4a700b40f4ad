package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/redis/rueidis"
)

// unlinkBatch is how many keys one UNLINK carries on a standalone server:
// large enough to amortise round trips, small enough that no single
// command holds the server for long.
const unlinkBatch = 1000

// Get returns a copy of the value stored under key, or an error wrapping
// driver.ErrNotFound if there is none. It is safe for concurrent use.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	c, err := s.current("get")
	if err != nil {
		return nil, err
	}
	defer c.release()
	v, err := bounded(ctx, s, func() ([]byte, error) {
		cl := c.client
		str, err := cl.Do(ctx, cl.B().Get().Key(key).Build()).ToString()
		if err != nil {
			return nil, err
		}
		// rueidis's AsBytes would alias the reply's string; the caller
		// may modify what Get returns, so it gets its own copy.
		return []byte(str), nil
	})
	if err != nil {
		if rueidis.IsRedisNil(err) {
			return nil, driver.ErrNotFound
		}
		return nil, s.fail(ctx, "get", err)
	}
	return v, nil
}

// Set stores value under key for ttl, replacing any earlier value and TTL.
// A ttl <= 0 fails with an error wrapping driver.ErrInvalidTTL. Redis keeps
// TTLs in whole milliseconds; Set rounds down, so an entry never outlives
// its TTL, and a ttl under a millisecond removes the key (it would have
// expired at once). It is safe for concurrent use.
func (s *Store) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("redisstore: set: ttl %v: %w", ttl, driver.ErrInvalidTTL)
	}
	c, err := s.current("set")
	if err != nil {
		return err
	}
	defer c.release()
	// string(value) copies, which Set needs: if ctx ends first the command
	// may still be queued when the caller reuses value.
	cmd := setCmd(c.client, key, string(value), ttl)
	_, err = bounded(ctx, s, func() (struct{}, error) {
		return struct{}{}, c.client.Do(ctx, cmd).Error()
	})
	if err != nil {
		return s.fail(ctx, "set", err)
	}
	return nil
}

// setCmd builds SET key value PX ttl, or UNLINK key for a ttl under a
// millisecond, which Redis cannot express and which would expire at once.
func setCmd(c rueidis.Client, key, value string, ttl time.Duration) rueidis.Completed {
	ms := ttl.Milliseconds()
	if ms <= 0 {
		return c.B().Unlink().Key(key).Build()
	}
	return c.B().Set().Key(key).Value(value).PxMilliseconds(ms).Build()
}

// Delete removes keys with UNLINK (which frees memory off the server's main
// thread) and returns how many existed. On a Cluster the keys may live in
// different slots, so each goes in its own UNLINK, all pipelined together.
// It is safe for concurrent use.
func (s *Store) Delete(ctx context.Context, keys ...string) (int, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	c, err := s.current("delete")
	if err != nil {
		return 0, err
	}
	defer c.release()
	n, err := bounded(ctx, s, func() (int, error) { return unlink(ctx, c, keys) })
	if err != nil {
		return 0, s.fail(ctx, "delete", err)
	}
	return n, nil
}

// unlink removes keys and returns the sum of UNLINK's replies. Counting the
// replies, rather than the keys, is what makes Clear exact even if a key is
// found twice.
func unlink(ctx context.Context, c *connection, keys []string) (int, error) {
	cl := c.client
	var cmds rueidis.Commands
	if c.cluster {
		cmds = make(rueidis.Commands, 0, len(keys))
		for _, k := range keys {
			cmds = append(cmds, cl.B().Unlink().Key(k).Build())
		}
	} else {
		cmds = make(rueidis.Commands, 0, (len(keys)+unlinkBatch-1)/unlinkBatch)
		for i := 0; i < len(keys); i += unlinkBatch {
			cmds = append(cmds, cl.B().Unlink().Key(keys[i:min(i+unlinkBatch, len(keys))]...).Build())
		}
	}
	total := 0
	for _, r := range cl.DoMulti(ctx, cmds...) {
		n, err := r.AsInt64()
		if err != nil {
			return total, err
		}
		total += int(n)
	}
	return total, nil
}

// Exists reports whether key holds a live entry. It is safe for concurrent
// use.
func (s *Store) Exists(ctx context.Context, key string) (bool, error) {
	c, err := s.current("exists")
	if err != nil {
		return false, err
	}
	defer c.release()
	n, err := bounded(ctx, s, func() (int64, error) {
		return c.client.Do(ctx, c.client.B().Exists().Key(key).Build()).AsInt64()
	})
	if err != nil {
		return false, s.fail(ctx, "exists", err)
	}
	return n > 0, nil
}

// Ping checks that the server answers PING (on a Cluster, the node rueidis
// picks). It is safe for concurrent use.
func (s *Store) Ping(ctx context.Context) error {
	c, err := s.current("ping")
	if err != nil {
		return err
	}
	defer c.release()
	_, err = bounded(ctx, s, func() (struct{}, error) {
		return struct{}{}, c.client.Do(ctx, c.client.B().Ping().Build()).Error()
	})
	if err != nil {
		return s.fail(ctx, "ping", err)
	}
	return nil
}
