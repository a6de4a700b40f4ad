package larder

import (
	"encoding/binary"
	"errors"
	"time"
)

// An envelope is what the Cache stores under a key: a small header and the
// encoded value. The header carries what every instance sharing the store
// needs to serve stale values, refresh early and keep write-through
// monotonic, so that those decisions agree across machines:
//
//	byte 0      'L'  (magic)
//	byte 1      1    (format version)
//	byte 2      flags: negative (the loader said "not found"), lease
//	bytes 3-10  soft expiry, Unix milliseconds: fresh until then
//	bytes 11-18 hard expiry, Unix milliseconds: stale-while-revalidate and
//	            stale-if-error may serve it until then (the store's TTL)
//	bytes 19-26 delta: how long the value took to load, microseconds (XFetch)
//	bytes 27-34 version, for write-through that never goes backwards
//	bytes 35-   the codec's bytes, or a lease's token
type envelope struct {
	flags   byte
	soft    int64 // Unix ms
	hard    int64 // Unix ms
	delta   int64 // µs
	version int64
	value   []byte
}

const (
	envMagic    = 'L'
	envVersion  = 1
	envHeader   = 35
	flagNegativ = 1 << 0
	flagLease   = 1 << 1
)

var errNotEnvelope = errors.New("larder: stored bytes are not a larder envelope")

func (e envelope) negative() bool { return e.flags&flagNegativ != 0 }
func (e envelope) lease() bool    { return e.flags&flagLease != 0 }

// fresh reports whether the value is within its soft TTL at now.
func (e envelope) fresh(now time.Time) bool { return now.UnixMilli() < e.soft }

// usable reports whether the value may still be served stale at now.
func (e envelope) usable(now time.Time) bool { return now.UnixMilli() < e.hard }

func (e envelope) encode() []byte {
	b := make([]byte, envHeader+len(e.value))
	b[0], b[1], b[2] = envMagic, envVersion, e.flags
	binary.BigEndian.PutUint64(b[3:], uint64(e.soft))
	binary.BigEndian.PutUint64(b[11:], uint64(e.hard))
	binary.BigEndian.PutUint64(b[19:], uint64(e.delta))
	binary.BigEndian.PutUint64(b[27:], uint64(e.version))
	copy(b[envHeader:], e.value)
	return b
}

// decodeEnvelope reads b; the value aliases b.
func decodeEnvelope(b []byte) (envelope, error) {
	if len(b) < envHeader || b[0] != envMagic || b[1] != envVersion {
		return envelope{}, errNotEnvelope
	}
	return envelope{
		flags:   b[2],
		soft:    int64(binary.BigEndian.Uint64(b[3:])),
		hard:    int64(binary.BigEndian.Uint64(b[11:])),
		delta:   int64(binary.BigEndian.Uint64(b[19:])),
		version: int64(binary.BigEndian.Uint64(b[27:])),
		value:   b[envHeader:],
	}, nil
}
