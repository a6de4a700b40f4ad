package larder

import "encoding/json"

// Codec turns values into bytes for the store and back. Implementations must
// be safe for concurrent use.
type Codec interface {
	// Marshal encodes v.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into v, which is a non-nil pointer.
	Unmarshal(data []byte, v any) error
}

// JSON is the default Codec, encoding/json. Values that encoding/json cannot
// encode (channels, functions, NaN, cyclic structures…) make Set return an
// error wrapping ErrEncode.
type JSON struct{}

// Marshal encodes v as JSON.
func (JSON) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes JSON data into v.
func (JSON) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
