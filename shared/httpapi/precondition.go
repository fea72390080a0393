package httpapi

import (
	"strconv"
	"strings"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// IfMatch is a request's If-Match header (RFC 9110 §13.1.1).
type IfMatch struct {
	// Present: the request has the header; without it there is no
	// precondition.
	Present bool
	// Any: the value is "*" (the resource exists).
	Any bool
	// Tags are the opaque values of the strong entity tags listed, without
	// their quotes. Weak tags (W/"…") are left out: If-Match compares
	// strongly, so they never match.
	Tags []string
}

// ETag returns the strong entity tag of a version counter, quoted as the
// ETag header carries it: "3".
func ETag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// Versions returns the version counters (ETag's) the tags name: nil when
// there is no precondition or it is "*", else the versions listed, or
// {-1}, which no resource is at, when none is one of ours (a tag this
// API never issued does not match: 412).
func (m IfMatch) Versions() []int64 {
	if !m.Present || m.Any {
		return nil
	}
	var out []int64
	for _, t := range m.Tags {
		if n, err := strconv.ParseInt(t, 10, 64); err == nil && n >= 0 && strconv.FormatInt(n, 10) == t {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		out = []int64{-1}
	}
	return out
}

// IfMatch parses the If-Match header. A value that is not "*" or a list
// of entity tags (an unquoted 3, an empty value) is a 400 naming the
// header: guessing what it meant could overwrite someone's change.
func (r *Request) IfMatch() (IfMatch, error) {
	raw, ok := r.Event.Headers["if-match"]
	if !ok {
		return IfMatch{}, nil
	}
	m, ok := parseIfMatch(raw)
	if !ok {
		return IfMatch{}, BadRequest(apperr.FieldError{Field: "If-Match",
			Message: `must be * or a list of entity tags as the ETag header gives them, quotes included (for example "3")`})
	}
	return m, nil
}

// maxIfMatchTags bounds the tags read from one If-Match header.
const maxIfMatchTags = 50

func parseIfMatch(raw string) (IfMatch, bool) {
	m := IfMatch{Present: true}
	v := strings.Trim(raw, " \t")
	if v == "*" {
		m.Any = true
		return m, true
	}
	n := 0
	for {
		v = strings.TrimLeft(v, " \t,")
		if v == "" {
			break
		}
		if n++; n > maxIfMatchTags {
			return IfMatch{}, false
		}
		weak := strings.HasPrefix(v, "W/")
		if weak {
			v = v[2:]
		}
		if !strings.HasPrefix(v, `"`) {
			return IfMatch{}, false
		}
		end := strings.IndexByte(v[1:], '"')
		if end < 0 {
			return IfMatch{}, false
		}
		tag := v[1 : 1+end]
		for i := 0; i < len(tag); i++ {
			if c := tag[i]; c < 0x21 || c == 0x7f {
				return IfMatch{}, false
			}
		}
		if !weak {
			m.Tags = append(m.Tags, tag)
		}
		v = v[2+end:]
		if rest := strings.TrimLeft(v, " \t"); rest != "" && rest[0] != ',' {
			return IfMatch{}, false
		}
	}
	if n == 0 {
		return IfMatch{}, false
	}
	return m, true
}
