package vendorspec

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/limits"
)

// The name patterns, compiled on first use (no regexp work at init).
var (
	nameRE  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][a-z0-9]{0,39}$`) })
	fieldRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z][A-Za-z0-9]{0,63}$`) })
)

// compile compiles a pattern already checked by Validate; nil for none.
func compile(p string) *regexp.Regexp {
	if p == "" {
		return nil
	}
	return regexp.MustCompile(p)
}

// Settings are a connection's settings as a vendor's opener reads them:
// the declared ones typed (string, int, bool, []string) with their
// defaults, the others as given.
type Settings map[string]any

// String returns a string setting ("" when absent).
func (s Settings) String(name string) string {
	v, _ := s[name].(string)
	return v
}

// Int returns an integer setting (0 when absent).
func (s Settings) Int(name string) int {
	v, _ := s[name].(int)
	return v
}

// Bool returns a boolean setting (false when absent).
func (s Settings) Bool(name string) bool {
	v, _ := s[name].(bool)
	return v
}

// Strings returns a string list setting (nil when absent).
func (s Settings) Strings(name string) []string {
	v, _ := s[name].([]string)
	return slices.Clone(v)
}

// set reports whether a setting holds a value that is not its zero.
func (s Settings) set(name string) bool {
	switch v := s[name].(type) {
	case nil:
		return false
	case string:
		return v != ""
	case int:
		return v != 0
	case bool:
		return v
	case []string:
		return len(v) > 0
	}
	return true
}

// Vendor is a validated Spec with its patterns compiled: what the
// connection service and providers use.
type Vendor struct {
	Spec
	credPatterns    map[string]*regexp.Regexp
	settingPatterns map[string]*regexp.Regexp
}

func newVendor(s Spec) (*Vendor, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	v := &Vendor{Spec: s, credPatterns: map[string]*regexp.Regexp{}, settingPatterns: map[string]*regexp.Regexp{}}
	for _, f := range s.Credentials {
		v.credPatterns[f.Name] = compile(f.Pattern)
	}
	for _, st := range v.settings() {
		v.settingPatterns[st.Name] = compile(st.Pattern)
	}
	return v, nil
}

// settings are the vendor's settings and the BudgetSettings every
// connection has.
func (v *Vendor) settings() []Setting {
	return append(slices.Clip(v.Settings), BudgetSettings...)
}

// CheckCredentials validates a connection's credentials: every required
// field is given (not blank), no unknown field, every value within its
// length and pattern. Fields are named credentials.<name>, in this order:
// missing, unknown, too long or malformed.
func (v *Vendor) CheckCredentials(c map[string]string) []apperr.FieldError {
	var fe []apperr.FieldError
	allowed := map[string]bool{}
	for _, f := range v.Credentials {
		allowed[f.Name] = true
		if f.Required && strings.TrimSpace(c[f.Name]) == "" {
			fe = append(fe, apperr.FieldError{Field: "credentials." + f.Name, Message: "is required for " + v.Name})
		}
	}
	var unknown []string
	for f := range c {
		if !allowed[f] {
			unknown = append(unknown, f)
		}
	}
	sort.Strings(unknown)
	for _, f := range unknown {
		fe = append(fe, apperr.FieldError{Field: limits.Clip("credentials." + f), Message: "is not a " + v.Name + " credential"})
	}
	for _, f := range v.Credentials {
		val, ok := c[f.Name]
		if !ok {
			continue
		}
		max := limits.MaxCredentialLength
		if f.MaxLength > 0 && f.MaxLength < max {
			max = f.MaxLength
		}
		if e := limits.Bytes("credentials."+f.Name, val, max); e != nil {
			fe = append(fe, *e)
			continue
		}
		if re := v.credPatterns[f.Name]; re != nil && strings.TrimSpace(val) != "" && !re.MatchString(val) {
			fe = append(fe, apperr.FieldError{Field: "credentials." + f.Name, Message: "must match " + f.Pattern})
		}
	}
	return fe
}

// CheckSettings validates a connection's settings against the declared
// ones and returns them typed, with defaults applied (stored as the
// connection's settings), or the fields at fault, named
// settings.<name>. Settings the vendor does not declare are kept as
// given; their depth and size are limits.Settings' business.
func (v *Vendor) CheckSettings(raw map[string]any) (Settings, []apperr.FieldError) {
	out := Settings{}
	for k, val := range raw {
		out[k] = val
	}
	var fe []apperr.FieldError
	for _, st := range v.settings() {
		field := "settings." + st.Name
		val, ok := raw[st.Name]
		if !ok || val == nil {
			delete(out, st.Name)
			switch {
			case st.Required:
				fe = append(fe, apperr.FieldError{Field: field, Message: "is required for " + v.Name})
			case st.Default != nil:
				out[st.Name], _ = st.check(field, st.Default, v.settingPatterns[st.Name])
			}
			continue
		}
		typed, e := st.check(field, val, v.settingPatterns[st.Name])
		if e != nil {
			fe = append(fe, *e)
			continue
		}
		out[st.Name] = typed
	}
	if len(fe) > 0 {
		return nil, fe
	}
	return out, nil
}

// Settings returns stored settings typed, for opening a client. Stored
// settings passed CheckSettings when saved; a value that no longer does
// (a connection saved before its vendor declared the setting) is an
// Invalid error naming it.
func (v *Vendor) TypedSettings(stored map[string]any) (Settings, error) {
	s, fe := v.CheckSettings(stored)
	if len(fe) > 0 {
		e := apperr.InvalidFields(fe...)
		e.Message = "the connection's settings are invalid for " + v.Name + " (" + e.Message + "); update them"
		return nil, e
	}
	return s, nil
}

// check validates one value and returns it typed.
func (st Setting) check(field string, val any, re *regexp.Regexp) (any, *apperr.FieldError) {
	bad := func(format string, args ...any) (any, *apperr.FieldError) {
		return nil, &apperr.FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
	}
	switch st.Type {
	case String:
		s, ok := val.(string)
		if !ok {
			return bad("must be a string")
		}
		if msg := st.checkText(s, re); msg != "" {
			return bad("%s", msg)
		}
		return s, nil
	case Integer:
		n, ok := integer(val)
		if !ok {
			return bad("must be an integer")
		}
		if st.Min != nil && n < *st.Min {
			return bad("must be at least %d", *st.Min)
		}
		if st.Max != nil && n > *st.Max {
			return bad("must be at most %d", *st.Max)
		}
		return n, nil
	case Boolean:
		b, ok := val.(bool)
		if !ok {
			return bad("must be true or false")
		}
		return b, nil
	case StringList:
		list, ok := stringList(val)
		if !ok {
			return bad("must be a list of strings")
		}
		maxItems := st.MaxItems
		if maxItems == 0 {
			maxItems = limits.MaxMapEntries
		}
		if len(list) > maxItems {
			return bad("must have at most %d items", maxItems)
		}
		for i, s := range list {
			if msg := st.checkText(s, re); msg != "" {
				return nil, &apperr.FieldError{Field: fmt.Sprintf("%s[%d]", field, i), Message: msg}
			}
		}
		return list, nil
	}
	return bad("has an unknown type")
}

// checkText checks a string value's length, enum and pattern; "" when it
// passes.
func (st Setting) checkText(s string, re *regexp.Regexp) string {
	max := st.MaxLength
	if max == 0 {
		max = limits.MaxTextLength
	}
	if utf8.RuneCountInString(s) > max {
		return fmt.Sprintf("must be at most %d characters", max)
	}
	if len(st.Enum) > 0 && !slices.Contains(st.Enum, s) {
		return "must be one of " + strings.Join(st.Enum, ", ")
	}
	if re != nil && !re.MatchString(s) {
		return "must match " + st.Pattern
	}
	return ""
}

// integer reads an integer from JSON-decoded or Go values: a number
// without fraction, or (as stored by earlier versions) its decimal text.
func integer(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), n == int64(int(n))
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return 0, false
		}
		return int(n), true
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil && i == int64(int(i))
	case string:
		i, err := strconv.Atoi(strings.TrimSpace(n))
		return i, err == nil
	}
	return 0, false
}

func stringList(v any) ([]string, bool) {
	switch l := v.(type) {
	case []string:
		return slices.Clone(l), true
	case []any:
		out := make([]string, 0, len(l))
		for _, x := range l {
			s, ok := x.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}
