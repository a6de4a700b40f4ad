package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/larderhq/larder/driver"
	"github.com/redis/rueidis"
)

// casScript replaces KEYS[1] with ARGV[2] for ARGV[3] milliseconds if it
// holds exactly ARGV[1]. GET of a missing key is false in Lua, which equals
// no string, so an absent key never matches. A script is atomic on the
// server, which a GET followed by a SET from the client would not be.
const casScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`

// cadScript deletes KEYS[1] if it holds exactly ARGV[1].
const cadScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`

// conditionalTTL converts ttl for the conditional writes. Unlike Set, they
// cannot turn a sub-millisecond TTL into a deletion (they must report
// whether they wrote), so it is rounded up to the 1 ms Redis can express.
func conditionalTTL(op string, ttl time.Duration) (int64, error) {
	if ttl <= 0 {
		return 0, fmt.Errorf("redisstore: %s: ttl %v: %w", op, ttl, driver.ErrInvalidTTL)
	}
	return max(ttl.Milliseconds(), 1), nil
}

// SetNX stores value under key for ttl only if key holds no live entry
// (SET NX PX), and reports whether it did. It is atomic with respect to
// every other command on key and safe for concurrent use.
func (s *Store) SetNX(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	ms, err := conditionalTTL("setnx", ttl)
	if err != nil {
		return false, err
	}
	c, err := s.current("setnx")
	if err != nil {
		return false, err
	}
	defer c.release()
	cmd := c.client.B().Set().Key(key).Value(string(value)).Nx().PxMilliseconds(ms).Build()
	ok, err := bounded(ctx, s, func() (bool, error) {
		err := c.client.Do(ctx, cmd).Error()
		if rueidis.IsRedisNil(err) {
			return false, nil // NX refused: the key exists
		}
		return err == nil, err
	})
	if err != nil {
		return false, s.fail(ctx, "setnx", err)
	}
	return ok, nil
}

// CompareAndSwap replaces the value under key with value, and its TTL with
// ttl, only if key currently holds exactly old, and reports whether it did.
// An absent key never matches. It runs as a Lua script (EVALSHA, falling
// back to EVAL when the server does not have it cached), so it is atomic
// with respect to every other command on key. It is safe for concurrent
// use.
func (s *Store) CompareAndSwap(ctx context.Context, key string, old, value []byte, ttl time.Duration) (bool, error) {
	ms, err := conditionalTTL("compare-and-swap", ttl)
	if err != nil {
		return false, err
	}
	args := []string{string(old), string(value), strconv.FormatInt(ms, 10)}
	return s.script(ctx, "compare-and-swap", s.casScript, key, args)
}

// CompareAndDelete removes key only if it currently holds exactly old, and
// reports whether it did. Like CompareAndSwap it is an atomic Lua script
// and safe for concurrent use.
func (s *Store) CompareAndDelete(ctx context.Context, key string, old []byte) (bool, error) {
	return s.script(ctx, "compare-and-delete", s.cadScript, key, []string{string(old)})
}

// script runs a conditional script on key and reports whether its integer
// reply is non-zero.
func (s *Store) script(ctx context.Context, op string, lua *rueidis.Lua, key string, args []string) (bool, error) {
	c, err := s.current(op)
	if err != nil {
		return false, err
	}
	defer c.release()
	n, err := bounded(ctx, s, func() (int64, error) {
		return lua.Exec(ctx, c.client, []string{key}, args).AsInt64()
	})
	if err != nil {
		return false, s.fail(ctx, op, err)
	}
	return n != 0, nil
}
