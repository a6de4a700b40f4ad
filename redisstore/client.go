package redisstore

import (
	"github.com/larderhq/larder"
	"github.com/redis/rueidis"
)

// Mode reports larder.ModeRedis, so that a Cache over this store says so.
func (s *Store) Mode() larder.Mode { return larder.ModeRedis }

// ClientOf returns the rueidis client under c, for the rare raw command
// the Cache does not offer. It returns nil unless c is in redis mode and
// its store has connected: a caller tests for nil and does without the
// raw command in off and memory modes, and while a Redis that was
// unreachable at start-up has not answered yet. Keys written through the
// client bypass the namespace unless the caller adds it (see
// [larder.Cache.Key]). The client is safe for concurrent use; do not
// close it, c owns it. A Cache created later over the same store may
// replace the client (see [Store.Track]), so get it again for each piece
// of work.
func ClientOf(c *larder.Cache) rueidis.Client {
	if s, ok := c.Store().(*Store); ok {
		return s.Client()
	}
	return nil
}
