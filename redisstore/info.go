package redisstore

import (
	"context"
	"strings"
)

// Info returns the server's INFO (its default sections: server, clients,
// memory, stats, replication, cpu, keyspace, …) as flat field/value pairs
// such as redis_version, connected_clients, used_memory_human and
// total_commands_processed. Section headers are dropped, as field names are
// unique across sections. On a Cluster it describes the node rueidis picks.
// It is safe for concurrent use.
func (s *Store) Info(ctx context.Context) (map[string]string, error) {
	c, err := s.current("info")
	if err != nil {
		return nil, err
	}
	defer c.release()
	text, err := bounded(ctx, s, func() (string, error) {
		return c.client.Do(ctx, c.client.B().Info().Build()).ToString()
	})
	if err != nil {
		return nil, s.fail(ctx, "info", err)
	}
	return parseInfo(text), nil
}

// parseInfo parses INFO's "# Section" headers and "field:value" lines. A
// value may itself contain colons (db0:keys=1,expires=0 or an address), so
// only the first one separates.
func parseInfo(text string) map[string]string {
	out := make(map[string]string, 128)
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = v
		}
	}
	return out
}
