package glob

import "fmt"

// Valid reports whether Redis can ever match pattern. Redis accepts every
// pattern, but its matcher stops at a recursion depth of 1000 and reports
// no match, so a pattern whose 1001st run of unescaped * (outside brackets)
// is followed by anything else matches no string at all. Such a pattern is
// almost certainly a mistake, and a Clear with it would silently remove
// nothing; Valid returns an error describing it so that a store can refuse
// it instead (wrapping larder.ErrInvalidPattern). Every other pattern,
// including ones with unterminated brackets or a trailing backslash, is
// valid because Redis gives it a meaning.
//
// Valid runs in time linear in len(pattern) and is safe for concurrent use.
func Valid(pattern string) error {
	runs := 0
	for i := 0; i < len(pattern); i++ {
		switch pattern[i] {
		case '*':
			for i+1 < len(pattern) && pattern[i+1] == '*' {
				i++
			}
			runs++
			if runs > maxNesting && i+1 < len(pattern) {
				return fmt.Errorf("glob: pattern has more than %d runs of * followed by more pattern; Redis matches nothing with it", maxNesting)
			}
		case '\\':
			if i+1 < len(pattern) {
				i++
			}
		case '[':
			last, _ := matchClass(pattern[i:], 0)
			i += last
		}
	}
	return nil
}
