package cachetest

import (
	"context"
	"fmt"

	"github.com/larderhq/larder/driver"
)

// clearCase is one Clear call and the keys it must remove. Keys are relative
// to the check's prefix; the pattern is appended to the escaped prefix.
type clearCase struct {
	pattern string
	removes []string
}

// runClearCases stores keys under p, then runs each case in order and checks
// that it removed exactly its keys: its count, its keys gone, and every key
// not yet removed still holding its value.
func runClearCases(ctx context.Context, s driver.Store, p string, keys []string, cases []clearCase) error {
	live := map[string][]byte{}
	for _, k := range keys {
		live[p+k] = []byte("value of " + k)
	}
	if err := setAll(ctx, s, live); err != nil {
		return err
	}
	for _, c := range cases {
		if err := wantClear(ctx, s, escape(p)+c.pattern, len(c.removes)); err != nil {
			return err
		}
		for _, k := range c.removes {
			if err := wantMissing(ctx, s, p+k); err != nil {
				return fmt.Errorf("after Clear(%q): %w", escape(p)+c.pattern, err)
			}
			delete(live, p+k)
		}
		if err := wantValues(ctx, s, live); err != nil {
			return fmt.Errorf("Clear(%q) removed a key that does not match: %w", escape(p)+c.pattern, err)
		}
	}
	return nil
}

// checkNamespaceIsolation: clearing one namespace leaves others intact,
// including one whose name starts with the cleared one's.
func checkNamespaceIsolation(ctx context.Context, s driver.Store, p string) error {
	var keys []string
	for _, ns := range []string{"ns1:", "ns2:", "ns1x:"} {
		for i := range 5 {
			keys = append(keys, fmt.Sprintf("%suser:%d", ns, i))
		}
	}
	removed := func(ns string) []string {
		var r []string
		for i := range 5 {
			r = append(r, fmt.Sprintf("%suser:%d", ns, i))
		}
		return r
	}
	return runClearCases(ctx, s, p, keys, []clearCase{
		{"ns1:*", removed("ns1:")},
		{"ns2:*", removed("ns2:")},
		{"ns2:*", nil},
	})
}

// checkClearStar: * matches any run of bytes, including none, anywhere in
// the pattern.
func checkClearStar(ctx context.Context, s driver.Store, p string) error {
	keys := []string{"user:1", "user:22", "user:", "users:1", "order:1", "order:1:item", "x"}
	return runClearCases(ctx, s, p, keys, []clearCase{
		{"user:*", []string{"user:1", "user:22", "user:"}},
		{"o*:1", []string{"order:1"}},
		{"*:item", []string{"order:1:item"}},
		{"nothing*", nil},
		{"*", []string{"users:1", "x"}},
	})
}

// checkClearQuestion: ? matches exactly one byte.
func checkClearQuestion(ctx context.Context, s driver.Store, p string) error {
	keys := []string{"k1", "k2", "k10", "k", "k\xff", "j1"}
	return runClearCases(ctx, s, p, keys, []clearCase{
		{"k?", []string{"k1", "k2", "k\xff"}},
		{"k??", []string{"k10"}},
		{"?", []string{"k"}},
		{"?1", []string{"j1"}},
	})
}

// checkClearClass: [abc], [^abc], [a-z] and the reversed [z-a] match one
// byte of, or outside, a set.
func checkClearClass(ctx context.Context, s driver.Store, p string) error {
	keys := []string{"ka", "kb", "kc", "kd", "k-", "k^", "kab", "x1", "x5", "x9"}
	return runClearCases(ctx, s, p, keys, []clearCase{
		{"k[ab]", []string{"ka", "kb"}},
		{"k[^a-c]", []string{"kd", "k-", "k^"}},
		{"k[c-a]", []string{"kc"}},
		{"x[0-4]", []string{"x1"}},
		{"x[^5]", []string{"x9"}},
		{"k[a-z][a-z]", []string{"kab"}},
	})
}

// checkClearEscaped: a backslash makes the next byte literal, so keys that
// contain metacharacters can be cleared one by one without touching the
// keys that the unescaped pattern would also match.
func checkClearEscaped(ctx context.Context, s driver.Store, p string) error {
	keys := []string{"a*b", "axb", "a?b", "a[b", "a[x]b", "ab", `a\b`, "a]b", "a*", "a*c"}
	return runClearCases(ctx, s, p, keys, []clearCase{
		{`a\*b`, []string{"a*b"}},
		{`a\?b`, []string{"a?b"}},
		{`a\[b`, []string{"a[b"}},
		{`a\[x\]b`, []string{"a[x]b"}},
		{`a\\b`, []string{`a\b`}},
		{`a\]b`, []string{"a]b"}},
		{`a\*`, []string{"a*"}},
		{`a\**`, []string{"a*c"}},
		{`a[\*x]b`, []string{"axb"}},
	})
}

// manyKeys is more than twice the 1,000 keys a Redis SCAN visits per call
// with a large COUNT, so a Clear that stops after one batch is caught.
const manyKeys = 2600

// checkClearMany: Clear removes every matching key even when there are far
// more than one batch of them, and nothing else.
func checkClearMany(ctx context.Context, s driver.Store, p string) error {
	key := func(i int) string { return fmt.Sprintf("%smany:%05d", p, i) }
	value := []byte("v")
	if err := parallel(manyKeys, 16, func(i int) error {
		return s.Set(ctx, key(i), value, longTTL)
	}); err != nil {
		return fmt.Errorf("calling Set: %w", err)
	}
	others := map[string][]byte{p + "other:1": []byte("o1"), p + "manx:1": []byte("o2"), p + "many": []byte("o3")}
	if err := setAll(ctx, s, others); err != nil {
		return err
	}
	if err := wantClear(ctx, s, escape(p)+"many:*", manyKeys); err != nil {
		return err
	}
	if err := parallel(manyKeys, 16, func(i int) error {
		return wantExists(ctx, s, key(i), false)
	}); err != nil {
		return fmt.Errorf("after Clear: %w", err)
	}
	if err := wantValues(ctx, s, others); err != nil {
		return fmt.Errorf("calling Clear removed a key that does not match: %w", err)
	}
	return wantClear(ctx, s, escape(p)+"many:*", 0)
}
