package cachetest

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/larderhq/larder/internal/glob"
)

func TestEscape(t *testing.T) {
	tests := []struct {
		s          string
		neighbours []string
	}{
		{"plain", []string{"plainx", "plai"}},
		{"a*b", []string{"axb", "ab", "a**b"}},
		{"a?b", []string{"axb", "ab"}},
		{"a[b]", []string{"ab", "a[b"}},
		{`a\b`, []string{"ab", `a\\b`}},
		{"ct:PREFIX:", []string{"ct:PREFIX:x"}},
		{"\x00\xff", []string{"\x00"}},
	}
	for _, tc := range tests {
		t.Run(tc.s, func(t *testing.T) {
			p := escape(tc.s)
			if !glob.Match(p, tc.s) {
				t.Errorf("escape(%q) = %q, which does not match the string", tc.s, p)
			}
			for _, n := range tc.neighbours {
				if glob.Match(p, n) {
					t.Errorf("escape(%q) = %q, which also matches %q", tc.s, p, n)
				}
			}
		})
	}
}

func TestCheckValue(t *testing.T) {
	a := selfCheckingValue(1, 2, 4096)
	b := selfCheckingValue(3, 4, 4096)
	spliced := append(append([]byte{}, a[:2048]...), b[2048:]...)
	flipped := append([]byte{}, a...)
	flipped[3000] ^= 1
	tests := []struct {
		name    string
		value   []byte
		wantErr bool
	}{
		{"intact", a, false},
		{"intact small", selfCheckingValue(0, 0, 1), false},
		{"spliced from two writes", spliced, true},
		{"truncated", a[:4000], true},
		{"one bit flipped", flipped, true},
		{"too short", a[:8], true},
		{"empty", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkValue(tc.value); (err != nil) != tc.wantErr {
				t.Errorf("checkValue = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func TestParallel(t *testing.T) {
	tests := []struct {
		name    string
		fn      func(i int) error
		wantErr string
	}{
		{"all succeed", func(i int) error { return nil }, ""},
		{"one fails", func(i int) error {
			if i == 7 {
				return errors.New("seven")
			}
			return nil
		}, "seven"},
		{"one panics", func(i int) error {
			if i == 3 {
				panic("three")
			}
			return nil
		}, "panic: three"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			err := parallel(100, 4, func(i int) error {
				calls.Add(1)
				return tc.fn(i)
			})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("parallel = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("parallel = %v, want an error containing %q", err, tc.wantErr)
			}
			if tc.wantErr == "" && calls.Load() != 100 {
				t.Errorf("fn ran %d times, want 100", calls.Load())
			}
		})
	}
}
