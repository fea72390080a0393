// Package account is account sync: matching RMM organizations to PSA
// accounts, mapping them (and their sites to locations), creating accounts
// exactly once, and provisioning RMM organizations from PSA accounts.
//
// Auto-match compares company names after Normalize (case, accents,
// punctuation, whitespace, "&"/"and", legal suffixes, a leading "The") with
// Score, a token-set similarity blended with an edit distance, and answers
// with Match: match_found only for a single candidate with the same words as
// the organization, clearly ahead of every other; multiple_matches when
// there are plausible candidates but no such leader; no_match otherwise.
package account

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/rmmbridge/rmmbridge/shared/psa"
)

// Outcome is the answer of an auto-match.
type Outcome string

// Outcomes of Match.
const (
	// MatchFound: exactly one confident candidate, clearly ahead of the next.
	MatchFound Outcome = "match_found"
	// MultipleMatches: plausible candidates, but no single confident
	// leader (the user chooses).
	MultipleMatches Outcome = "multiple_matches"
	// NoMatch: no plausible candidate.
	NoMatch Outcome = "no_match"
)

// Thresholds of Match. Score places a pair of names in bands:
//
//	1.00        the same words in the same order after Normalize
//	0.98        the same words, but some written together or apart
//	            ("BlueSky" / "Blue Sky")
//	0.95        the same words in another order
//	0.85 or     any word differs, is missing, or is spelled differently:
//	less        the blended similarity (below 1) times differentWordsFactor
//
// The thresholds sit in the gaps between those bands, so a decision never
// hangs on a third decimal.
const (
	// ConfidentScore is the least score that may be auto-matched. Only
	// names with the same words reach it. A spelling difference is never
	// confident, however long the name: Hansen/Hanson, Petersen/Peterson
	// or ABC/ABD are different companies at least as often as they are
	// typos, and a wrong link spreads into every ticket and asset.
	ConfidentScore = 0.90
	// LeadMargin is how far the confident candidate must lead the next
	// plausible one. Same-words candidates are at most 0.05 apart and
	// different-words candidates at least 0.10 below any same-words one,
	// so 0.10 means: a candidate with the organization's words wins over
	// candidates with other words, never over another candidate with the
	// same words (duplicate accounts go to the user).
	LeadMargin = 0.10
	// PlausibleScore is the least score shown as a candidate. At 0.5 a
	// name that contains all of the other's words with one more word
	// ("Acme" / "Acme Dental", about 0.54) or that shares most words and
	// most letters ("Smith & Sons LLC" / "Smith and Sons Plumbing", about
	// 0.66; "Johnson" / "Jonson", about 0.70) is shown, while names that
	// share one word of two and differ in the rest ("Acme Dental" / "Acme
	// Logistics", about 0.36) or only look alike letter by letter ("ABC
	// Corp" / "ABD Corp", about 0.17) are not.
	PlausibleScore = 0.50
)

// Weights of Score.
const (
	// sameWordsSpacing and sameWordsReordered are the scores of the two
	// lesser same-words bands.
	sameWordsSpacing   = 0.98
	sameWordsReordered = 0.95
	// differentWordsFactor scales the blended similarity of names whose
	// words differ, keeping them below every same-words band by at least
	// LeadMargin.
	differentWordsFactor = 0.85
	// tokenWeight and editWeight blend the token-set similarity (which
	// words the names share) with the edit similarity of the canonical
	// keys (how many letters must change).
	tokenWeight = 0.7
	editWeight  = 0.3
	// weakWeight is the weight of a weak word ("and", "of", "group") in
	// the token-set similarity; other words weigh 1.
	weakWeight = 0.25
	// A misspelled word pairs with its counterpart when both have at
	// least fuzzyMinLen letters (no digits) and their edit similarity is
	// at least fuzzyMinSim; it then counts for that similarity instead of
	// 1. Shorter words must match exactly: "ABC" and "ABD" are not
	// spellings of one word.
	fuzzyMinLen = 4
	fuzzyMinSim = 0.75
)

// Candidate is a PSA account proposed for an organization.
type Candidate struct {
	Account psa.Account
	// Score is the name similarity, 0..1, rounded to 3 decimals.
	Score float64
	// Reasons explain the score in a few words each.
	Reasons []string
}

// MatchResult is the answer of Match.
type MatchResult struct {
	Outcome Outcome
	// Candidates are the plausible accounts (Score ≥ PlausibleScore),
	// best first, then by name; never nil.
	Candidates []Candidate
}

// Match scores every account against the organization name and decides:
// MatchFound when exactly one candidate scores at least ConfidentScore
// and leads the next candidate by at least LeadMargin; MultipleMatches
// when there is at least one plausible candidate but no such leader (two
// confident candidates included); NoMatch otherwise. Accounts repeated
// with the same id (from several searches) are scored once.
func Match(orgName string, accounts []psa.Account) MatchResult {
	res := MatchResult{Outcome: NoMatch, Candidates: []Candidate{}}
	org := Normalize(orgName)
	if org.Key == "" {
		return res
	}
	seen := make(map[string]bool, len(accounts))
	for _, a := range accounts {
		if a.ID != "" {
			if seen[a.ID] {
				continue
			}
			seen[a.ID] = true
		}
		s, reasons := score(org, Normalize(a.Name))
		if milli(s) >= milli(PlausibleScore) {
			res.Candidates = append(res.Candidates, Candidate{Account: a, Score: s, Reasons: reasons})
		}
	}
	sort.SliceStable(res.Candidates, func(i, j int) bool {
		ci, cj := res.Candidates[i], res.Candidates[j]
		if ci.Score != cj.Score {
			return ci.Score > cj.Score
		}
		if ci.Account.Name != cj.Account.Name {
			return ci.Account.Name < cj.Account.Name
		}
		return ci.Account.ID < cj.Account.ID
	})
	switch c := res.Candidates; {
	case len(c) == 0:
	case milli(c[0].Score) >= milli(ConfidentScore) &&
		(len(c) == 1 || milli(c[0].Score)-milli(c[1].Score) >= milli(LeadMargin)):
		res.Outcome = MatchFound
	default:
		res.Outcome = MultipleMatches
	}
	return res
}

// milli converts a score to thousandths, so thresholds compare exactly.
func milli(x float64) int { return int(math.Round(x * 1000)) }

// Score compares an organization name with an account name: 1 for the
// same name after Normalize, lower the more the words and letters differ
// (see the bands above ConfidentScore). Reasons name what was ignored
// ("same name after removing 'Inc.'", "'&' read as 'and'") and what
// differs ("1 of 2 words differ: 'Dental' vs 'Logistics'", "spelling
// differs by 1 character: 'Jonson' vs 'Johnson'").
func Score(orgName, accountName string) (float64, []string) {
	return score(Normalize(orgName), Normalize(accountName))
}

type pairKind int

const (
	pairExact    pairKind = iota
	pairTranslit          // "Müller" / "Mueller"
	pairMerged            // "Blue Sky" / "BlueSky"
	pairFuzzy             // a spelling difference
)

// pair links words of a (the organization) to words of b (the account).
type pair struct {
	a, b   []int
	kind   pairKind
	credit float64
	dist   int
}

// pairing is how the words of two names correspond.
type pairing struct {
	pairs        []pair
	onlyA, onlyB []int
}

func weight(w word) float64 {
	if weakWords()[w.text] {
		return weakWeight
	}
	return 1
}

// pairWords matches words exactly (or by German transliteration) first,
// then words written together on one side and apart on the other, then
// misspellings, best first.
func pairWords(a, b []word) pairing {
	usedA, usedB := make([]bool, len(a)), make([]bool, len(b))
	var p pairing
	for i, wa := range a {
		for j, wb := range b {
			if usedB[j] {
				continue
			}
			kind := pairExact
			if wa.text != wb.text {
				if wa.translit != wb.translit {
					continue
				}
				kind = pairTranslit
			}
			usedA[i], usedB[j] = true, true
			p.pairs = append(p.pairs, pair{a: []int{i}, b: []int{j}, kind: kind, credit: 1})
			break
		}
	}
	merge := func(x, y []word, usedX, usedY []bool, swap bool) {
		for i := 0; i+1 < len(x); i++ {
			if usedX[i] || usedX[i+1] {
				continue
			}
			joined := x[i].text + x[i+1].text
			for j, wy := range y {
				if !usedY[j] && wy.text == joined {
					usedX[i], usedX[i+1], usedY[j] = true, true, true
					pr := pair{a: []int{i, i + 1}, b: []int{j}, kind: pairMerged, credit: 1}
					if swap {
						pr.a, pr.b = pr.b, pr.a
					}
					p.pairs = append(p.pairs, pr)
					break
				}
			}
		}
	}
	merge(a, b, usedA, usedB, false)
	merge(b, a, usedB, usedA, true)

	type fuzzy struct {
		i, j, dist int
		sim        float64
	}
	var fs []fuzzy
	for i, wa := range a {
		if usedA[i] || !fuzzyEligible(wa.text) {
			continue
		}
		for j, wb := range b {
			if usedB[j] || !fuzzyEligible(wb.text) {
				continue
			}
			d := editDistance(wa.text, wb.text)
			sim := 1 - float64(d)/float64(max(utf8.RuneCountInString(wa.text), utf8.RuneCountInString(wb.text)))
			if sim >= fuzzyMinSim {
				fs = append(fs, fuzzy{i, j, d, sim})
			}
		}
	}
	sort.SliceStable(fs, func(x, y int) bool { return fs[x].sim > fs[y].sim })
	for _, f := range fs {
		if usedA[f.i] || usedB[f.j] {
			continue
		}
		usedA[f.i], usedB[f.j] = true, true
		p.pairs = append(p.pairs, pair{a: []int{f.i}, b: []int{f.j}, kind: pairFuzzy, credit: f.sim, dist: f.dist})
	}
	for i := range a {
		if !usedA[i] {
			p.onlyA = append(p.onlyA, i)
		}
	}
	for j := range b {
		if !usedB[j] {
			p.onlyB = append(p.onlyB, j)
		}
	}
	return p
}

func fuzzyEligible(s string) bool {
	return utf8.RuneCountInString(s) >= fuzzyMinLen && !strings.ContainsFunc(s, unicode.IsDigit)
}

// score is Score on normalized names.
func score(a, b Normalized) (float64, []string) {
	if len(a.words) == 0 || len(b.words) == 0 {
		return 0, []string{"no name to compare"}
	}
	p := pairWords(a.words, b.words)

	// Token-set similarity: a weighted fuzzy Jaccard index, averaged with
	// the containment of the shorter name in the longer.
	var inter, wa, wb float64
	fuzzyOrMerged := false
	for _, pr := range p.pairs {
		w := 0.0
		for _, i := range pr.a {
			w = max(w, weight(a.words[i]))
		}
		for _, j := range pr.b {
			w = max(w, weight(b.words[j]))
		}
		inter += pr.credit * w
		wa += w
		wb += w
		fuzzyOrMerged = fuzzyOrMerged || pr.kind == pairFuzzy
	}
	for _, i := range p.onlyA {
		wa += weight(a.words[i])
	}
	for _, j := range p.onlyB {
		wb += weight(b.words[j])
	}
	jaccard := inter / (wa + wb - inter)
	containment := inter / min(wa, wb)
	tokenSim := (jaccard + containment) / 2

	// Edit similarity of the keys, in written order and with words
	// sorted, the better of the two; paired words are spelled alike on
	// both sides except for misspellings.
	ka, kb, reordered, merged := pairedKeys(a.words, b.words, p)
	ja, jb := strings.Join(ka, " "), strings.Join(kb, " ")
	editSim := keySimilarity(ja, jb)
	if sa, sb := sortedJoin(ka), sortedJoin(kb); sa != ja || sb != jb {
		editSim = max(editSim, keySimilarity(sa, sb))
	}

	sameWords := len(p.onlyA) == 0 && len(p.onlyB) == 0 && !fuzzyOrMerged
	var s float64
	switch {
	case sameWords:
		s = 1
		if merged {
			s = min(s, sameWordsSpacing)
		}
		if reordered {
			s = min(s, sameWordsReordered)
		}
	default:
		s = differentWordsFactor * (tokenWeight*tokenSim + editWeight*editSim)
	}
	s = float64(milli(s)) / 1000
	return s, explain(a, b, p, sameWords && !merged && !reordered, reordered)
}

// pairedKeys returns the words of each side in written order, a paired
// word spelled as on the other side (merged words joined, transliterated
// words alike), and whether the paired words come in another order.
func pairedKeys(a, b []word, p pairing) (ka, kb []string, reordered, merged bool) {
	type unit struct {
		pos  int
		text string
		pair int
	}
	var ua, ub []unit
	for n, pr := range p.pairs {
		ta, tb := joinText(a, pr.a), joinText(b, pr.b)
		if pr.kind == pairTranslit {
			ta, tb = a[pr.a[0]].translit, b[pr.b[0]].translit
		}
		merged = merged || pr.kind == pairMerged
		ua = append(ua, unit{pr.a[0], ta, n})
		ub = append(ub, unit{pr.b[0], tb, n})
	}
	for _, i := range p.onlyA {
		ua = append(ua, unit{i, a[i].text, -1})
	}
	for _, j := range p.onlyB {
		ub = append(ub, unit{j, b[j].text, -1})
	}
	sort.Slice(ua, func(x, y int) bool { return ua[x].pos < ua[y].pos })
	sort.Slice(ub, func(x, y int) bool { return ub[x].pos < ub[y].pos })
	var oa, ob []int
	for _, u := range ua {
		ka = append(ka, u.text)
		if u.pair >= 0 {
			oa = append(oa, u.pair)
		}
	}
	for _, u := range ub {
		kb = append(kb, u.text)
		if u.pair >= 0 {
			ob = append(ob, u.pair)
		}
	}
	for i := range oa {
		if oa[i] != ob[i] {
			reordered = true
		}
	}
	return ka, kb, reordered, merged
}

func joinText(ws []word, idx []int) string {
	if len(idx) == 1 {
		return ws[idx[0]].text
	}
	var b strings.Builder
	for _, i := range idx {
		b.WriteString(ws[i].text)
	}
	return b.String()
}

func sortedJoin(ss []string) string {
	c := append([]string(nil), ss...)
	sort.Strings(c)
	return strings.Join(c, " ")
}

// keySimilarity is 1 minus the edit distance over the longer length.
func keySimilarity(x, y string) float64 {
	n := max(utf8.RuneCountInString(x), utf8.RuneCountInString(y))
	if n == 0 {
		return 1
	}
	return 1 - float64(editDistance(x, y))/float64(n)
}

// editDistance is the optimal-string-alignment distance (Levenshtein plus
// transposition of adjacent letters) between x and y, by rune.
func editDistance(x, y string) int {
	if x == y {
		return 0
	}
	var bufA, bufB [64]rune
	a := appendRunes(bufA[:0], x)
	b := appendRunes(bufB[:0], y)
	if len(a) == 0 {
		return len(b)
	}
	if len(b) == 0 {
		return len(a)
	}
	// Three rolling rows: prev2 (i-2), prev (i-1), cur (i).
	var buf [3 * 65]int
	var rows []int
	if 3*(len(b)+1) <= len(buf) {
		rows = buf[:3*(len(b)+1)]
	} else {
		rows = make([]int, 3*(len(b)+1))
	}
	prev2, prev, cur := rows[:len(b)+1], rows[len(b)+1:2*(len(b)+1)], rows[2*(len(b)+1):]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d = min(d, prev2[j-2]+1)
			}
			cur[j] = d
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

func appendRunes(dst []rune, s string) []rune {
	for _, r := range s {
		dst = append(dst, r)
	}
	return dst
}

// explain turns a pairing into human-readable reasons, the differences
// first, then what was ignored to get there.
func explain(a, b Normalized, p pairing, sameKey, reordered bool) []string {
	if sameKey && strings.TrimSpace(a.raw) == strings.TrimSpace(b.raw) {
		return []string{"identical name"}
	}
	var rs []string
	add := func(s string) {
		for _, r := range rs {
			if r == s {
				return
			}
		}
		rs = append(rs, s)
	}

	// Differences.
	if reordered {
		add("same words in a different order")
	}
	var fuzzy []pair
	for _, pr := range p.pairs {
		switch pr.kind {
		case pairMerged:
			add(fmt.Sprintf("%s and %s differ only in spacing", quote(joinOrig(a.words, pr.a, " ")), quote(joinOrig(b.words, pr.b, " "))))
		case pairFuzzy:
			fuzzy = append(fuzzy, pr)
		}
	}
	for _, pr := range fuzzy {
		add(fmt.Sprintf("spelling differs by %s: %s vs %s", plural(pr.dist, "character"),
			quote(bare(a.words[pr.a[0]].orig)), quote(bare(b.words[pr.b[0]].orig))))
	}
	onlyA, onlyB := joinOrig(a.words, p.onlyA, " "), joinOrig(b.words, p.onlyB, " ")
	switch {
	case len(p.onlyA) > 0 && len(p.onlyB) > 0:
		add(fmt.Sprintf("%d of %d words differ: %s vs %s", max(len(p.onlyA), len(p.onlyB)),
			max(len(a.words), len(b.words)), quote(onlyA), quote(onlyB)))
	case len(p.onlyA) > 0:
		add(fmt.Sprintf("%s only in the organization name", quote(onlyA)))
	case len(p.onlyB) > 0:
		add(fmt.Sprintf("%s only in the account name", quote(onlyB)))
	}

	// What was ignored.
	var removed []string
	if a.suffix != b.suffix {
		removed = append(removed, suffixPhrase(a)...)
		removed = append(removed, suffixPhrase(b)...)
	}
	if a.the != b.the {
		removed = append([]string{"The"}, removed...)
	}
	if len(removed) > 0 {
		qs := make([]string, len(removed))
		for i, r := range removed {
			qs[i] = quote(r)
		}
		if sameKey {
			add("same name after removing " + andList(qs))
		} else {
			add("ignoring " + andList(qs))
		}
	}

	var ignoring []string
	caseDiff, accentDiff := false, false
	punctDiff := a.seps != b.seps || a.punct != b.punct
	for _, pr := range p.pairs {
		if pr.kind != pairExact && pr.kind != pairTranslit {
			continue
		}
		wa, wb := a.words[pr.a[0]], b.words[pr.b[0]]
		switch {
		case pr.kind == pairTranslit:
			x, y := wa, wb
			if !x.accented {
				x, y = y, x
			}
			add(fmt.Sprintf("%s read as %s", quote(bare(x.orig)), quote(bare(y.orig))))
		case wa.rewrite || wb.rewrite:
			if strings.EqualFold(wa.orig, wb.orig) {
				continue
			}
			x, y := wa, wb
			if !x.rewrite {
				x, y = y, x
			}
			if y.rewrite {
				add(fmt.Sprintf("%s and %s both read as %s", quote(bare(wa.orig)), quote(bare(wb.orig)), quote(wa.text)))
			} else {
				add(fmt.Sprintf("%s read as %s", quote(bare(x.orig)), quote(bare(y.orig))))
			}
		default:
			pa, pb := plain(wa.orig), plain(wb.orig)
			if wa.accented != wb.accented || pa != pb && !strings.EqualFold(pa, pb) {
				accentDiff = true
			}
			if pa != pb && strings.EqualFold(pa, pb) {
				caseDiff = true
			}
			if punctOf(wa.orig) != punctOf(wb.orig) {
				punctDiff = true
			}
		}
	}
	if sa, sb := suffixPhrase(a), suffixPhrase(b); len(sa) == 1 && len(sb) == 1 && a.suffix == b.suffix {
		pa, pb := plain(sa[0]), plain(sb[0])
		caseDiff = caseDiff || pa != pb && strings.EqualFold(pa, pb)
		punctDiff = punctDiff || punctOf(sa[0]) != punctOf(sb[0])
	}
	if sameKey {
		if caseDiff {
			ignoring = append(ignoring, "case")
		}
		if accentDiff {
			ignoring = append(ignoring, "accents")
		}
		if punctDiff {
			ignoring = append(ignoring, "punctuation")
		}
		if a.spacing || b.spacing {
			ignoring = append(ignoring, "extra spaces")
		}
		if len(ignoring) > 0 {
			add("same name ignoring " + andList(ignoring))
		}
	} else if accentDiff {
		add("ignoring accents")
	}
	if len(rs) == 0 {
		add("same name after normalization")
	}
	return rs
}

func suffixPhrase(n Normalized) []string {
	if n.suffix == "" {
		return nil
	}
	return n.Removed[len(n.Removed)-1:]
}

func joinOrig(ws []word, idx []int, sep string) string {
	parts := make([]string, len(idx))
	for k, i := range idx {
		parts[k] = bare(ws[i].orig)
	}
	return strings.Join(parts, sep)
}

// bare drops a trailing dot ("Inc." stays as written in suffixes, but a
// word quoted in a difference reads better without it).
func bare(s string) string {
	if len(s) > 1 {
		return strings.TrimSuffix(s, ".")
	}
	return s
}

// plain is s without accents and punctuation, case kept.
func plain(s string) string {
	var b strings.Builder
	for _, r := range norm.NFKD.String(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func punctOf(s string) string {
	var b strings.Builder
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func quote(s string) string { return "'" + s + "'" }

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func andList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// searchStopWords are words too common in company names to be the term of
// a PSA name search: the search would return a page of unrelated
// accounts. They are still searched when a name has no other word.
var searchStopWords = sync.OnceValue(func() map[string]bool {
	return map[string]bool{
		"and": true, "of": true, "the": true, "for": true, "group": true, "holding": true,
		"holdings": true, "international": true, "national": true, "global": true,
		"services": true, "service": true, "solutions": true, "solution": true,
		"consulting": true, "consultants": true, "technologies": true, "technology": true,
		"tech": true, "systems": true, "partners": true, "associates": true,
		"management": true, "enterprises": true, "industries": true, "company": true,
		"dental": true, "medical": true, "clinic": true, "health": true, "care": true,
		"law": true, "legal": true, "office": true, "offices": true, "it": true,
		"plumbing": true, "construction": true, "logistics": true, "insurance": true,
		"financial": true, "accounting": true, "center": true, "manufacturing": true,
		"brothers": true, "sons": true, "family": true, "trust": true, "foundation": true,
	}
})

// SearchTerms returns the 1–3 texts to give the PSA's server-side "name
// contains" search (psa.AccountQuery.Search) so that the results include
// the accounts Score finds plausible for orgName; the caller runs each and
// unions the results (Match scores a repeated id once). Terms are single
// words, so punctuation, legal suffixes and word order in the account's
// name don't hide it from the search:
//
//   - the most distinctive word of the normalized name: the first one of
//     at least 3 letters that is not a common business word ("Dental",
//     "Services"), else the first common word, else the first short one,
//     accent-folded ("Müller" → "muller"); a word
//     written with an apostrophe or inner dots is searched by its longest
//     plain part ("Mary's" → "mary", "O'Brien" → "brien"), which every
//     way of writing it contains;
//   - when that word has accents, also as written ("müller") and
//     transliterated ("mueller"), since PSAs differ in whether a search
//     ignores accents; when it holds "ae"/"oe"/"ue", also with the umlaut
//     ("mueller" → "müller");
//   - while there is room, the next word in the same order of preference,
//     so that an account whose first word is misspelled is still found.
//
// Accounts the terms miss: one that writes the distinctive word with
// dots or spaces inside ("A.B.C." for "ABC", "Blue Sky" for "BlueSky"),
// or misspells every word searched. A name made only of short or common
// words ("IT Group") searches broadly; the PSA's page limit then applies.
func SearchTerms(orgName string) []string {
	n := Normalize(orgName)
	if len(n.words) == 0 {
		return nil
	}
	// Preference: distinctive words, then common business words, then
	// words of one or two letters ("St", "IT"), then "and", "of", ...
	var best, common, short, weak []word
	for _, w := range n.words {
		switch {
		case w.text == "and" || weakWords()[w.text]:
			weak = append(weak, w)
		case utf8.RuneCountInString(w.text) < 3:
			short = append(short, w)
		case searchStopWords()[w.text]:
			common = append(common, w)
		default:
			best = append(best, w)
		}
	}
	ranked := append(append(append(best, common...), short...), weak...)

	var terms []string
	add := func(t string) {
		if t == "" || len(terms) == 3 {
			return
		}
		for _, x := range terms {
			if x == t {
				return
			}
		}
		terms = append(terms, t)
	}
	top := ranked[0]
	folded, written, translit := searchForms(top)
	add(folded)
	if top.accented {
		add(written)
		add(translit)
	} else if u := withUmlauts(folded); u != folded {
		add(u)
	}
	for _, w := range ranked[1:] {
		if w.text != "and" && !weakWords()[w.text] {
			f, _, _ := searchForms(w)
			add(f)
			break
		}
	}
	return terms
}

// searchForms returns the search text of one word: accent-folded, as
// written (lower-case, accents kept) and transliterated. A word written
// with apostrophes or inner dots is searched by its longest plain part
// when that has at least 3 letters.
func searchForms(w word) (folded, written, translit string) {
	if w.rewrite {
		return w.text, w.text, w.text
	}
	part := w.orig
	split := func(r rune) bool { return r == '.' || isApostrophe(r) }
	if strings.ContainsFunc(bare(w.orig), split) {
		longest := ""
		for _, p := range strings.FieldsFunc(w.orig, split) {
			if utf8.RuneCountInString(p) > utf8.RuneCountInString(longest) {
				longest = p
			}
		}
		if utf8.RuneCountInString(longest) < 3 {
			return w.text, w.text, w.translit
		}
		part = longest
	}
	folded, _ = fold(part)
	nfc := norm.NFC.String(stripPunct(part))
	translit, _ = fold(umlauts().Replace(nfc))
	return folded, strings.ToLower(nfc), translit
}

func stripPunct(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) {
			return r
		}
		return -1
	}, s)
}

var umlautOf = sync.OnceValue(func() map[byte]string {
	return map[byte]string{'a': "ä", 'o': "ö", 'u': "ü"}
})

// withUmlauts spells "ae", "oe", "ue" inside a word as umlauts, except
// "ue" after "q" ("mueller" → "müller"; "blue", "queen" unchanged).
func withUmlauts(s string) string {
	var b strings.Builder
	changed := false
	for i := 0; i < len(s); i++ {
		if i+2 < len(s) && s[i+1] == 'e' && (s[i] == 'a' || s[i] == 'o' || s[i] == 'u' && (i == 0 || s[i-1] != 'q')) {
			b.WriteString(umlautOf()[s[i]])
			i++
			changed = true
			continue
		}
		b.WriteByte(s[i])
	}
	if !changed {
		return s
	}
	return b.String()
}
