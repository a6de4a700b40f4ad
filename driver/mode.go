package driver

// Mode names how a Cache keeps its values.
type Mode string

// The modes a Cache reports through its Mode method.
const (
	// ModeOff is a disabled cache: no store, every read misses.
	ModeOff Mode = "off"
	// ModeMemory is an in-process store (memstore), for one machine.
	ModeMemory Mode = "memory"
	// ModeRedis is a Redis or Valkey server shared between machines.
	ModeRedis Mode = "redis"
	// ModeCustom is any other Store that does not report its mode.
	ModeCustom Mode = "custom"
)

// ModeReporter is implemented by stores that say which Mode they give a
// Cache. A Store that does not implement it makes a ModeCustom cache.
type ModeReporter interface {
	Mode() Mode
}
