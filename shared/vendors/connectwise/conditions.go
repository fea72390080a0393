package connectwise

import (
	"strconv"
	"strings"
)

// Cond is a ConnectWise query expression, the value of the conditions,
// childConditions or customFieldConditions query parameters
// (vendor-apis.md §4.4): comparisons such as name="Acme" or status/id=3
// joined with and/or. The zero value is "no condition".
//
// Field names are the client's own constants and are written as they are;
// only values are quoted. Build Conds with the functions below rather than
// by formatting strings, so every value is quoted and escaped.
type Cond string

// Quote returns s as a ConnectWise string literal: wrapped in double quotes,
// with every backslash written as \\ and every double quote as \".
//
// vendor-apis.md §4.4 says strings are double-quoted but is silent on
// escaping; the backslash rule is an assumption (the C-family convention
// the expression grammar's other literals follow), and the sandbox parses
// exactly this form. No other character needs escaping inside the quotes:
// "&", "%", "+" and spaces are taken care of by URL encoding of the query
// parameter, which vendorhttp does.
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// Eq is field="value".
func Eq(field, value string) Cond { return Cond(field + "=" + Quote(value)) }

// EqInt is field=n (ids).
func EqInt(field string, n int) Cond { return Cond(field + "=" + strconv.Itoa(n)) }

// EqBool is field=true or field=false.
func EqBool(field string, v bool) Cond { return Cond(field + "=" + strconv.FormatBool(v)) }

// Like is field like "pattern"; in the pattern % matches any run of
// characters and _ one character.
func Like(field, pattern string) Cond { return Cond(field + " like " + Quote(pattern)) }

// Contains is field like "%text%": the field contains text,
// case-insensitively on ConnectWise's default collation. A % or _ inside
// text keeps its wildcard meaning (ConnectWise documents no escape for
// them), so the match is a superset of the literal one: searching for
// "100%" also finds "100 Percent".
func Contains(field, text string) Cond { return Like(field, "%"+text+"%") }

// And joins conds with "and", skipping empty ones. Operands made by Or are
// already parenthesized.
func And(conds ...Cond) Cond { return join(" and ", conds) }

// Or joins conds with "or" in parentheses, skipping empty ones (a single
// operand is returned as is).
func Or(conds ...Cond) Cond {
	c := join(" or ", conds)
	if strings.Contains(string(c), " or ") {
		return "(" + c + ")"
	}
	return c
}

func join(sep string, conds []Cond) Cond {
	parts := make([]string, 0, len(conds))
	for _, c := range conds {
		if c != "" {
			parts = append(parts, string(c))
		}
	}
	return Cond(strings.Join(parts, sep))
}
