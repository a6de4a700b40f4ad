package glob

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		wantErr bool
	}{
		{"empty", "", false},
		{"star", "*", false},
		{"unterminated class", "a[bc", false},
		{"trailing backslash", "\\", false},
		{"1000 runs of star", strings.Repeat("*a", 1000), false},
		{"1001 runs of star", strings.Repeat("*a", 1001), true},
		{"1001st run of star at the end", strings.Repeat("a*", 1001), false},
		{"1002 runs, the last at the end", strings.Repeat("a*", 1002), true},
		{"doubled stars count once", strings.Repeat("**a", 1000), false},
		{"doubled stars count once, over the limit", strings.Repeat("**a", 1001), true},
		{"escaped stars do not count", strings.Repeat("\\*a", 2000), false},
		{"stars inside a class do not count", "[" + strings.Repeat("*a", 2000) + "]", false},
		{"stars inside an unterminated class do not count", "[" + strings.Repeat("*a", 2000), false},
		{"escaped close bracket keeps the class open", "[\\]" + strings.Repeat("*a", 2000) + "]", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Valid(tc.pattern)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Valid(%.40q...) = %v, want error %v", tc.pattern, err, tc.wantErr)
			}
			if err != nil {
				// The point of an error is that Redis matches nothing: try a
				// string that the pattern would match without the limit.
				s := strings.NewReplacer("*", "", "\\", "").Replace(tc.pattern)
				if Match(tc.pattern, s) {
					t.Errorf("Valid rejected a pattern that matches %.40q...", s)
				}
			}
		})
	}
}
