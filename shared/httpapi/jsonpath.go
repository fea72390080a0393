package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/limits"
)

// frame is one open object or array while scanning a JSON body.
type frame struct {
	object  bool
	wantKey bool   // objects: the next string is a key
	rawKey  []byte // objects: the current member's key, quoted, as in the body
	index   int    // arrays: the current element's index
}

// jsonPath renders the path of the innermost open value, e.g.
// settings.a[2].b; the top-level value is "(body)". It stops once the path
// is long enough to say where (limits.Clip shortens it further).
func jsonPath(stack []frame) string {
	var b strings.Builder
	for _, f := range stack {
		if b.Len() > 4*limits.MaxIDLength {
			break
		}
		switch {
		case f.object && f.wantKey:
			// An object between members: the path ends at the object.
		case f.object:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(limits.Clip(unquoteKey(f.rawKey)))
		default:
			b.WriteString("[" + strconv.Itoa(f.index) + "]")
		}
	}
	if b.Len() == 0 {
		return "(body)"
	}
	return b.String()
}

// checkDepth scans body once, byte by byte, and refuses it when objects and
// arrays nest more than max levels: 422 naming the path where the limit was
// crossed. It allocates nothing but a stack of at most max frames and never
// recurses, so its cost is linear in the body and bounded whatever the
// nesting; encoding/json's recursive decoder only ever sees bodies that
// passed it. It does not validate syntax (the decoder does, next): on a
// malformed body it may report a depth the decoder would not reach.
func checkDepth(body []byte, max int) error {
	stack := make([]frame, 0, max)
	for i := 0; i < len(body); i++ {
		switch c := body[i]; c {
		case '"':
			j := i + 1
			for j < len(body) && body[j] != '"' {
				if body[j] == '\\' {
					j++
				}
				j++
			}
			if n := len(stack); n > 0 && stack[n-1].wantKey {
				stack[n-1].rawKey, stack[n-1].wantKey = body[i:min(j+1, len(body))], false
			}
			i = j
		case '{', '[':
			if len(stack) >= max {
				return apperr.InvalidFields(apperr.FieldError{Field: limits.Clip(jsonPath(stack)),
					Message: fmt.Sprintf("nests deeper than %d levels", max)})
			}
			stack = append(stack, frame{object: c == '{', wantKey: c == '{'})
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ',':
			if n := len(stack); n > 0 {
				if stack[n-1].object {
					stack[n-1].wantKey = true
				} else {
					stack[n-1].index++
				}
			}
		}
	}
	return nil
}

// unquoteKey decodes a quoted key for a reported path, shortened first: a
// hostile key may be a megabyte long.
func unquoteKey(quoted []byte) string {
	if len(quoted) > 4*limits.MaxIDLength {
		quoted = append(append([]byte{}, quoted[:4*limits.MaxIDLength]...), '"')
	}
	var k string
	if err := json.Unmarshal(quoted, &k); err != nil {
		return strings.Trim(string(quoted), `"`)
	}
	return k
}

// unknownFieldPath finds the full path of the first member of body that v's
// type does not have (encoding/json names only the member's own key), by
// walking the tokens alongside the type. "" when it cannot tell.
func unknownFieldPath(body []byte, v any) string {
	if v == nil {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	path, _ := walkUnknown(dec, reflect.TypeOf(v), "")
	return path
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// walkUnknown consumes one value typed t (nil: untyped, anything goes) and
// returns the path of its first unknown member.
func walkUnknown(dec *json.Decoder, t reflect.Type, path string) (string, bool) {
	tok, err := dec.Token()
	if err != nil {
		return "", false
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && (reflect.PointerTo(t).Implements(unmarshalerType) || t.Kind() == reflect.Interface) {
		t = nil
	}
	join := func(key string) string {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	switch tok {
	case json.Delim('{'):
		var fields map[string]reflect.Type
		if t != nil && t.Kind() == reflect.Struct {
			fields = jsonFields(t)
		}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return "", false
			}
			key, _ := kt.(string)
			var elem reflect.Type
			switch {
			case fields != nil:
				ft, ok := lookupField(fields, key)
				if !ok {
					return join(key), true
				}
				elem = ft
			case t != nil && t.Kind() == reflect.Map:
				elem = t.Elem()
			}
			if p, found := walkUnknown(dec, elem, join(key)); found {
				return p, true
			}
		}
		_, _ = dec.Token()
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if p, found := walkUnknown(dec, elem, fmt.Sprintf("%s[%d]", path, i)); found {
				return p, true
			}
		}
		_, _ = dec.Token()
	}
	return "", false
}

// jsonFields lists the JSON member names of a struct type (promoted fields
// of embedded structs included) with their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || (f.Anonymous && f.Tag.Get("json") == "") {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// lookupField matches a key as encoding/json does: exactly, else
// case-insensitively.
func lookupField(fields map[string]reflect.Type, key string) (reflect.Type, bool) {
	if t, ok := fields[key]; ok {
		return t, true
	}
	for name, t := range fields {
		if strings.EqualFold(name, key) {
			return t, true
		}
	}
	return nil, false
}
