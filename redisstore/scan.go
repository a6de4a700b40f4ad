package redisstore

import (
	"context"
	"fmt"

	"github.com/larderhq/larder/driver"
	"github.com/larderhq/larder/internal/glob"
	"github.com/redis/rueidis"
)

// scanCount is the COUNT hint of each SCAN: enough keys per round trip to
// clear a large namespace quickly, few enough that each SCAN step stays
// short on the server.
const scanCount = 1000

// Clear removes every key matching pattern (a Redis glob) and returns how
// many it removed. It walks the keyspace with SCAN MATCH and removes each
// batch with UNLINK, on every master of a Cluster, so it never blocks the
// server the way KEYS or FLUSHDB would. Keys written while it runs may or
// may not be removed. The count is the sum of UNLINK's replies, so a key
// that SCAN reports twice is counted once.
//
// On error, including ctx ending, some keys may already be removed and the
// count returned is 0. It is safe for concurrent use.
func (s *Store) Clear(ctx context.Context, pattern string) (int, error) {
	if err := checkPattern(pattern); err != nil {
		return 0, fmt.Errorf("redisstore: clear: %w", err)
	}
	c, err := s.current("clear")
	if err != nil {
		return 0, err
	}
	defer c.release()
	n, err := bounded(ctx, s, func() (int, error) {
		if key, exact := glob.Literal(pattern); exact {
			// A pattern without metacharacters names one key: delete it
			// rather than walk the whole keyspace to find it.
			return unlinkLiteral(ctx, c, key)
		}
		total := 0
		err := scan(ctx, c, pattern, func(keys []string) error {
			n, err := unlink(ctx, c, keys)
			total += n
			return err
		})
		return total, err
	})
	if err != nil {
		return 0, s.fail(ctx, "clear", err)
	}
	return n, nil
}

// Count returns how many keys match pattern (a Redis glob), walking the
// keyspace with SCAN MATCH on every master without removing anything.
// SCAN may report a key twice while the server resizes its tables, so
// under concurrent writes the count is an estimate. It is safe for
// concurrent use.
func (s *Store) Count(ctx context.Context, pattern string) (int, error) {
	if err := checkPattern(pattern); err != nil {
		return 0, fmt.Errorf("redisstore: count: %w", err)
	}
	c, err := s.current("count")
	if err != nil {
		return 0, err
	}
	defer c.release()
	n, err := bounded(ctx, s, func() (int, error) {
		if key, exact := glob.Literal(pattern); exact {
			return existsLiteral(ctx, c, key)
		}
		total := 0
		err := scan(ctx, c, pattern, func(keys []string) error {
			total += len(keys)
			return nil
		})
		return total, err
	})
	if err != nil {
		return 0, s.fail(ctx, "count", err)
	}
	return n, nil
}

// unlinkLiteral is Clear of a pattern that matches only key. The empty
// pattern matches only the empty key, which a store never holds.
func unlinkLiteral(ctx context.Context, c *connection, key string) (int, error) {
	if key == "" {
		return 0, nil
	}
	return unlink(ctx, c, []string{key})
}

// existsLiteral is Count of a pattern that matches only key.
func existsLiteral(ctx context.Context, c *connection, key string) (int, error) {
	if key == "" {
		return 0, nil
	}
	n, err := c.client.Do(ctx, c.client.B().Exists().Key(key).Build()).AsInt64()
	return int(n), err
}

// scan calls fn with each non-empty batch of keys matching pattern, on
// every master node. Replicas are skipped: they hold copies of their
// master's keys, which would be visited twice.
func scan(ctx context.Context, c *connection, pattern string, fn func(keys []string) error) error {
	nodes := []rueidis.Client{c.client}
	if c.cluster {
		var err error
		if nodes, err = masters(ctx, c.client); err != nil {
			return err
		}
	}
	for _, node := range nodes {
		cursor := uint64(0)
		for {
			e, err := node.Do(ctx, node.B().Scan().Cursor(cursor).Match(pattern).Count(scanCount).Build()).AsScanEntry()
			if err != nil {
				return err
			}
			if len(e.Elements) > 0 {
				if err := fn(e.Elements); err != nil {
					return err
				}
			}
			if e.Cursor == 0 {
				break
			}
			cursor = e.Cursor
		}
	}
	return nil
}

// masters returns a client for each master node of a Cluster. rueidis's
// Nodes lists replicas too, so each node is asked its ROLE.
func masters(ctx context.Context, client rueidis.Client) ([]rueidis.Client, error) {
	var out []rueidis.Client
	for _, node := range client.Nodes() {
		role, err := node.Do(ctx, node.B().Role().Build()).ToArray()
		if err != nil {
			return nil, err
		}
		if len(role) > 0 {
			if r, _ := role[0].ToString(); r == "master" {
				out = append(out, node)
			}
		}
	}
	return out, nil
}

// checkPattern rejects the patterns glob.Valid reports: ones Redis accepts
// but can never match, where a Clear would silently remove nothing.
// Unterminated brackets and a trailing backslash are valid, because Redis
// gives them a meaning (as memstore does, through the same package).
func checkPattern(pattern string) error {
	if err := glob.Valid(pattern); err != nil {
		return fmt.Errorf("%w: %w", driver.ErrInvalidPattern, err)
	}
	return nil
}
