package sandbox

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// The /query grammar (vendor-apis.md §5.3): a body {"filter": [...],
// "includeFields": [...], "maxRecords": N} whose keys are read in any case;
// filter items {"op", "field", "value", "udf"} and groups {"op": "and"|"or",
// "items": [...]}; the top-level list is an implicit "and".

// queryModel is a decoded query.
type queryModel struct {
	Filter        []filterItem
	IncludeFields []string
	MaxRecords    int
}

type filterItem struct {
	Op    string
	Field string
	Value any
	UDF   bool
	Items []filterItem
}

// errQuery is a query the API refuses (answered 500 with errors[]).
type errQuery struct{ msg string }

func (e errQuery) Error() string { return e.msg }

// lowerKeys returns m with lower-case keys.
func lowerKeys(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[strings.ToLower(k)] = v
	}
	return out
}

// parseQuery decodes a query body.
func parseQuery(raw []byte) (queryModel, error) {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return queryModel{}, errQuery{"The query could not be read: the body must be a JSON object"}
	}
	m = lowerKeys(m)
	var q queryModel
	if v, ok := m["maxrecords"]; ok && v != nil {
		n, ok := num(v)
		if !ok || n < 1 || n > 500 {
			return q, errQuery{"MaxRecords must be between 1 and 500"}
		}
		q.MaxRecords = int(n)
	}
	if v, ok := m["includefields"].([]any); ok {
		for _, f := range v {
			s, _ := f.(string)
			q.IncludeFields = append(q.IncludeFields, s)
		}
	}
	list, _ := m["filter"].([]any)
	if len(list) == 0 {
		return q, errQuery{"A query requires at least one filter"}
	}
	for _, it := range list {
		f, err := parseFilter(it, 0)
		if err != nil {
			return q, err
		}
		q.Filter = append(q.Filter, f)
	}
	return q, nil
}

func parseFilter(v any, depth int) (filterItem, error) {
	if depth > 10 {
		return filterItem{}, errQuery{"Filter groups nest at most 10 deep"}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return filterItem{}, errQuery{"A filter item must be an object"}
	}
	m = lowerKeys(m)
	f := filterItem{Value: m["value"]}
	f.Op, _ = m["op"].(string)
	f.Field, _ = m["field"].(string)
	f.UDF, _ = m["udf"].(bool)
	f.Op = strings.ToLower(f.Op)
	switch f.Op {
	case "and", "or":
		items, _ := m["items"].([]any)
		if len(items) == 0 {
			return f, errQuery{fmt.Sprintf("The %q group has no items", f.Op)}
		}
		for _, it := range items {
			c, err := parseFilter(it, depth+1)
			if err != nil {
				return f, err
			}
			f.Items = append(f.Items, c)
		}
	case "eq", "noteq", "gt", "gte", "lt", "lte", "beginswith", "endswith", "contains", "exist", "notexist", "in", "notin":
		if f.Field == "" {
			return f, errQuery{fmt.Sprintf("The %q filter has no field", f.Op)}
		}
		if f.Op == "in" || f.Op == "notin" {
			list, ok := f.Value.([]any)
			if !ok {
				return f, errQuery{fmt.Sprintf("The %q filter on %s needs an array value", f.Op, f.Field)}
			}
			if len(list) > 500 {
				return f, errQuery{"A query may hold at most 500 values in one condition"}
			}
		}
	default:
		return f, errQuery{fmt.Sprintf("Unknown filter operator %q", f.Op)}
	}
	return f, nil
}

// checkFields checks that every field a filter names exists.
func (e *entity) checkFields(fs []filterItem) error {
	for _, f := range fs {
		if len(f.Items) > 0 {
			if err := e.checkFields(f.Items); err != nil {
				return err
			}
			continue
		}
		if f.UDF {
			if _, ok := e.udf(f.Field); !ok {
				return errQuery{fmt.Sprintf("Unable to find %s in the UserDefinedFields of %s", f.Field, e.name)}
			}
		} else if e.field(f.Field) == nil {
			return errQuery{fmt.Sprintf("Unable to find %s in the %s entity", f.Field, e.name)}
		}
	}
	return nil
}

// matchAll reports whether rec satisfies every filter.
func (e *entity) matchAll(rec map[string]any, fs []filterItem) bool {
	for _, f := range fs {
		if !e.match(rec, f) {
			return false
		}
	}
	return true
}

func (e *entity) match(rec map[string]any, f filterItem) bool {
	switch f.Op {
	case "and":
		return e.matchAll(rec, f.Items)
	case "or":
		for _, it := range f.Items {
			if e.match(rec, it) {
				return true
			}
		}
		return false
	}
	var v any
	if f.UDF {
		u, _ := e.udf(f.Field)
		if s, ok := rec["_udf"].(map[string]string)[u.Name]; ok && s != "" {
			v = s
		}
	} else if fd := e.field(f.Field); fd != nil {
		v = rec[fd.Name]
	}
	present := v != nil && valueString(v) != ""
	switch f.Op {
	case "exist":
		return present
	case "notexist":
		return !present
	case "in", "notin":
		in := false
		for _, x := range f.Value.([]any) {
			if v != nil && compare(v, x) == 0 {
				in = true
			}
		}
		return in == (f.Op == "in")
	case "noteq":
		return v == nil || compare(v, f.Value) != 0
	}
	if v == nil {
		return false
	}
	a, b := strings.ToLower(valueString(v)), strings.ToLower(valueString(f.Value))
	switch f.Op {
	case "eq":
		return compare(v, f.Value) == 0
	case "gt":
		return compare(v, f.Value) > 0
	case "gte":
		return compare(v, f.Value) >= 0
	case "lt":
		return compare(v, f.Value) < 0
	case "lte":
		return compare(v, f.Value) <= 0
	case "beginswith":
		return strings.HasPrefix(a, b)
	case "endswith":
		return strings.HasSuffix(a, b)
	case "contains":
		return strings.Contains(a, b)
	}
	return false
}

// compare orders two JSON values: numerically when both are numbers, as
// times when both parse as times, as booleans, else as case-insensitive
// text (the database's collation).
func compare(a, b any) int {
	if x, ok := num(a); ok {
		if y, ok := num(b); ok {
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		}
	}
	if ba, ok := a.(bool); ok {
		bb, ok := b.(bool)
		if !ok {
			bb = strings.EqualFold(valueString(b), "true")
		}
		if ba == bb {
			return 0
		}
		return 1
	}
	sa, sb := valueString(a), valueString(b)
	if ta, err := time.Parse(time.RFC3339Nano, sa); err == nil {
		if tb, err := time.Parse(time.RFC3339Nano, sb); err == nil {
			return ta.Compare(tb)
		}
	}
	return strings.Compare(strings.ToLower(sa), strings.ToLower(sb))
}
