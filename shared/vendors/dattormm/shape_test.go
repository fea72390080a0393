package dattormm

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// TestShapeChecksMatchTheirPatterns checks the uid and variable checks
// (loops, so that nothing is compiled at start) against the patterns they
// replace, on edge cases and on random strings over the characters that
// matter.
func TestShapeChecksMatchTheirPatterns(t *testing.T) {
	uidPattern := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,63}$`)
	variablePattern := regexp.MustCompile(`^\[[A-Za-z0-9_]+\]$`)
	cases := []string{
		"", "a", "-", "-a", "a-", "Z9", "9", "é", "a b", "a\n", "\na", "a_b",
		"0b1a8f2c-6a4e-4a55-9f71-3f0b3c1f2e10", strings.Repeat("a", 64), strings.Repeat("a", 65),
		"a" + strings.Repeat("-", 63), "a" + strings.Repeat("-", 64),
		"[", "]", "[]", "[a]", "[alert_uid]", "[alert-uid]", "[a]b", "a[b]", "[[a]]", "[a\n]", "[é]",
	}
	const alphabet = "aZ09-_[] \né"
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b strings.Builder
		n := r.IntN(70)
		if r.IntN(4) == 0 {
			b.WriteByte('[')
		}
		for range n {
			b.WriteByte(alphabet[r.IntN(len(alphabet))])
		}
		if r.IntN(4) == 0 {
			b.WriteByte(']')
		}
		cases = append(cases, b.String())
	}
	for _, s := range cases {
		if got, want := isUID(s), uidPattern.MatchString(s); got != want {
			t.Errorf("isUID(%q) = %t, the pattern says %t", s, got, want)
		}
		if got, want := isVariable(s), variablePattern.MatchString(s); got != want {
			t.Errorf("isVariable(%q) = %t, the pattern says %t", s, got, want)
		}
	}
}
