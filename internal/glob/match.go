package glob

// maxNesting is the recursion depth at which Redis's matcher gives up and
// reports no match, as protection against patterns with very many *.
// Each run of * that is followed by more pattern adds one level.
const maxNesting = 1000

// Match reports whether s matches the Redis glob pattern, with the
// semantics of Redis's stringmatchlen (see the package documentation).
// Every pattern is accepted: Redis gives a meaning to unterminated brackets
// and trailing backslashes rather than rejecting them.
//
// The time taken is bounded by about len(pattern)*len(s) steps, as in
// Redis, thanks to the same early exit that Redis uses once a * has failed
// to match at every position. Match is safe for concurrent use.
func Match(pattern, s string) bool {
	skipLonger := false
	return match(pattern, s, &skipLonger, 0)
}

// match is a line-by-line port of stringmatchlen_impl, kept recursive and
// close to the original so that the two can be compared by eye. Where the C
// code reads one byte past the end of the pattern (always the terminating
// NUL, which is no metacharacter), the port checks the length instead.
//
// skipLonger is Redis's skipLongerMatches: once the rest of the pattern
// after some * failed to match at every remaining position of s, no earlier
// * can succeed by consuming more, so every pending * gives up at once.
// That is what keeps patterns like "*a*a*a*b" from taking exponential time.
func match(p, s string, skipLonger *bool, nesting int) bool {
	if nesting > maxNesting {
		return false
	}
	for len(p) > 0 && len(s) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 1 && p[1] == '*' {
				p = p[1:]
			}
			if len(p) == 1 {
				return true
			}
			for len(s) > 0 {
				if match(p[1:], s, skipLonger, nesting+1) {
					return true
				}
				if *skipLonger {
					return false
				}
				s = s[1:]
			}
			*skipLonger = true
			return false
		case '?':
			s = s[1:]
		case '[':
			last, ok := matchClass(p, s[0])
			if !ok {
				return false
			}
			s = s[1:]
			p = p[last:]
		case '\\':
			if len(p) >= 2 {
				p = p[1:]
			}
			if p[0] != s[0] {
				return false
			}
			s = s[1:]
		default:
			if p[0] != s[0] {
				return false
			}
			s = s[1:]
		}
		p = p[1:]
		if len(s) == 0 {
			for len(p) > 0 && p[0] == '*' {
				p = p[1:]
			}
			break
		}
	}
	return len(p) == 0 && len(s) == 0
}

// matchClass matches c against the bracket expression at the start of p
// (p[0] == '['). It returns the index in p of the last byte the expression
// consumes and whether c is in the set. How far the expression reaches never
// depends on c, which is what lets Valid and Literal scan patterns without
// a string to match.
//
// An unterminated expression runs to the end of p: last is then len(p)-1,
// mirroring the "pattern--" by which Redis backs off the terminating NUL.
func matchClass(p string, c byte) (last int, ok bool) {
	i := 1
	negate := i < len(p) && p[i] == '^'
	if negate {
		i++
	}
	for {
		switch {
		case i < len(p) && p[i] == '\\' && len(p)-i >= 2:
			i++
			if p[i] == c {
				ok = true
			}
		case i < len(p) && p[i] == ']':
			return i, ok != negate
		case i >= len(p):
			return i - 1, ok != negate
		case len(p)-i >= 3 && p[i+1] == '-':
			lo, hi := p[i], p[i+2]
			if lo > hi {
				lo, hi = hi, lo
			}
			i += 2
			if c >= lo && c <= hi {
				ok = true
			}
		default:
			if p[i] == c {
				ok = true
			}
		}
		i++
	}
}
