package account

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Normalized is a company name reduced to a comparable form.
type Normalized struct {
	// Key is the canonical form: lower-case, accent-folded words joined by
	// single spaces, without punctuation, a leading "The" or trailing legal
	// suffixes; "&", "+", "und" and "et" are read as "and" and a few
	// abbreviations ("Intl", "Mfg", ...) are expanded. Two names with the
	// same Key are the same name.
	Key string
	// Tokens are the words of Key.
	Tokens []string
	// Removed lists what was dropped as noise, as written: a leading "The"
	// and the trailing legal suffix phrase (for example "Pty. Ltd." or
	// "GmbH & Co. KG").
	Removed []string

	raw     string
	words   []word
	suffix  string // folded text of the removed legal suffix phrase
	the     bool   // a leading "The" was removed
	seps    string // punctuation between the kept words
	punct   string // punctuation outside removed words, "&" and "+" aside
	spacing bool   // irregular whitespace (doubled, leading or trailing)
}

// word is one token of a name: its canonical text and how it was written.
type word struct {
	text     string // canonical: lower-case, folded, rewritten
	orig     string // as written (punctuation inside the word kept)
	translit string // text with ä/ö/ü read as ae/oe/ue ("müller" → "mueller")
	accented bool   // folding removed accents or special letters
	rewrite  bool   // text is a reading of orig, not a spelling ("&" → "and")
	paren    bool   // inside parentheses
	start    int    // byte offsets in the name
	end      int
}

// legalSuffixes are the legal-form words removed from the end of a name.
// Dotted and spaced forms ("L.L.C.", "S. A.", "A/S") arrive here already
// joined ("llc", "sa", "as"). Ambiguous forms that are common words in
// names (PC, PA) are deliberately absent.
var legalSuffixes = sync.OnceValue(func() map[string]bool {
	return map[string]bool{
		// English-speaking countries
		"inc": true, "incorporated": true, "llc": true, "lc": true, "ltd": true, "limited": true,
		"corp": true, "corporation": true, "co": true, "company": true, "plc": true,
		"llp": true, "lp": true, "pllc": true, "pty": true, "pte": true, "pvt": true,
		// German-speaking countries
		"gmbh": true, "mbh": true, "ag": true, "kg": true, "kgaa": true, "ohg": true,
		"gbr": true, "ug": true, "ev": true, "eg": true, "ek": true, "se": true,
		// Romance languages
		"srl": true, "spa": true, "sa": true, "sas": true, "sasu": true, "sarl": true,
		"eurl": true, "snc": true, "sl": true, "slu": true, "ltda": true, "lda": true,
		// Benelux, Nordics, central Europe, Asia
		"bv": true, "nv": true, "oy": true, "oyj": true, "ab": true, "publ": true,
		"as": true, "asa": true, "aps": true, "ivs": true, "kft": true, "zrt": true,
		"sro": true, "kk": true, "bhd": true, "sdn": true,
	}
})

// connectors are read as "and".
var connectors = sync.OnceValue(func() map[string]bool {
	return map[string]bool{"&": true, "+": true, "and": true, "und": true, "et": true}
})

// abbreviations are expanded so that "Acme Intl" and "Acme International"
// share a Key. Only unambiguous ones are listed.
var abbreviations = sync.OnceValue(func() map[string]string {
	return map[string]string{
		"intl": "international", "natl": "national", "mfg": "manufacturing",
		"mgmt": "management", "svcs": "services", "bros": "brothers",
		"assn": "association", "dept": "department", "univ": "university",
		"ctr": "center", "centre": "center",
	}
})

// weakWords carry little identity; they weigh less in Score.
var weakWords = sync.OnceValue(func() map[string]bool {
	return map[string]bool{
		"and": true, "of": true, "the": true, "for": true, "de": true, "du": true,
		"des": true, "la": true, "le": true, "der": true, "van": true, "von": true,
		"group": true, "holding": true, "holdings": true,
	}
})

// Normalize reduces a company name to its canonical comparable form: case,
// Unicode accents, punctuation and whitespace are folded, "&"/"+"/"und"/
// "et" read as "and", a leading "The" and trailing legal suffixes (Inc,
// LLC, Ltd, Corp, Co, GmbH, AG, S.r.l., S.p.A., SA, BV, Pty Ltd, ...)
// removed. A suffix is only removed at the end of the name, or before a
// trailing parenthetical ("Acme Ltd (UK)"); "Co" inside a name stays. At
// least one word is always kept ("The Company" → "company").
func Normalize(name string) Normalized {
	ws := tokenize(name)
	ws = joinInitials(name, ws)

	n := Normalized{raw: name}
	// A leading "The".
	var theStart, theEnd int
	if len(ws) > 1 && ws[0].text == "the" && !ws[0].paren {
		theStart, theEnd = ws[0].start, ws[0].end
		n.Removed = append(n.Removed, ws[0].orig)
		n.the = true
		ws = ws[1:]
	}

	// The trailing parenthetical is kept unless it is itself a legal form
	// ("Acme (Pty) Ltd", "Acme AB (publ)").
	end := len(ws)
	for end > 0 && ws[end-1].paren {
		end--
	}
	tailIsSuffix := true
	for _, w := range ws[end:] {
		tailIsSuffix = tailIsSuffix && legalSuffixes()[w.text]
	}
	if tailIsSuffix {
		end = len(ws)
	}
	cut := end
	for cut > 1 {
		w := ws[cut-1]
		switch {
		case legalSuffixes()[w.text]:
			cut--
			continue
		case w.text == "and" && cut < end && cut > 1:
			// "Smith & Co", "GmbH & Co. KG": a dangling "and" belongs to
			// the suffix phrase.
			cut--
			continue
		}
		break
	}
	var removedSpans [][2]int
	if n.the {
		removedSpans = append(removedSpans, [2]int{theStart, theEnd})
	}
	if cut < end {
		removed := ws[cut:end]
		for _, w := range removed {
			removedSpans = append(removedSpans, [2]int{w.start, w.end})
		}
		var phrase, folded []string
		for _, w := range removed {
			if w.paren {
				phrase = append(phrase, "("+w.orig+")")
			} else {
				phrase = append(phrase, w.orig)
			}
			folded = append(folded, w.text)
		}
		n.Removed = append(n.Removed, strings.Join(phrase, " "))
		n.suffix = strings.Join(folded, " ")
		ws = append(ws[:cut:cut], ws[end:]...)
	}

	n.words = ws
	for _, w := range ws {
		n.Tokens = append(n.Tokens, w.text)
	}
	n.Key = strings.Join(n.Tokens, " ")
	n.seps, n.spacing = separators(name, ws)
	n.punct = punctOutside(name, removedSpans)
	return n
}

// tokenize splits a name into words. Separators are whitespace and every
// punctuation or symbol except the ones that live inside words: dots
// ("S.p.A.", "Inc."), apostrophes ("O'Brien"), and "&"/"+" which become
// words of their own.
func tokenize(name string) []word {
	var out []word
	depth := 0
	start := -1
	flush := func(end int) {
		if start >= 0 {
			out = append(out, chunkWords(name, start, end, depth > 0)...)
			start = -1
		}
	}
	for i, r := range name {
		switch {
		case r == '(' || r == '[' || r == '{':
			flush(i)
			depth++
		case r == ')' || r == ']' || r == '}':
			flush(i)
			if depth > 0 {
				depth--
			}
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) ||
			r == '.' || isApostrophe(r) || r == '&' || r == '+':
			if start < 0 {
				start = i
			}
		default:
			flush(i)
		}
	}
	flush(len(name))
	for i := range out {
		w := &out[i]
		if connectors()[w.text] && (w.text != "und" && w.text != "et" || i > 0 && i < len(out)-1) {
			w.rewrite = w.text != "and"
			w.text, w.translit = "and", "and"
		}
		if long, ok := abbreviations()[w.text]; ok {
			w.text, w.translit, w.rewrite = long, long, true
		}
	}
	return out
}

func isApostrophe(r rune) bool { return r == '\'' || r == '’' || r == '`' || r == 'ʼ' }

// chunkWords splits one run of word characters name[start:end] into words:
// "&" and "+" stand alone; dotted initials ("A.B.C.", "L.L.C.") form one
// word; other dots separate words ("St.Mary", "acme.com").
func chunkWords(name string, start, end int, paren bool) []word {
	var out []word
	piece := -1
	emit := func(ps, pe int) {
		if ps < pe {
			out = append(out, pieceWords(name, ps, pe, paren)...)
		}
	}
	for i := start; i < end; {
		r, size := utf8.DecodeRuneInString(name[i:])
		if r == '&' || r == '+' {
			if piece >= 0 {
				emit(piece, i)
				piece = -1
			}
			out = append(out, word{text: string(r), orig: string(r), paren: paren, start: i, end: i + size})
		} else if piece < 0 {
			piece = i
		}
		i += size
	}
	if piece >= 0 {
		emit(piece, end)
	}
	return out
}

// pieceWords turns a piece without "&"/"+" into one or more words.
func pieceWords(name string, start, end int, paren bool) []word {
	s := name[start:end]
	parts := strings.Split(s, ".")
	initials := 0
	nonEmpty := 0
	for _, p := range parts {
		p = stripApostrophes(p)
		if p == "" {
			continue
		}
		nonEmpty++
		if utf8.RuneCountInString(p) == 1 && unicode.IsLetter([]rune(p)[0]) {
			initials++
		}
	}
	if nonEmpty == 0 {
		return nil
	}
	if nonEmpty == 1 || initials == nonEmpty {
		// One word ("Inc.", "O'Brien") or dotted initials ("S.p.A.").
		w := newWord(stripApostrophes(strings.ReplaceAll(s, ".", "")), strings.TrimLeft(s, "."), paren, start, end)
		if w.text == "" {
			return nil
		}
		return []word{w}
	}
	var out []word
	off := start
	for i, p := range parts {
		ps, pe := off, off+len(p)
		off = pe + 1
		if stripApostrophes(p) == "" {
			continue
		}
		orig := p
		if i < len(parts)-1 {
			orig += "." // keep the dot that ended it, as written
		}
		if w := newWord(stripApostrophes(p), orig, paren, ps, pe); w.text != "" {
			out = append(out, w)
		}
	}
	return out
}

func stripApostrophes(s string) string {
	if !strings.ContainsFunc(s, isApostrophe) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isApostrophe(r) {
			return -1
		}
		return r
	}, s)
}

func newWord(letters, orig string, paren bool, start, end int) word {
	text, accented := fold(letters)
	translit := text
	if accented {
		if nfc := norm.NFC.String(letters); strings.ContainsAny(nfc, "äöüÄÖÜ") {
			translit, _ = fold(umlauts().Replace(nfc))
		}
	}
	return word{text: text, orig: orig, translit: translit, accented: accented, paren: paren, start: start, end: end}
}

// letterFolds are letters that Unicode decomposition leaves alone.
var letterFolds = sync.OnceValue(func() map[rune]string {
	return map[rune]string{
		'ß': "ss", 'ẞ': "ss", 'æ': "ae", 'Æ': "ae", 'œ': "oe", 'Œ': "oe",
		'ø': "o", 'Ø': "o", 'ł': "l", 'Ł': "l", 'đ': "d", 'Đ': "d", 'ð': "d",
		'Ð': "d", 'þ': "th", 'Þ': "th", 'ı': "i", 'ħ': "h", 'Ħ': "h",
	}
})

// fold lower-cases s, decomposes it (NFKD), drops combining marks, maps
// the letters decomposition keeps (ß, æ, ø, ł, ...) and keeps only letters
// and digits. accented reports whether anything beyond case changed.
func fold(s string) (string, bool) {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	var b strings.Builder
	b.Grow(len(s))
	if ascii {
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case 'A' <= c && c <= 'Z':
				b.WriteByte(c + 'a' - 'A')
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
				b.WriteByte(c)
			}
		}
		return b.String(), false
	}
	accented := false
	for _, r := range norm.NFKD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			accented = true
		case letterFolds()[r] != "":
			b.WriteString(letterFolds()[r])
			accented = true
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String(), accented
}

// umlauts spells umlauts the German way without them (on NFC text).
var umlauts = sync.OnceValue(func() *strings.Replacer {
	return strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "Ä", "Ae", "Ö", "Oe", "Ü", "Ue")
})

// joinInitials joins runs of single letters written apart ("S. A.",
// "A B C", "A/S") into one word.
func joinInitials(name string, ws []word) []word {
	single := func(w word) bool {
		return !w.rewrite && utf8.RuneCountInString(w.text) == 1 && unicode.IsLetter([]rune(w.text)[0])
	}
	out := ws[:0:0]
	for i := 0; i < len(ws); {
		j := i
		for j < len(ws) && single(ws[j]) && ws[j].paren == ws[i].paren {
			j++
		}
		if j-i < 2 {
			out = append(out, ws[i])
			i++
			continue
		}
		w := ws[i]
		var text, translit strings.Builder
		for _, x := range ws[i:j] {
			text.WriteString(x.text)
			translit.WriteString(x.translit)
			w.accented = w.accented || x.accented
		}
		w.text, w.translit, w.end = text.String(), translit.String(), ws[j-1].end
		w.orig = name[w.start:w.end]
		out = append(out, w)
		i = j
	}
	return out
}

// separators returns the punctuation written between the kept words and
// whether the whitespace of the name is irregular.
func separators(name string, ws []word) (string, bool) {
	var b strings.Builder
	for i := 1; i < len(ws); i++ {
		if ws[i-1].end <= ws[i].start {
			for _, r := range name[ws[i-1].end:ws[i].start] {
				if !unicode.IsSpace(r) && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
					b.WriteRune(r)
				}
			}
		}
	}
	spacing := strings.TrimSpace(name) != name || strings.Contains(name, "  ") ||
		strings.ContainsAny(name, "\t\n\u00a0")
	return b.String(), spacing
}

// punctOutside returns the punctuation of name outside the given spans,
// without whitespace, "&" and "+" (those are reported as readings of
// "and").
func punctOutside(name string, spans [][2]int) string {
	var b strings.Builder
	for i, r := range name {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r) || unicode.IsSpace(r) || r == '&' || r == '+' {
			continue
		}
		inside := false
		for _, sp := range spans {
			inside = inside || sp[0] <= i && i < sp[1]
		}
		if !inside {
			b.WriteRune(r)
		}
	}
	return b.String()
}
