package larder

import (
	"reflect"
)

// sizeOf estimates the heap bytes a decoded value holds, for the local
// tier's byte bound: the value itself plus what its strings, slices, maps
// and pointers reach. It is an estimate (shared memory is counted once per
// path, allocator rounding is ignored) and it stops at depth 32, but it
// follows the decoded shape, which can be several times the encoded size:
// a JSON "1" is one byte, an int is eight. It runs on fills only.
func sizeOf(v any) int {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return 0
	}
	return int(rv.Type().Size()) + reachable(rv, 0)
}

// reachable returns the bytes that v points to, beyond v's own size.
func reachable(v reflect.Value, depth int) int {
	if depth > 32 {
		return 0
	}
	switch v.Kind() {
	case reflect.String:
		return v.Len()
	case reflect.Slice:
		if v.IsNil() {
			return 0
		}
		n := v.Cap() * int(v.Type().Elem().Size())
		for i := range v.Len() {
			n += reachable(v.Index(i), depth+1)
		}
		return n
	case reflect.Array:
		n := 0
		for i := range v.Len() {
			n += reachable(v.Index(i), depth+1)
		}
		return n
	case reflect.Struct:
		n := 0
		for i := range v.NumField() {
			n += reachable(v.Field(i), depth+1)
		}
		return n
	case reflect.Pointer:
		if v.IsNil() {
			return 0
		}
		return int(v.Type().Elem().Size()) + reachable(v.Elem(), depth+1)
	case reflect.Interface:
		if v.IsNil() {
			return 0
		}
		e := v.Elem()
		return int(e.Type().Size()) + reachable(e, depth+1)
	case reflect.Map:
		if v.IsNil() {
			return 0
		}
		// A Go map costs about twice its keys and values in buckets.
		kv := int(v.Type().Key().Size() + v.Type().Elem().Size())
		n := 48 + 2*v.Len()*kv
		it := v.MapRange()
		for it.Next() {
			n += reachable(it.Key(), depth+1) + reachable(it.Value(), depth+1)
		}
		return n
	}
	return 0
}
