package glob

import "strings"

// Literal returns the bytes that every string matching pattern must start
// with: the pattern up to its first unescaped *, ? or [, with escapes
// resolved. exact reports that the pattern has no such metacharacter at
// all, in which case the pattern matches prefix and nothing else.
//
// Stores use it to avoid matching keys that cannot match (a key without the
// prefix) and to turn a pattern naming a single key into a plain delete. A
// trailing lone backslash matches a backslash, as in Match, so it is part of
// the prefix. Literal is safe for concurrent use.
func Literal(pattern string) (prefix string, exact bool) {
	// Most patterns have no escapes before their first metacharacter, and
	// then the prefix is a slice of pattern with no allocation.
	i := strings.IndexAny(pattern, `*?[\`)
	if i < 0 {
		return pattern, true
	}
	if pattern[i] != '\\' {
		return pattern[:i], false
	}
	var b strings.Builder
	b.Grow(len(pattern))
	b.WriteString(pattern[:i])
	for ; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '*', '?', '[':
			return b.String(), false
		case '\\':
			if i+1 < len(pattern) {
				i++
			}
			b.WriteByte(pattern[i])
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}
