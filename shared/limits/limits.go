// Package limits holds the documented bounds on what callers may send
// rmmbridge, and the checks that enforce them.
//
// Every id that ends up in a DynamoDB key, every free-text field and every
// open-ended object of a request body has a limit here, the same number
// openapi.yaml documents (maxLength, pattern, maxProperties). A value over a
// limit is refused with an apperr.FieldError naming the field, before
// anything is stored or sent to a vendor: DynamoDB's own limits (400 KB
// items, 1 KB sort keys, 32 nesting levels) must never be what a caller
// runs into.
package limits

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"sync"
	"unicode/utf8"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// The limits, as openapi.yaml documents them.
const (
	// MaxIDLength bounds ids: path ids, ids in bodies and query strings.
	MaxIDLength = 128
	// MaxNameLength bounds names (connections, integrations, accounts), in characters.
	MaxNameLength = 200
	// MaxSearchLength bounds the PSA account search text, in characters.
	MaxSearchLength = 200
	// MaxTextLength bounds other short free-text values (account status and
	// type names, ticket defaults, priorities), in characters.
	MaxTextLength = 200
	// MaxURLLength bounds a connection's base URL, in bytes.
	MaxURLLength = 2048
	// MaxCredentialLength bounds one credential value, in bytes.
	MaxCredentialLength = 4096
	// MaxSettingsDepth bounds the nesting of a settings object: the object
	// itself is level 1.
	MaxSettingsDepth = 10
	// MaxSettingsBytes bounds a settings object's JSON encoding.
	MaxSettingsBytes = 16 << 10
	// MaxMapEntries bounds string maps in bodies (ticketDefaults, sites).
	MaxMapEntries = 100
	// MaxCursorLength bounds the cursor query parameter, in bytes.
	MaxCursorLength = 2048
	// MaxBodyDepth bounds the nesting of any JSON body (httpapi refuses a
	// deeper body before decoding it); settings objects are bounded more
	// tightly by MaxSettingsDepth.
	MaxBodyDepth = 32
	// MaxFieldErrors bounds the field errors one answer lists.
	MaxFieldErrors = 20
)

// IDPattern is what an id may look like: letters, digits, '_', '.', ':'
// and '-', starting with a letter, digit or '_', at most MaxIDLength long.
// It leaves out '#' (the separator of DynamoDB keys), '/', whitespace and
// anything beyond ASCII.
const IDPattern = `^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,127}$`

// idRE is compiled on first use, not when a function that never checks an
// id starts.
var idRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(IDPattern) })

// IDMessage is the message of a malformed id.
const IDMessage = "must be 1 to 128 letters, digits, '_', '.', ':' or '-', starting with a letter, digit or '_'"

// ValidID reports whether s is a well-formed id.
func ValidID(s string) bool { return len(s) <= MaxIDLength && idRE().MatchString(s) }

// ID checks a required id; nil when it is well formed.
func ID(field, s string) *apperr.FieldError {
	if s == "" {
		return &apperr.FieldError{Field: field, Message: "is required"}
	}
	if !ValidID(s) {
		return &apperr.FieldError{Field: field, Message: IDMessage}
	}
	return nil
}

// Text checks that s is at most max characters; nil when it is.
func Text(field, s string, max int) *apperr.FieldError {
	// len(s) <= max implies at most max characters; count only when needed.
	if len(s) > max && utf8.RuneCountInString(s) > max {
		return &apperr.FieldError{Field: field, Message: fmt.Sprintf("must be at most %d characters", max)}
	}
	return nil
}

// Bytes checks that s is at most max bytes; nil when it is.
func Bytes(field, s string, max int) *apperr.FieldError {
	if len(s) > max {
		return &apperr.FieldError{Field: field, Message: fmt.Sprintf("must be at most %d bytes", max)}
	}
	return nil
}

// Settings checks an open-ended settings object: at most MaxSettingsDepth
// levels of nesting (objects and arrays) and MaxSettingsBytes of JSON. The
// walk stops at the first level over the limit, so its cost and stack do
// not grow with a hostile depth.
func Settings(field string, v map[string]any) []apperr.FieldError {
	if v == nil {
		return nil
	}
	if path, deep := tooDeep(field, v, 1); deep {
		return []apperr.FieldError{{Field: Clip(path), Message: fmt.Sprintf("nests deeper than %d levels", MaxSettingsDepth)}}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return []apperr.FieldError{{Field: field, Message: "must be a JSON object"}}
	}
	if len(b) > MaxSettingsBytes {
		return []apperr.FieldError{{Field: field, Message: fmt.Sprintf("is %d bytes as JSON; the limit is %d", len(b), MaxSettingsBytes)}}
	}
	return nil
}

// tooDeep reports the path of the first value of v nested deeper than
// MaxSettingsDepth, v itself being at level depth.
func tooDeep(path string, v any, depth int) (string, bool) {
	switch x := v.(type) {
	case map[string]any:
		if depth > MaxSettingsDepth {
			return path, true
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p, deep := tooDeep(path+"."+k, x[k], depth+1); deep {
				return p, true
			}
		}
	case []any:
		if depth > MaxSettingsDepth {
			return path, true
		}
		for i, e := range x {
			if p, deep := tooDeep(fmt.Sprintf("%s[%d]", path, i), e, depth+1); deep {
				return p, true
			}
		}
	}
	return "", false
}

// StringMap checks a map of short strings: at most MaxMapEntries entries,
// keys checked by key (nil: at most MaxTextLength characters) and values by
// value (nil: at most MaxTextLength characters). Field names are
// field.<key>, clipped.
func StringMap(field string, m map[string]string, key, value func(field, s string) *apperr.FieldError) []apperr.FieldError {
	if len(m) > MaxMapEntries {
		return []apperr.FieldError{{Field: field, Message: fmt.Sprintf("must have at most %d entries", MaxMapEntries)}}
	}
	if key == nil {
		key = func(f, s string) *apperr.FieldError { return Text(f, s, MaxTextLength) }
	}
	if value == nil {
		value = func(f, s string) *apperr.FieldError { return Text(f, s, MaxTextLength) }
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var fe []apperr.FieldError
	for _, k := range keys {
		f := Clip(field + "." + k)
		if e := key(f, k); e != nil {
			fe = append(fe, apperr.FieldError{Field: f, Message: "key " + e.Message})
			continue
		}
		if e := value(f, m[k]); e != nil {
			fe = append(fe, *e)
		}
	}
	return fe
}

// maxFieldName bounds a field name echoed back to the caller: a hostile
// key must not come back a megabyte long.
const maxFieldName = 200

// Clip shortens a field name (a JSON path that may carry a caller's keys)
// to at most 200 bytes, on a character boundary, marking the cut with "…".
func Clip(field string) string {
	if len(field) <= maxFieldName {
		return field
	}
	cut := maxFieldName - len("…")
	for cut > 0 && !utf8.RuneStart(field[cut]) {
		cut--
	}
	return field[:cut] + "…"
}

// Cap keeps at most MaxFieldErrors field errors.
func Cap(fe []apperr.FieldError) []apperr.FieldError {
	if len(fe) > MaxFieldErrors {
		return fe[:MaxFieldErrors]
	}
	return fe
}
