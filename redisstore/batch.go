package redisstore

import (
	"context"
	"fmt"

	"github.com/larderhq/larder/driver"
	"github.com/redis/rueidis"
)

// mgetBatch is how many keys one MGET carries, for the same reason as
// unlinkBatch: bounded work per command on the server.
const mgetBatch = 1000

// GetMany returns the values of keys in the same order, each a copy the
// caller may modify; a missing key yields nil at its position. A standalone
// or Sentinel server answers MGET; on a Cluster, where one MGET cannot span
// slots, each key gets its own GET, all pipelined in one round trip per
// node. It is safe for concurrent use.
func (s *Store) GetMany(ctx context.Context, keys []string) ([][]byte, error) {
	if len(keys) == 0 {
		return [][]byte{}, nil
	}
	c, err := s.current("get-many")
	if err != nil {
		return nil, err
	}
	defer c.release()
	vals, err := bounded(ctx, s, func() ([][]byte, error) { return getMany(ctx, c, keys) })
	if err != nil {
		return nil, s.fail(ctx, "get-many", err)
	}
	return vals, nil
}

func getMany(ctx context.Context, c *connection, keys []string) ([][]byte, error) {
	cl := c.client
	out := make([][]byte, 0, len(keys))
	if c.cluster {
		cmds := make(rueidis.Commands, len(keys))
		for i, k := range keys {
			cmds[i] = cl.B().Get().Key(k).Build()
		}
		for _, r := range cl.DoMulti(ctx, cmds...) {
			v, err := bytesOrNil(r.ToMessage())
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	cmds := make(rueidis.Commands, 0, (len(keys)+mgetBatch-1)/mgetBatch)
	for i := 0; i < len(keys); i += mgetBatch {
		cmds = append(cmds, cl.B().Mget().Key(keys[i:min(i+mgetBatch, len(keys))]...).Build())
	}
	for _, r := range cl.DoMulti(ctx, cmds...) {
		arr, err := r.ToArray()
		if err != nil {
			return nil, err
		}
		for i := range arr {
			v, err := bytesOrNil(arr[i], nil)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// bytesOrNil copies a string reply; a nil reply (a missing key) is a nil
// slice, distinct from a present empty value, which is an empty slice.
func bytesOrNil(m rueidis.RedisMessage, err error) ([]byte, error) {
	if err != nil {
		if rueidis.IsRedisNil(err) {
			return nil, nil
		}
		return nil, err
	}
	if m.IsNil() {
		return nil, nil
	}
	str, err := m.ToString()
	if err != nil {
		return nil, err
	}
	return []byte(str), nil
}

// SetMany stores every item with SET PX, all pipelined in one round trip
// per node. It is not atomic across items: on error some items may have
// been written. Every TTL is checked before anything is sent, so an invalid
// one (an error wrapping driver.ErrInvalidTTL) writes nothing. TTLs are
// rounded as by Set. It is safe for concurrent use.
func (s *Store) SetMany(ctx context.Context, items []driver.Item) error {
	for _, it := range items {
		if it.TTL <= 0 {
			return fmt.Errorf("redisstore: set-many: key %q: ttl %v: %w", it.Key, it.TTL, driver.ErrInvalidTTL)
		}
	}
	if len(items) == 0 {
		return nil
	}
	c, err := s.current("set-many")
	if err != nil {
		return err
	}
	defer c.release()
	cmds := make(rueidis.Commands, len(items))
	for i, it := range items {
		cmds[i] = setCmd(c.client, it.Key, string(it.Value), it.TTL)
	}
	_, err = bounded(ctx, s, func() (struct{}, error) {
		for _, r := range c.client.DoMulti(ctx, cmds...) {
			if err := r.Error(); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, nil
	})
	if err != nil {
		return s.fail(ctx, "set-many", err)
	}
	return nil
}
