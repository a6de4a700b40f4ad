package glob

import "strings"

// Escape returns a pattern that matches exactly s: the metacharacters
// * ? [ ] and \ are each preceded by a backslash. larder.EscapeGlob is its
// public face.
func Escape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 4)
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
