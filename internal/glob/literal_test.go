package glob

import (
	"strings"
	"testing"
)

func TestLiteral(t *testing.T) {
	tests := []struct {
		name       string
		pattern    string
		wantPrefix string
		wantExact  bool
	}{
		{"empty", "", "", true},
		{"plain key", "abc", "abc", true},
		{"star at end", "ab*", "ab", false},
		{"star only", "*", "", false},
		{"question", "a?b", "a", false},
		{"class", "a[b]", "a", false},
		{"escaped star", "a\\*b", "a*b", true},
		{"escaped star then wildcard", "a\\*b*", "a*b", false},
		{"escaped backslash", "\\\\x", "\\x", true},
		{"trailing backslash", "a\\", "a\\", true},
		{"escaped brackets in a namespace", "ns:user:\\[1\\]:*", "ns:user:[1]:", false},
		{"close bracket, caret and dash are literal", "a]^-b", "a]^-b", true},
		{"escaped ordinary byte", "\\a\\b", "ab", true},
		{"escape after plain run", "abc\\?def?", "abc?def", false},
		{"zero byte", "a\x00b*", "a\x00b", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prefix, exact := Literal(tc.pattern)
			if prefix != tc.wantPrefix || exact != tc.wantExact {
				t.Fatalf("Literal(%q) = (%q, %v), want (%q, %v)", tc.pattern, prefix, exact, tc.wantPrefix, tc.wantExact)
			}
			// The prefix is only useful if it never rules out a match.
			if exact && !Match(tc.pattern, prefix) {
				t.Errorf("exact pattern %q does not match its literal %q", tc.pattern, prefix)
			}
		})
	}
}

// TestLiteralDoesNotAllocate guards the fast path that stores rely on when
// they call Literal once per Clear on keys without escapes.
func TestLiteralDoesNotAllocate(t *testing.T) {
	pattern := "app:v1:user:" + strings.Repeat("x", 40) + ":*"
	allocs := testing.AllocsPerRun(100, func() {
		Literal(pattern)
	})
	if allocs != 0 {
		t.Errorf("Literal(%q) allocated %v times per call, want 0", pattern, allocs)
	}
}
