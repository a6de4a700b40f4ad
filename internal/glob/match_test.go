package glob

import (
	"strings"
	"testing"
)

// matchCase is one pattern and string with the answer Redis gives.
type matchCase struct {
	name    string
	pattern string
	s       string
	want    bool
}

// matchCases returns the table shared by TestMatch, the reference matcher's
// test and the fuzz corpus. The cases were checked against a Redis 7.0
// server (KEYS) on x86-64, except where a comment says otherwise.
func matchCases() []matchCase {
	return []matchCase{
		// Literals.
		{"empty pattern matches empty string", "", "", true},
		{"empty pattern rejects non-empty", "", "a", false},
		{"literal needs a byte", "a", "", false},
		{"literal equal", "abc", "abc", true},
		{"literal differs in last byte", "abc", "abd", false},
		{"literal longer than string", "abc", "ab", false},
		{"literal shorter than string", "ab", "abc", false},
		{"matching is case-sensitive", "ABC", "abc", false},
		{"close bracket outside a class is literal", "a]b", "a]b", true},
		{"caret and dash outside a class are literal", "^-", "^-", true},

		// Star.
		{"star matches anything", "*", "abc", true},
		{"star does not match empty string (Redis quirk)", "*", "", false},
		{"double star does not match empty string", "**", "", false},
		{"trailing star matches nothing more", "a*", "a", true},
		{"trailing star matches the rest", "a*", "abc", true},
		{"leading star", "*c", "abc", true},
		{"leading star wrong end", "*c", "abd", false},
		{"inner star empty run", "a*c", "ac", true},
		{"inner star long run", "a*c", "abbbc", true},
		{"inner star wrong end", "a*c", "abbbd", false},
		{"consecutive stars collapse", "a**c", "abc", true},
		{"star backtracks", "*ab", "aab", true},
		{"several stars", "*a*b*c*", "xaybzc", true},
		{"several stars out of order", "*a*b*c*", "xcybza", false},
		{"star then question", "*?", "a", true},
		{"star cannot make up for missing byte", "*??", "a", false},
		{"stars after a fully consumed string", "a***", "a", true},
		{"escaped star after consumed string is not skipped", "a\\*", "a", false},

		// Question mark.
		{"question matches one byte", "?", "a", true},
		{"question needs a byte", "?", "", false},
		{"question matches only one byte", "?", "ab", false},
		{"inner question", "a?c", "abc", true},
		{"inner question needs a byte", "a?c", "ac", false},
		{"question matches any byte value", "??", "\x00\xff", true},

		// Bracket expressions.
		{"set member", "[abc]", "b", true},
		{"set non-member", "[abc]", "d", false},
		{"set matches exactly one byte", "[abc]", "ab", false},
		{"negated set non-member", "[^abc]", "d", true},
		{"negated set member", "[^abc]", "a", false},
		{"range inside", "[a-c]", "b", true},
		{"range bounds are inclusive", "[a-c]", "c", true},
		{"range outside", "[a-c]", "d", false},
		{"reversed range is accepted", "[c-a]", "b", true},
		{"reversed range outside", "[c-a]", "d", false},
		{"negated range", "[^a-c]", "d", true},
		{"negated range member", "[^a-c]", "b", false},
		{"two ranges", "[a-cx-z]", "y", true},
		{"range then literal", "[a-c_]", "_", true},
		{"leading dash is literal", "[-a]", "-", true},
		{"caret after first position is literal", "[a^]", "^", true},
		{"empty set matches nothing", "[]a]", "a]", false},
		{"empty negated set matches anything", "[^]", "x", true},
		{"empty negated set then literal", "[^]a", "xa", true},
		{"class then literal", "[ab]c", "bc", true},
		{"star inside class is literal", "[*]", "*", true},
		{"star inside class is not a wildcard", "[*]", "a", false},
		{"question inside class is literal", "[?]", "a", false},
		{"open bracket inside class is literal", "[[]", "[", true},

		// Closing bracket as a range end ([a-] reaches to ']'), and
		// unterminated classes taking the rest of the pattern.
		{"range to close bracket includes underscore", "[a-]", "_", true},
		{"range to close bracket includes a", "[a-]", "a", true},
		{"range to close bracket excludes dash", "[a-]", "-", false},
		{"range to close bracket excludes b", "[a-]", "b", false},
		{"unterminated after range takes the rest", "[a-]x", "x", true},
		{"unterminated after range is one byte", "[a-]x", "ax", false},
		{"unterminated class first member", "a[bc", "ab", true},
		{"unterminated class second member", "a[bc", "ac", true},
		{"unterminated class is one byte", "a[bc", "abc", false},
		{"unterminated class non-member", "a[bc", "ad", false},
		{"lone open bracket matches nothing", "[", "[", false},
		{"lone open bracket and empty string", "[", "", false},
		{"trailing open bracket", "a[", "a[", false},
		{"trailing open bracket, string ends first", "a[", "a", false},
		{"unterminated negation matches anything", "[^", "x", true},
		{"unterminated negation needs a byte", "[^", "", false},
		{"unterminated class with trailing backslash", "[\\", "\\", true},

		// Escapes.
		{"escaped star", "\\*", "*", true},
		{"escaped star is not a wildcard", "\\*", "x", false},
		{"escaped question", "a\\?b", "a?b", true},
		{"escaped question is not a wildcard", "a\\?b", "axb", false},
		{"escaped open bracket", "\\[a]", "[a]", true},
		{"escaped open bracket is not a class", "\\[a]", "a", false},
		{"escaped backslash", "\\\\", "\\", true},
		{"escaped ordinary byte", "\\a", "a", true},
		{"trailing backslash is literal", "\\", "\\", true},
		{"trailing backslash after literal", "a\\", "a\\", true},
		{"trailing backslash needs its byte", "a\\", "a", false},
		{"escaped close bracket in class", "[\\]]", "]", true},
		{"escaped caret in class", "[\\^a]", "^", true},
		{"escaped caret in class is not negation", "[\\^a]", "b", false},
		{"escaped dash in class is no range", "[a\\-z]", "-", true},
		{"escaped dash in class excludes middle", "[a\\-z]", "b", false},
		{"escaped range start is no range", "[\\a-z]", "-", true},
		{"escaped range start excludes middle", "[\\a-z]", "m", false},
		{"escaped star next to wildcard star", "a\\**", "a*bc", true},
		{"escaped star next to wildcard star needs star", "a\\**", "abc", false},

		// Bytes that are not text.
		{"zero byte literal", "a\x00*", "a\x00b", true},
		{"zero byte literal mismatch", "a\x00*", "a\x01b", false},
		{"star over invalid UTF-8", "*", "\xff\xfe", true},
		{"question is one byte, not one rune", "?", "é", false},
		{"two questions match a two-byte rune", "??", "é", true},
		{"high range", "[\x80-\xff]", "\x90", true},
		{"high range excludes ASCII", "[\x80-\xff]", "b", false},
		// Differs from x86-64 Redis, which compares signed chars and so reads
		// [a-\xff] as [\xff-a]; arm64 Redis agrees with this answer.
		{"ranges compare unsigned bytes", "[a-\xff]", "b", true},

		// Recursion limit and the early exit that bounds the time taken.
		{"many stars fail fast", "*a*a*a*a*a*a*a*a*a*a*b", strings.Repeat("a", 200), false},
		{"1000 runs of star still match", strings.Repeat("*a", 1000), strings.Repeat("a", 1000), true},
		{"1001st run of star followed by more matches nothing", strings.Repeat("*a", 1001), strings.Repeat("a", 1001), false},
		{"1001st run of star at the end still matches", strings.Repeat("a*", 1001), strings.Repeat("a", 1001), true},
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range matchCases() {
		t.Run(tc.name, func(t *testing.T) {
			if got := Match(tc.pattern, tc.s); got != tc.want {
				t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
			}
		})
	}
}

// TestMatchAgreesWithReference checks every table case against the
// dynamic-programming matcher of the fuzz test, so that the two
// implementations are known to agree before fuzzing starts.
func TestMatchAgreesWithReference(t *testing.T) {
	for _, tc := range matchCases() {
		t.Run(tc.name, func(t *testing.T) {
			if got := refMatch(tc.pattern, tc.s); got != tc.want {
				t.Errorf("refMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
			}
		})
	}
}

func TestMatchEscaped(t *testing.T) {
	for _, s := range []string{"", "a*b", "a?b", "a[b]", "[^a-z]", "\\", "a\\b", "*?[]\\^-", "\x00\xff"} {
		t.Run(s, func(t *testing.T) {
			if !Match(Escape(s), s) {
				t.Errorf("Match(%q, %q) = false, want true", Escape(s), s)
			}
			if !Match(escapeAll(s), s) {
				t.Errorf("Match(%q, %q) = false, want true", escapeAll(s), s)
			}
		})
	}
}

func BenchmarkMatch(b *testing.B) {
	benchmarks := []struct {
		name, pattern, s string
	}{
		{"prefix-star", "app:v1:user:*", "app:v1:user:123456"},
		{"inner-class", "app:v1:user:[0-9]*:profile", "app:v1:user:123456:profile"},
		{"pathological", strings.Repeat("*a", 20) + "b", strings.Repeat("a", 500)},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			for b.Loop() {
				Match(bm.pattern, bm.s)
			}
		})
	}
}
