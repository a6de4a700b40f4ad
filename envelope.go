package larder

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"time"
)

// An envelope is what the Cache stores under a key: a small header and the
// encoded value. The header carries what every instance sharing the store
// needs to serve stale values, refresh early, keep write-through monotonic
// and honour tag invalidations, so that those decisions agree across
// machines:
//
//	byte 0      'L'  (magic)
//	byte 1      2    (format version)
//	byte 2      flags: negative (the loader said "not found"), lease
//	bytes 3-10  soft expiry, Unix milliseconds: fresh until then
//	bytes 11-18 hard expiry, Unix milliseconds: stale-while-revalidate and
//	            stale-if-error may serve it until then (the store's TTL)
//	bytes 19-26 delta: how long the value took to load, microseconds (XFetch)
//	bytes 27-34 version, for write-through that never goes backwards
//	bytes 35-42 a random stamp, unique to this write
//	bytes 43-44 the number of tags, n
//	n times     uint16 length, tag; uint16 length, the tag's generation
//	then        the codec's bytes, or a lease's token
//
// The stamp makes every write's bytes unique, so that a compare-and-swap
// against bytes once read can never match a later write that happens to
// carry the same value (no ABA): a delayed swap lands only if nothing at
// all was written in between. The tags and their generations live inside
// the entry, which stays under its own key, so that Delete, Exists, Get
// and Clear reach a tagged entry like any other; an entry whose recorded
// generations are no longer current is invalidated.
//
// Format 1 (no stamp, no tags) is still read; any other bytes are foreign:
// Fetch replaces them, Get reports a miss.
type envelope struct {
	flags   byte
	soft    int64 // Unix ms
	hard    int64 // Unix ms
	delta   int64 // µs
	version int64
	stamp   uint64
	tags    []tagGen
	value   []byte
}

// tagGen is one tag an entry was filed under and the generation it had
// when the entry's value was loaded.
type tagGen struct{ tag, gen string }

const (
	envMagic     = 'L'
	envVersion   = 2
	envHeaderV1  = 35
	envHeader    = 45
	flagNegative = 1 << 0
	flagLease    = 1 << 1
)

var errNotEnvelope = errors.New("larder: stored bytes are not a larder envelope")

func (e envelope) negative() bool { return e.flags&flagNegative != 0 }
func (e envelope) lease() bool    { return e.flags&flagLease != 0 }

// fresh reports whether the value is within its soft TTL at now.
func (e envelope) fresh(now time.Time) bool { return now.UnixMilli() < e.soft }

// usable reports whether the value may still be served stale at now.
func (e envelope) usable(now time.Time) bool { return now.UnixMilli() < e.hard }

// value reports whether the envelope holds a value (not a lease, not a
// negative entry).
func (e envelope) isValue() bool { return e.flags&(flagLease|flagNegative) == 0 }

func (e envelope) encode() []byte {
	n := envHeader + len(e.value)
	for _, t := range e.tags {
		n += 4 + len(t.tag) + len(t.gen)
	}
	b := make([]byte, envHeader, n)
	b[0], b[1], b[2] = envMagic, envVersion, e.flags
	binary.BigEndian.PutUint64(b[3:], uint64(e.soft))
	binary.BigEndian.PutUint64(b[11:], uint64(e.hard))
	binary.BigEndian.PutUint64(b[19:], uint64(e.delta))
	binary.BigEndian.PutUint64(b[27:], uint64(e.version))
	stamp := e.stamp
	if stamp == 0 {
		stamp = newStamp()
	}
	binary.BigEndian.PutUint64(b[35:], stamp)
	binary.BigEndian.PutUint16(b[43:], uint16(len(e.tags)))
	for _, t := range e.tags {
		b = binary.BigEndian.AppendUint16(b, uint16(len(t.tag)))
		b = append(b, t.tag...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(t.gen)))
		b = append(b, t.gen...)
	}
	return append(b, e.value...)
}

// decodeEnvelope reads b; the value and tags alias b.
func decodeEnvelope(b []byte) (envelope, error) {
	if len(b) < envHeaderV1 || b[0] != envMagic || (b[1] != 1 && b[1] != envVersion) {
		return envelope{}, errNotEnvelope
	}
	e := envelope{
		flags:   b[2],
		soft:    int64(binary.BigEndian.Uint64(b[3:])),
		hard:    int64(binary.BigEndian.Uint64(b[11:])),
		delta:   int64(binary.BigEndian.Uint64(b[19:])),
		version: int64(binary.BigEndian.Uint64(b[27:])),
	}
	if b[1] == 1 {
		e.value = b[envHeaderV1:]
		return e, nil
	}
	if len(b) < envHeader {
		return envelope{}, errNotEnvelope
	}
	e.stamp = binary.BigEndian.Uint64(b[35:])
	n := int(binary.BigEndian.Uint16(b[43:]))
	rest := b[envHeader:]
	if n > 0 {
		e.tags = make([]tagGen, n)
	}
	for i := range n {
		var tag, gen []byte
		var ok bool
		if tag, rest, ok = cutString(rest); !ok {
			return envelope{}, errNotEnvelope
		}
		if gen, rest, ok = cutString(rest); !ok {
			return envelope{}, errNotEnvelope
		}
		e.tags[i] = tagGen{string(tag), string(gen)}
	}
	e.value = rest
	return e, nil
}

// cutString reads a uint16-length-prefixed string off the front of b.
func cutString(b []byte) (s, rest []byte, ok bool) {
	if len(b) < 2 {
		return nil, nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return nil, nil, false
	}
	return b[2 : 2+n], b[2+n:], true
}

// newStamp returns a random, non-zero stamp.
func newStamp() uint64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:])
		if s := binary.BigEndian.Uint64(b[:]); s != 0 {
			return s
		}
	}
}
