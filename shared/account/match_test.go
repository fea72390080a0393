package account

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/psa"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		scenario string
		name     string
		key      string
		removed  []string
	}{
		// Legal suffixes, only at the end.
		{"Inc with comma and dot", "Acme, Inc.", "acme", []string{"Inc."}},
		{"Incorporated", "ACME  Incorporated", "acme", []string{"Incorporated"}},
		{"dotted LLC", "Pinnacle Roofing L.L.C.", "pinnacle roofing", []string{"L.L.C."}},
		{"Pty Ltd", "Woolworths Pty Ltd", "woolworths", []string{"Pty Ltd"}},
		{"parenthesised Pty", "Atlassian (Pty) Ltd", "atlassian", []string{"(Pty) Ltd"}},
		{"GmbH & Co. KG", "Dr. Oetker GmbH & Co. KG", "dr oetker", []string{"GmbH & Co. KG"}},
		{"S.r.l.", "Barilla S.r.l.", "barilla", []string{"S.r.l."}},
		{"S.p.A.", "Ferrari S.p.A.", "ferrari", []string{"S.p.A."}},
		{"spaced S. A.", "Lumen Analytics S. A.", "lumen analytics", []string{"S. A."}},
		{"A/S", "Maersk A/S", "maersk", []string{"A/S"}},
		{"dotted BV", "Philips B.V.", "philips", []string{"B.V."}},
		{"AB (publ)", "Ericsson AB (publ)", "ericsson", []string{"AB (publ)"}},
		{"& Co", "Smith & Co", "smith", []string{"& Co"}},
		{"suffix before trailing parenthetical", "Acme Ltd (UK)", "acme uk", []string{"Ltd"}},
		{"Co inside a name stays", "Acme Co Packaging", "acme co packaging", nil},
		{"Co at the end goes", "Coca-Cola Co", "coca cola", []string{"Co"}},
		{"suffix word at the start stays", "AB Plumbing", "ab plumbing", nil},
		{"never empty", "Inc.", "inc", nil},
		// Leading "The".
		{"leading The", "The Home Depot", "home depot", []string{"The"}},
		{"The and a suffix", "The Globex Company", "globex", []string{"The", "Company"}},
		{"The alone with a suffix word", "The Company", "company", []string{"The"}},
		{"The inside a word", "Theatre Co", "theatre", []string{"Co"}},
		// Accents and special letters.
		{"umlaut", "Müller GmbH", "muller", []string{"GmbH"}},
		{"decomposed umlaut", "Mu\u0308ller", "muller", nil},
		{"acute accents", "Société Générale S.A.", "societe generale", []string{"S.A."}},
		{"sharp s", "Straße Bau", "strasse bau", nil},
		{"slashed o", "Ørsted A/S", "orsted", []string{"A/S"}},
		{"Polish letters", "Łódź Logistics", "lodz logistics", nil},
		{"full-width letters", "Ａｃｍｅ Inc", "acme", []string{"Inc"}},
		// "&" and "and".
		{"ampersand", "Smith & Sons", "smith and sons", nil},
		{"plus without spaces", "Smith+Jones", "smith and jones", nil},
		{"und", "Ernst und Young", "ernst and young", nil},
		{"et", "Hennessy et Fils", "hennessy and fils", nil},
		{"leading Und is a word", "Und Partner", "und partner", nil},
		{"ampersand inside a word", "AT&T", "at and t", nil},
		// Abbreviations.
		{"Intl.", "Initech Intl.", "initech international", nil},
		{"Int'l", "Initech Int'l", "initech international", nil},
		{"Mfg", "Acme Mfg. Co.", "acme manufacturing", []string{"Co."}},
		// Punctuation and whitespace.
		{"apostrophe", "O'Brien Electric", "obrien electric", nil},
		{"dotted initials", "A.B.C. Plumbing", "abc plumbing", nil},
		{"spaced initials", "J P Morgan", "jp morgan", nil},
		{"dot between words", "acme.com", "acme com", nil},
		{"hyphen", "Rolls-Royce", "rolls royce", nil},
		{"trademark sign", "Acme™", "acme", nil},
		{"whitespace", "  Wayne \t Enterprises  ", "wayne enterprises", nil},
		{"empty", "", "", nil},
		{"punctuation only", "!!! --", "", nil},
	}
	type view struct {
		Key     string
		Tokens  []string
		Removed []string
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			n := Normalize(tt.name)
			want := view{Key: tt.key, Removed: tt.removed}
			if tt.key != "" {
				want.Tokens = strings.Fields(tt.key)
			}
			got := view{Key: n.Key, Tokens: n.Tokens, Removed: n.Removed}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Normalize(%q) mismatch (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

// band names the interval a score falls in.
func band(s float64) string {
	switch {
	case milli(s) >= milli(ConfidentScore):
		return "confident"
	case milli(s) >= milli(PlausibleScore):
		return "plausible"
	default:
		return "below"
	}
}

func TestScore(t *testing.T) {
	tests := []struct {
		scenario string
		org      string
		account  string
		band     string
		score    float64 // checked when not zero
		reasons  []string
	}{
		{"identical", "Acme Inc", "Acme Inc", "confident", 1, []string{"identical name"}},
		{"case and punctuation", "Acme, Inc.", "ACME Inc", "confident", 1,
			[]string{"same name ignoring case and punctuation"}},
		{"suffix removed", "Acme Inc.", "Acme", "confident", 1, []string{"same name after removing 'Inc.'"}},
		{"two suffixes and The", "The Globex Company", "Globex Corp", "confident", 1,
			[]string{"same name after removing 'The', 'Company' and 'Corp'"}},
		{"ampersand", "Smith & Sons", "Smith and Sons", "confident", 1, []string{"'&' read as 'and'"}},
		{"umlaut transliterated", "Müller GmbH", "Mueller GmbH", "confident", 1, []string{"'Müller' read as 'Mueller'"}},
		{"accents", "Café Luna", "Cafe Luna LLC", "confident", 1,
			[]string{"same name after removing 'LLC'", "same name ignoring accents"}},
		{"abbreviation", "Initech Intl.", "Initech International", "confident", 1,
			[]string{"'Intl' read as 'International'", "same name ignoring punctuation"}},
		{"extra spaces", "Wayne  Enterprises ", "Wayne Enterprises", "confident", 1,
			[]string{"same name ignoring extra spaces"}},
		{"spacing", "Blue Sky IT", "BlueSky IT", "confident", sameWordsSpacing,
			[]string{"'Blue Sky' and 'BlueSky' differ only in spacing"}},
		{"word order", "Smith, John", "John Smith", "confident", sameWordsReordered,
			[]string{"same words in a different order"}},
		{"extra word", "Smith & Sons LLC", "Smith and Sons Plumbing", "plausible", 0,
			[]string{"'Plumbing' only in the account name", "ignoring 'LLC'", "'&' read as 'and'"}},
		{"misspelling", "Johnson Plumbing", "Jonson Plumbing", "plausible", 0,
			[]string{"spelling differs by 1 character: 'Johnson' vs 'Jonson'"}},
		{"long name with a misspelling stays below confident",
			"Northwind Traders International Logistics Partners", "Northwind Traders Internatonal Logistics Partners", "plausible", 0,
			[]string{"spelling differs by 1 character: 'International' vs 'Internatonal'"}},
		{"different industry word", "Acme Dental", "Acme Logistics", "below", 0,
			[]string{"1 of 2 words differ: 'Dental' vs 'Logistics'"}},
		{"one letter apart, short", "ABC Corp", "ABD Corp", "below", 0,
			[]string{"1 of 1 words differ: 'ABC' vs 'ABD'"}},
		{"numbers differ", "Store 12", "Store 13", "below", 0,
			[]string{"1 of 2 words differ: '12' vs '13'"}},
		{"empty", "", "Acme", "below", 0, []string{"no name to compare"}},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			s, reasons := Score(tt.org, tt.account)
			if got := band(s); got != tt.band {
				t.Errorf("Score(%q, %q) = %.3f (%s), want %s", tt.org, tt.account, s, got, tt.band)
			}
			if tt.score != 0 && s != tt.score {
				t.Errorf("Score(%q, %q) = %.3f, want %.3f", tt.org, tt.account, s, tt.score)
			}
			if diff := cmp.Diff(tt.reasons, reasons); diff != "" {
				t.Errorf("reasons mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestScoreMonotonic(t *testing.T) {
	// Each account name is further from the organization than the one
	// before; the scores must not rise.
	org := "Northwind Traders"
	ladder := []string{
		"Northwind Traders",
		"NORTHWIND TRADERS, LLC",
		"North Wind Traders",
		"Traders Northwind",
		"Northwind Trader",
		"Northwind Traders Boston",
		"Northwind Health",
		"Southwind Health",
		"Contoso",
	}
	prev := 2.0
	for _, name := range ladder {
		s, _ := Score(org, name)
		t.Logf("%-26q %.3f", name, s)
		if s > prev {
			t.Errorf("Score(%q, %q) = %.3f, above the closer name's %.3f", org, name, s, prev)
		}
		prev = s
	}
}

func TestScoreProperties(t *testing.T) {
	// Over every name pair of the corpus: scores are in 0..1, rounded to
	// 3 decimals, symmetric, 1 when the keys are equal, outside the gap
	// between the different-words and the same-words bands, and
	// explained.
	for _, c := range matchCorpus {
		for _, a := range c.accounts {
			s, reasons := Score(c.org, a)
			back, _ := Score(a, c.org)
			if s < 0 || s > 1 {
				t.Errorf("Score(%q, %q) = %v, outside 0..1", c.org, a, s)
			}
			if s != math.Round(s*1000)/1000 {
				t.Errorf("Score(%q, %q) = %v, not rounded to 3 decimals", c.org, a, s)
			}
			if s != back {
				t.Errorf("Score(%q, %q) = %.3f but Score(%q, %q) = %.3f", c.org, a, s, a, c.org, back)
			}
			if Normalize(c.org).Key == Normalize(a).Key && s != 1 {
				t.Errorf("Score(%q, %q) = %.3f, want 1 for equal keys", c.org, a, s)
			}
			if milli(s) > milli(differentWordsFactor) && milli(s) < milli(sameWordsReordered) {
				t.Errorf("Score(%q, %q) = %.3f, inside the gap between the bands", c.org, a, s)
			}
			if len(reasons) == 0 {
				t.Errorf("Score(%q, %q) gave no reasons", c.org, a)
			}
		}
	}
}

func TestMatch(t *testing.T) {
	type cand struct {
		ID    string
		Score float64
	}
	tests := []struct {
		scenario string
		org      string
		accounts []psa.Account
		outcome  Outcome
		want     []cand
	}{
		{"no accounts", "Acme Inc", nil, NoMatch, []cand{}},
		{"empty organization name", "  ", []psa.Account{{ID: "1", Name: "Acme"}}, NoMatch, []cand{}},
		{"one confident candidate", "Acme, Inc.", []psa.Account{{ID: "1", Name: "ACME Inc"}}, MatchFound,
			[]cand{{"1", 1}}},
		{"confident leader over others", "Acme Inc", []psa.Account{
			{ID: "1", Name: "Acme Dental"}, {ID: "2", Name: "Acme LLC"}, {ID: "3", Name: "Contoso"}, {ID: "4", Name: "Acne Inc"},
		}, MatchFound, []cand{{"2", 1}, {"4", 0.593}, {"1", 0.539}}},
		{"reordered words lead a misspelling", "Smith Jones", []psa.Account{
			{ID: "1", Name: "Jones Smith"}, {ID: "2", Name: "Smyth Jones"},
		}, MatchFound, []cand{{"1", 0.95}, {"2", 0.743}}},
		{"two confident candidates", "Contoso", []psa.Account{
			{ID: "1", Name: "Contoso Ltd"}, {ID: "2", Name: "Contoso Limited"},
		}, MultipleMatches, []cand{{"2", 1}, {"1", 1}}},
		{"confident candidate within the margin of the next", "Blue Sky IT", []psa.Account{
			{ID: "1", Name: "BlueSky IT"}, {ID: "2", Name: "Blue Sky I.T."},
		}, MultipleMatches, []cand{{"2", 1}, {"1", 0.98}}},
		{"only plausible candidates", "Northwind", []psa.Account{
			{ID: "1", Name: "Northwind Traders"}, {ID: "2", Name: "Northwind Health"},
		}, MultipleMatches, []cand{{"2", 0.59}, {"1", 0.581}}},
		{"a single plausible candidate", "Johnson Plumbing", []psa.Account{{ID: "1", Name: "Jonson Plumbing"}},
			MultipleMatches, []cand{{"1", 0.773}}},
		{"nothing plausible", "Acme Dental", []psa.Account{
			{ID: "1", Name: "Acme Logistics"}, {ID: "2", Name: "Contoso"},
		}, NoMatch, []cand{}},
		{"repeated id is scored once", "Acme", []psa.Account{
			{ID: "1", Name: "Acme Inc"}, {ID: "1", Name: "Acme Inc"},
		}, MatchFound, []cand{{"1", 1}}},
		{"equal scores ordered by name, then id", "Initech", []psa.Account{
			{ID: "9", Name: "Initech (Dallas)"}, {ID: "8", Name: "Initech (Austin)"}, {ID: "7", Name: "Initech (Austin)"},
		}, MultipleMatches, []cand{{"7", 0.574}, {"8", 0.574}, {"9", 0.574}}},
		{"account without a name", "Acme", []psa.Account{{ID: "1", Name: ""}, {ID: "2", Name: "Acme"}}, MatchFound,
			[]cand{{"2", 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			res := Match(tt.org, tt.accounts)
			if res.Outcome != tt.outcome {
				t.Errorf("outcome = %s, want %s (%s)", res.Outcome, tt.outcome, describe(res))
			}
			if res.Candidates == nil {
				t.Error("Candidates is nil, want an empty list")
			}
			got := []cand{}
			for _, c := range res.Candidates {
				got = append(got, cand{c.Account.ID, c.Score})
				if len(c.Reasons) == 0 {
					t.Errorf("candidate %s has no reasons", c.Account.ID)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("candidates mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSearchTerms(t *testing.T) {
	tests := []struct {
		scenario string
		name     string
		want     []string
	}{
		{"suffix dropped", "Acme, Inc.", []string{"acme"}},
		{"second word for misspelled first words", "Acme Dental", []string{"acme", "dental"}},
		{"distinctive word before common ones", "Dental Care of Riverton", []string{"riverton", "dental"}},
		{"only common words", "The Dental Care Group", []string{"dental", "care"}},
		{"accented word as folded, written and transliterated", "Müller Straße GmbH", []string{"muller", "müller", "mueller"}},
		{"transliterated word also with umlaut", "Mueller Plumbing", []string{"mueller", "müller", "plumbing"}},
		{"no umlaut at a word's end", "Blue Sky IT", []string{"blue", "sky"}},
		{"accents", "Société Générale", []string{"societe", "société", "generale"}},
		{"apostrophe: longest part", "St. Mary's Medical Centre", []string{"mary", "medical"}},
		{"apostrophe and accent", "L'Oréal SA", []string{"oreal", "oréal"}},
		{"dotted initials joined", "A.B.C. Plumbing Corp", []string{"abc", "plumbing"}},
		{"abbreviation expanded, common word skipped", "Intl Business Machines Corp", []string{"business", "machines"}},
		{"digits", "3M Company", []string{"3m"}},
		{"short and weak words only", "IT Group", []string{"it"}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, SearchTerms(tt.name)); diff != "" {
				t.Errorf("SearchTerms(%q) mismatch (-want +got):\n%s", tt.name, diff)
			}
		})
	}
}

// TestSearchTermsFindCandidates runs Match behind a PSA "name contains"
// search, as MatchName does, for every corpus case, and checks that the
// search finds every candidate Match finds among all the accounts. The
// search is case-insensitive and accent-sensitive (the strictest common
// database collation).
func TestSearchTermsFindCandidates(t *testing.T) {
	// Misses documented on SearchTerms: the only distinctive word is
	// misspelled in the account (all three are different companies).
	knownMisses := map[string]bool{
		"Contoso|Contosa":             false,
		"Acme|Acne":                   false,
		"Anderson & Co|Andersen & Co": false,
	}
	for _, c := range matchCorpus {
		accounts := make([]psa.Account, len(c.accounts))
		for i, name := range c.accounts {
			accounts[i] = psa.Account{ID: "a" + strconv.Itoa(i), Name: name}
		}
		terms := SearchTerms(c.org)
		if len(terms) < 1 || len(terms) > 3 {
			t.Errorf("SearchTerms(%q) = %q, want 1 to 3 terms", c.org, terms)
		}
		found := map[string]bool{}
		for _, term := range terms {
			for _, a := range accounts {
				if strings.Contains(strings.ToLower(a.Name), term) {
					found[a.ID] = true
				}
			}
		}
		for _, cand := range Match(c.org, accounts).Candidates {
			if !found[cand.Account.ID] {
				key := c.org + "|" + cand.Account.Name
				if _, known := knownMisses[key]; known {
					knownMisses[key] = true
					continue
				}
				t.Errorf("SearchTerms(%q) = %q misses candidate %q", c.org, terms, cand.Account.Name)
			}
		}
	}
	for key, seen := range knownMisses {
		if !seen {
			t.Errorf("known miss %q no longer missed: remove it from the list", key)
		}
	}
}

func BenchmarkMatch(b *testing.B) {
	words := []string{"Acme", "Northwind", "Contoso", "Fabrikam", "Globex", "Initech", "Müller", "Société", "Hansen", "Blue Sky"}
	kinds := []string{"Dental", "Logistics", "Plumbing & Heating", "IT Services", "Consulting"}
	suffixes := []string{"Inc.", "LLC", "GmbH", "S.A.", ""}
	accounts := make([]psa.Account, 50)
	for i := range accounts {
		name := fmt.Sprintf("%s %s %s", words[i%len(words)], kinds[i%len(kinds)], suffixes[(i/len(kinds))%len(suffixes)])
		accounts[i] = psa.Account{ID: strconv.Itoa(i), Name: name}
	}
	b.ReportAllocs()
	for b.Loop() {
		Match("Acme Plumbing & Heating, Inc.", accounts)
	}
}
