package glob

import (
	"strings"
	"testing"
)

// escapeAll escapes every byte, which must be just as exact as escape.
func escapeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte('\\')
		b.WriteByte(s[i])
	}
	return b.String()
}

// refToken is one element of a pattern for refMatch: a run of stars, a
// single byte of a set (which covers ?, a literal and a bracket class).
type refToken struct {
	star bool
	set  [256]bool
}

// refTokens splits a pattern the way Redis reads it, written independently
// of match and matchClass so that a misreading in one shows up as a
// disagreement with the other.
func refTokens(p string) []refToken {
	var toks []refToken
	for i := 0; i < len(p); {
		var t refToken
		switch c := p[i]; {
		case c == '*':
			t.star = true
			for i < len(p) && p[i] == '*' {
				i++
			}
		case c == '?':
			for b := range t.set {
				t.set[b] = true
			}
			i++
		case c == '\\' && i+1 < len(p):
			t.set[p[i+1]] = true
			i += 2
		case c == '[':
			i++
			negate := i < len(p) && p[i] == '^'
			if negate {
				i++
			}
		class:
			for i < len(p) {
				switch {
				case p[i] == '\\' && i+1 < len(p):
					t.set[p[i+1]] = true
					i += 2
				case p[i] == ']':
					i++
					break class
				case i+2 < len(p) && p[i+1] == '-':
					lo, hi := int(p[i]), int(p[i+2])
					if lo > hi {
						lo, hi = hi, lo
					}
					for b := lo; b <= hi; b++ {
						t.set[b] = true
					}
					i += 3
				default:
					t.set[p[i]] = true
					i++
				}
			}
			if negate {
				for b := range t.set {
					t.set[b] = !t.set[b]
				}
			}
		default:
			t.set[c] = true
			i++
		}
		toks = append(toks, t)
	}
	return toks
}

// refMatch is a dynamic-programming matcher with Redis's semantics, used as
// an oracle for Match.
func refMatch(p, s string) bool {
	// Redis's loop never runs for an empty string, so only an empty
	// pattern matches it.
	if s == "" {
		return p == ""
	}
	if Valid(p) != nil {
		return false
	}
	toks := refTokens(p)
	// ok[j] reports whether toks[i:] matches s[j:], for i from the end down.
	ok := make([]bool, len(s)+1)
	ok[len(s)] = true
	for i := len(toks) - 1; i >= 0; i-- {
		next := ok
		ok = make([]bool, len(s)+1)
		if toks[i].star {
			ok[len(s)] = next[len(s)]
			for j := len(s) - 1; j >= 0; j-- {
				ok[j] = next[j] || ok[j+1]
			}
			continue
		}
		for j := 0; j < len(s); j++ {
			ok[j] = toks[i].set[s[j]] && next[j+1]
		}
	}
	return ok[0]
}

func FuzzMatch(f *testing.F) {
	for _, tc := range matchCases() {
		if len(tc.pattern) < 200 {
			f.Add(tc.pattern, tc.s)
		}
	}
	f.Add("a*b?c[d-f]\\*", "axxbyce*")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		got := Match(pattern, s)
		prefix, exact := Literal(pattern)
		invalid := Valid(pattern)

		if p := Escape(s); !Match(p, s) {
			t.Fatalf("Match(%q, %q) = false for an escaped string", p, s)
		}
		if p := escapeAll(s); !Match(p, s) {
			t.Fatalf("Match(%q, %q) = false for a fully escaped string", p, s)
		}
		if lit, ex := Literal(Escape(s)); lit != s || !ex {
			t.Fatalf("Literal(%q) = (%q, %v), want (%q, true)", Escape(s), lit, ex, s)
		}
		if got && !strings.HasPrefix(s, prefix) {
			t.Fatalf("Match(%q, %q) = true but s lacks the literal prefix %q", pattern, s, prefix)
		}
		if got && exact && s != prefix {
			t.Fatalf("Match(%q, %q) = true but the exact pattern only matches %q", pattern, s, prefix)
		}
		if exact && !Match(pattern, prefix) {
			t.Fatalf("exact pattern %q does not match its literal %q", pattern, prefix)
		}
		if got && invalid != nil {
			t.Fatalf("Match(%q, %q) = true but Valid says it never matches: %v", pattern, s, invalid)
		}
		if want := refMatch(pattern, s); got != want {
			t.Fatalf("Match(%q, %q) = %v, reference says %v", pattern, s, got, want)
		}
	})
}
