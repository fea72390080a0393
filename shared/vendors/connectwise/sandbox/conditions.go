package sandbox

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The ConnectWise query grammar (vendor-apis.md §4.4) as the sandbox
// understands it:
//
//	expr       = and { "or" and }
//	and        = unary { "and" unary }
//	unary      = "not" unary | "(" expr ")" | comparison
//	comparison = path op value
//	           | path ["not"] ("like" | "contains") string
//	           | path ["not"] "in" "(" value { "," value } ")"
//	op         = "=" | "!=" | "<" | "<=" | ">" | ">="
//	value      = string | number | "true" | "false" | "null" | "[" datetime "]"
//	path       = name { "/" name }
//
// Keywords are case-insensitive. Strings are double-quoted; inside them a
// backslash escapes the next character (\" and \\), the rule the client's
// Quote follows (assumed: the docs are silent). Comparisons of strings are
// case-insensitive, like ConnectWise's default SQL collation. A path through
// an array (types/id) matches when any element matches. Anything else is a
// parse error, which the server answers with 400.

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tDate
	tOp
	tLParen
	tRParen
	tComma
)

type token struct {
	kind tokKind
	text string
	pos  int
}

func lex(s string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, token{tLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tRParen, ")", i})
			i++
		case c == ',':
			toks = append(toks, token{tComma, ",", i})
			i++
		case c == '"':
			start := i
			var b strings.Builder
			i++
			closed := false
			for i < len(s) {
				if s[i] == '\\' {
					if i+1 >= len(s) {
						break
					}
					b.WriteByte(s[i+1])
					i += 2
					continue
				}
				if s[i] == '"' {
					closed = true
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			if !closed {
				return nil, fmt.Errorf("unterminated string at position %d", start)
			}
			toks = append(toks, token{tString, b.String(), start})
		case c == '[':
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("unterminated date at position %d", i)
			}
			toks = append(toks, token{tDate, s[i+1 : i+end], i})
			i += end + 1
		case c == '=' || c == '<' || c == '>' || c == '!':
			start := i
			op := string(c)
			if i+1 < len(s) && s[i+1] == '=' {
				op += "="
			}
			if op == "!" {
				return nil, fmt.Errorf("unexpected '!' at position %d", i)
			}
			toks = append(toks, token{tOp, op, start})
			i += len(op)
		case c == '-' || (c >= '0' && c <= '9'):
			start := i
			i++
			for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
				i++
			}
			toks = append(toks, token{tNumber, s[start:i], start})
		case isIdentByte(c):
			start := i
			for i < len(s) && isIdentByte(s[i]) {
				i++
			}
			toks = append(toks, token{tIdent, s[start:i], start})
		default:
			return nil, fmt.Errorf("unexpected character %q at position %d", c, i)
		}
	}
	return append(toks, token{tEOF, "", len(s)}), nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '/' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

var keywords = map[string]bool{"and": true, "or": true, "not": true, "like": true, "contains": true, "in": true, "true": true, "false": true, "null": true}

// expr is a parsed condition.
type expr interface {
	eval(rec map[string]any) (bool, error)
}

type parser struct {
	toks []token
	i    int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}
func (p *parser) isKeyword(kw string) bool {
	t := p.peek()
	return t.kind == tIdent && strings.EqualFold(t.text, kw)
}

// parseConditions parses s; an empty s yields nil (everything matches).
func parseConditions(s string) (expr, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, fmt.Errorf("unexpected %q at position %d", t.text, t.pos)
	}
	return e, nil
}

type boolOp struct {
	and  bool
	l, r expr
}

func (b boolOp) eval(rec map[string]any) (bool, error) {
	l, err := b.l.eval(rec)
	if err != nil {
		return false, err
	}
	if b.and && !l || !b.and && l {
		return l, nil
	}
	return b.r.eval(rec)
}

type notOp struct{ e expr }

func (n notOp) eval(rec map[string]any) (bool, error) {
	v, err := n.e.eval(rec)
	return !v, err
}

func (p *parser) parseOr() (expr, error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("or") {
		p.next()
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = boolOp{and: false, l: l, r: r}
	}
	return l, nil
}

func (p *parser) parseAnd() (expr, error) {
	l, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("and") {
		p.next()
		r, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		l = boolOp{and: true, l: l, r: r}
	}
	return l, nil
}

func (p *parser) parseUnary() (expr, error) {
	if p.isKeyword("not") {
		p.next()
		e, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return notOp{e}, nil
	}
	if p.peek().kind == tLParen {
		p.next()
		e, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if t := p.next(); t.kind != tRParen {
			return nil, fmt.Errorf("expected ')' at position %d", t.pos)
		}
		return e, nil
	}
	return p.parseComparison()
}

// literal is a value in a condition.
type literal struct {
	kind tokKind // tString, tNumber, tDate, or tIdent for true/false/null
	s    string
	num  float64
	t    time.Time
}

type comparison struct {
	path []string
	op   string // = != < <= > >= like contains in
	neg  bool
	vals []literal
	re   *regexp.Regexp
}

func (p *parser) parseComparison() (expr, error) {
	t := p.next()
	if t.kind != tIdent || keywords[strings.ToLower(t.text)] {
		return nil, fmt.Errorf("expected a field name at position %d, found %q", t.pos, t.text)
	}
	c := &comparison{path: strings.Split(t.text, "/")}
	for _, seg := range c.path {
		if seg == "" {
			return nil, fmt.Errorf("invalid field name %q", t.text)
		}
	}
	if p.isKeyword("not") {
		p.next()
		c.neg = true
	}
	switch op := p.next(); {
	case op.kind == tOp && !c.neg:
		c.op = op.text
	case op.kind == tIdent && (strings.EqualFold(op.text, "like") || strings.EqualFold(op.text, "contains") || strings.EqualFold(op.text, "in")):
		c.op = strings.ToLower(op.text)
	default:
		return nil, fmt.Errorf("expected an operator after %q at position %d", t.text, op.pos)
	}
	if c.op == "in" {
		if t := p.next(); t.kind != tLParen {
			return nil, fmt.Errorf("expected '(' after in at position %d", t.pos)
		}
		for {
			v, err := p.parseValue()
			if err != nil {
				return nil, err
			}
			c.vals = append(c.vals, v)
			t := p.next()
			if t.kind == tRParen {
				break
			}
			if t.kind != tComma {
				return nil, fmt.Errorf("expected ',' or ')' at position %d", t.pos)
			}
		}
		return c, nil
	}
	v, err := p.parseValue()
	if err != nil {
		return nil, err
	}
	c.vals = []literal{v}
	if c.op == "like" || c.op == "contains" {
		if v.kind != tString {
			return nil, fmt.Errorf("%s needs a string", c.op)
		}
		pattern := regexp.QuoteMeta(v.s)
		if c.op == "like" {
			var b strings.Builder
			for _, r := range v.s {
				switch r {
				case '%':
					b.WriteString(".*")
				case '_':
					b.WriteString(".")
				default:
					b.WriteString(regexp.QuoteMeta(string(r)))
				}
			}
			pattern = "^" + b.String() + "$"
		}
		c.re = regexp.MustCompile("(?is)" + pattern)
	}
	return c, nil
}

func (p *parser) parseValue() (literal, error) {
	t := p.next()
	switch t.kind {
	case tString:
		return literal{kind: tString, s: t.text}, nil
	case tNumber:
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return literal{}, fmt.Errorf("invalid number %q at position %d", t.text, t.pos)
		}
		return literal{kind: tNumber, num: f, s: t.text}, nil
	case tDate:
		tm, err := time.Parse(time.RFC3339, strings.TrimSpace(t.text))
		if err != nil {
			return literal{}, fmt.Errorf("invalid date [%s] at position %d", t.text, t.pos)
		}
		return literal{kind: tDate, t: tm}, nil
	case tIdent:
		switch strings.ToLower(t.text) {
		case "true", "false", "null":
			return literal{kind: tIdent, s: strings.ToLower(t.text)}, nil
		}
	}
	return literal{}, fmt.Errorf("expected a value at position %d, found %q", t.pos, t.text)
}

// errUnknownField is returned when a condition names a field the record
// does not have.
type errUnknownField struct{ field string }

func (e errUnknownField) Error() string { return fmt.Sprintf("unknown field %q", e.field) }

// lookup returns the values at path below v; arrays fan out.
func lookup(v any, path []string) []any {
	if len(path) == 0 {
		if arr, ok := v.([]any); ok {
			return arr
		}
		return []any{v}
	}
	switch x := v.(type) {
	case map[string]any:
		child, ok := x[path[0]]
		if !ok {
			return nil
		}
		return lookup(child, path[1:])
	case []any:
		var out []any
		for _, e := range x {
			out = append(out, lookup(e, path)...)
		}
		return out
	default:
		return []any{nil}
	}
}

func (c *comparison) eval(rec map[string]any) (bool, error) {
	if _, ok := rec[c.path[0]]; !ok {
		return false, errUnknownField{strings.Join(c.path, "/")}
	}
	hit := false
	for _, v := range lookup(rec, c.path) {
		if c.match(v) {
			hit = true
			break
		}
	}
	return hit != c.neg, nil
}

func (c *comparison) match(v any) bool {
	switch c.op {
	case "like", "contains":
		s, ok := v.(string)
		return ok && c.re.MatchString(s)
	case "in":
		for _, l := range c.vals {
			if compare(v, l) == 0 {
				return true
			}
		}
		return false
	}
	r := compare(v, c.vals[0])
	switch c.op {
	case "=":
		return r == 0
	case "!=":
		return r != 0 && r != incomparable
	case "<":
		return r == -1
	case "<=":
		return r == -1 || r == 0
	case ">":
		return r == 1
	case ">=":
		return r == 1 || r == 0
	}
	return false
}

const incomparable = 2

// compare orders a record value against a literal: -1, 0, 1, or
// incomparable.
func compare(v any, l literal) int {
	if l.kind == tIdent && l.s == "null" {
		if v == nil {
			return 0
		}
		return 1
	}
	if v == nil {
		return incomparable
	}
	switch l.kind {
	case tIdent: // true / false
		b, ok := v.(bool)
		if !ok {
			return incomparable
		}
		if b == (l.s == "true") {
			return 0
		}
		return 1
	case tNumber:
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case string:
			var err error
			if f, err = strconv.ParseFloat(x, 64); err != nil {
				return incomparable
			}
		default:
			return incomparable
		}
		return cmp3(f, l.num)
	case tDate:
		s, ok := v.(string)
		if !ok {
			return incomparable
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return incomparable
		}
		return t.Compare(l.t)
	case tString:
		switch x := v.(type) {
		case string:
			return strings.Compare(strings.ToLower(x), strings.ToLower(l.s))
		case float64:
			return strings.Compare(strconv.FormatFloat(x, 'f', -1, 64), l.s)
		case bool:
			return strings.Compare(strconv.FormatBool(x), strings.ToLower(l.s))
		}
	}
	return incomparable
}

func cmp3(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// matchAll evaluates e against rec (nil matches).
func matchAll(e expr, rec map[string]any) (bool, error) {
	if e == nil {
		return true, nil
	}
	return e.eval(rec)
}

// sortKey is one orderBy term.
type sortKey struct {
	path []string
	desc bool
}

// parseOrderBy reads "name asc, id desc".
func parseOrderBy(s string) ([]sortKey, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var keys []sortKey
	for _, part := range strings.Split(s, ",") {
		f := strings.Fields(part)
		if len(f) == 0 || len(f) > 2 {
			return nil, fmt.Errorf("invalid orderBy term %q", strings.TrimSpace(part))
		}
		k := sortKey{path: strings.Split(f[0], "/")}
		if len(f) == 2 {
			switch strings.ToLower(f[1]) {
			case "asc":
			case "desc":
				k.desc = true
			default:
				return nil, fmt.Errorf("invalid sort direction %q", f[1])
			}
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// orderValue compares two records' values for sorting.
func orderValue(a, b any) int {
	switch x := a.(type) {
	case float64:
		if y, ok := b.(float64); ok {
			return cmp3(x, y)
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(strings.ToLower(x), strings.ToLower(y))
		}
	case bool:
		if y, ok := b.(bool); ok && x != y {
			if !x {
				return -1
			}
			return 1
		}
		return 0
	}
	switch {
	case a == nil && b != nil:
		return -1
	case a != nil && b == nil:
		return 1
	}
	return 0
}
