package sandbox

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"unicode"
)

// Company-name generation: the ways one customer's name differs between an
// RMM and a PSA in real data.

// legalSuffixes are families of spellings of one legal form; the first is
// the canonical one.
var legalSuffixes = [][]string{
	{"Inc.", "Inc", "Incorporated"},
	{"LLC", "L.L.C.", "Llc"},
	{"Ltd", "Ltd.", "Limited"},
	{"Corp.", "Corp", "Corporation"},
	{"Co.", "Company"},
	{"GmbH"},
	{"S.r.l.", "SRL", "Srl"},
	{"P.C.", "PC"},
	{"LLP"},
}

// splitSuffix returns the name without its legal suffix, the suffix as
// written, and the suffix family (-1 when there is none).
func splitSuffix(name string) (base, suffix string, family int) {
	t := strings.TrimSpace(name)
	family = -1
	for fi, fam := range legalSuffixes {
		for _, sfx := range fam {
			if len(t) <= len(sfx)+1 || !strings.EqualFold(t[len(t)-len(sfx):], sfx) {
				continue
			}
			pre := t[:len(t)-len(sfx)]
			if !strings.HasSuffix(pre, " ") {
				continue
			}
			if len(sfx) > len(suffix) {
				base, suffix, family = strings.TrimRight(strings.TrimSpace(pre), ","), t[len(t)-len(sfx):], fi
			}
		}
	}
	if family < 0 {
		return t, "", -1
	}
	return base, suffix, family
}

// orgBases are the generated organization names (before a legal suffix).
var orgBases = []string{
	"Acme", "Northwind Traders", "Contoso", "Smith & Sons", "Blue Ridge Dental",
	"Harbor Logistics", "Pinecrest Medical Group", "Riverside Law", "O'Brien Construction",
	"Müller Maschinenbau", "Rossi Costruzioni", "Summit Accounting", "Greenleaf Landscaping",
	"Bright Futures Academy", "Lakeside Veterinary", "Keystone Insurance", "Evergreen Realty",
	"Atlas Engineering", "Coastal Credit Union", "Maple & Main Bakery", "Silver Oak Winery",
	"Redwood Capital", "Cornerstone Church", "Metro Plumbing", "Apex Manufacturing",
	"Hilltop Farms", "Beacon Health", "Granite State Roofing", "Sunrise Senior Living",
	"Fairview Pediatrics", "Johnson Brothers", "Westside Auto Repair", "Clearwater Pools",
	"Ironclad Security", "Orchard Hill Dental", "Prairie Wind Energy", "Delta Freight",
	"Bayview Hotel", "Crescent City Architects", "Two Rivers Brewing",
}

// suffixFor picks a legal suffix fitting a base name.
func suffixFor(rng *rand.Rand, base string) string {
	switch {
	case strings.Contains(base, "Müller"):
		return "GmbH"
	case strings.Contains(base, "Rossi"):
		return "S.r.l."
	case strings.Contains(base, "Church"), strings.Contains(base, "Credit Union"), strings.Contains(base, "Academy"):
		return ""
	}
	return []string{"", "Inc.", "LLC", "Ltd", "Corp.", "Co.", ", Inc.", "P.C.", "LLP"}[rng.IntN(9)]
}

func withSuffix(base, suffix string) string {
	switch {
	case suffix == "":
		return base
	case strings.HasPrefix(suffix, ","):
		return base + suffix
	}
	return base + " " + suffix
}

// generateOrgs makes n distinct organization names.
func generateOrgs(rng *rand.Rand, n int) []string {
	perm := rng.Perm(len(orgBases))
	regions := []string{"North", "West", "Holdings", "Group", "Partners", "East", "Services", "Labs"}
	seen := map[string]bool{}
	var out []string
	for i := 0; len(out) < n; i++ {
		base := orgBases[perm[i%len(orgBases)]]
		if round := i / len(orgBases); round > 0 {
			base += " " + regions[(round-1)%len(regions)]
			if round > len(regions) {
				base += fmt.Sprintf(" %d", round)
			}
		}
		name := withSuffix(base, suffixFor(rng, base))
		if !seen[strings.ToLower(name)] {
			seen[strings.ToLower(name)] = true
			out = append(out, name)
		}
	}
	return out
}

// variant rewrites a name the way another person would have typed it:
// case, punctuation, legal-suffix spelling, "&"/"and", spacing. The result
// always differs from name but normalizes to the same words.
func variant(rng *rand.Rand, name string) string {
	transforms := []func(string) string{
		strings.ToUpper,
		func(s string) string { return strings.NewReplacer(",", "", ".", "").Replace(s) },
		func(s string) string { return swapSuffix(rng, s) },
		func(s string) string {
			if strings.Contains(s, " & ") {
				return strings.Replace(s, " & ", " and ", 1)
			}
			if strings.Contains(strings.ToLower(s), " and ") {
				i := strings.Index(strings.ToLower(s), " and ")
				return s[:i] + " & " + s[i+5:]
			}
			return swapSuffix(rng, s)
		},
		func(s string) string { return strings.Replace(s, " ", "  ", 1) },
		func(s string) string {
			base, sfx, fam := splitSuffix(s)
			if fam < 0 {
				return s + ", Inc."
			}
			if strings.HasSuffix(base, ",") || strings.Contains(s, ", ") {
				return base + " " + sfx
			}
			return base + ", " + sfx
		},
	}
	out := name
	for tries := 0; tries < 8 && out == name; tries++ {
		n := 1 + rng.IntN(2)
		out = name
		for _, i := range rng.Perm(len(transforms))[:n] {
			out = transforms[i](out)
		}
	}
	if out == name {
		out = strings.ToUpper(name)
		if out == name {
			out = strings.ToLower(name)
		}
	}
	return out
}

// swapSuffix changes the legal suffix's spelling within its family, or
// adds one when there is none.
func swapSuffix(rng *rand.Rand, name string) string {
	base, sfx, fam := splitSuffix(name)
	if fam < 0 {
		return base + " " + []string{"Inc", "LLC", "Ltd"}[rng.IntN(3)]
	}
	spellings := legalSuffixes[fam]
	if len(spellings) == 1 {
		return base // drop it: "Müller Maschinenbau GmbH" → "Müller Maschinenbau"
	}
	for {
		alt := spellings[rng.IntN(len(spellings))]
		if alt != sfx {
			return base + " " + alt
		}
	}
}

// trades are business descriptors for near-duplicates and look-alikes.
var trades = []string{"Plumbing", "Dental", "Logistics", "Realty", "Consulting", "Veterinary Clinic",
	"Bakery", "Auto Repair", "Landscaping", "Accounting", "Roofing", "Insurance Agency", "Pharmacy", "Fitness"}

// tradeNotIn picks a trade none of whose words appear in name.
func tradeNotIn(rng *rand.Rand, name string) string {
	lower := strings.ToLower(name)
	for _, i := range rng.Perm(len(trades)) {
		ok := true
		for _, w := range strings.Fields(strings.ToLower(trades[i])) {
			if strings.Contains(lower, w) {
				ok = false
			}
		}
		if ok {
			return trades[i]
		}
	}
	return "Holdings"
}

// nearDuplicates returns two names for one customer entered twice, e.g.
// "Smith & Sons LLC" and "Smith and Sons Plumbing".
func nearDuplicates(rng *rand.Rand, name string) (string, string) {
	base, sfx, _ := splitSuffix(name)
	alt := []string{"LLC", "Inc.", "Ltd"}[rng.IntN(3)]
	if strings.EqualFold(alt, sfx) {
		alt = "Co."
	}
	a := base + " " + alt
	b := base
	if strings.Contains(b, " & ") {
		b = strings.Replace(b, " & ", " and ", 1)
	}
	// Half the pairs are the same customer entered twice (only the legal
	// suffix or "&"/"and" differ: a human must pick one), half a second
	// company that adds a trade word ("Smith and Sons Plumbing").
	if rng.IntN(2) == 0 {
		return a, b + " " + []string{"Inc", "LLC", "Corp."}[rng.IntN(3)]
	}
	b += " " + tradeNotIn(rng, name)
	return a, b
}

// lookAlike returns an unrelated company sharing the first distinctive
// word: "Acme Logistics" → "Acme Dental Studio".
func lookAlike(rng *rand.Rand, name string) string {
	base, _, _ := splitSuffix(name)
	words := strings.Fields(base)
	first := words[0]
	if strings.EqualFold(first, "the") && len(words) > 1 {
		first = words[1]
	}
	first = strings.TrimRightFunc(first, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	return first + " " + tradeNotIn(rng, name) + " " + []string{"Studio", "Group", "Partners", "Center", "Co."}[rng.IntN(5)]
}

// identifierFor makes a unique company identifier from a name.
func identifierFor(name string, taken map[string]bool) string {
	var b strings.Builder
	for _, r := range name {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	id := b.String()
	if len(id) > 25 {
		id = id[:25]
	}
	if id == "" {
		id = "COMPANY"
	}
	cand := id
	for n := 2; taken[cand]; n++ {
		sfx := fmt.Sprint(n)
		cand = id[:min(len(id), 25-len(sfx))] + sfx
	}
	taken[cand] = true
	return cand
}
