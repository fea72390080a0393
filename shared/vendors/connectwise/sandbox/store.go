package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Records are kept as JSON-shaped maps (numbers float64, objects
// map[string]any, arrays []any), so that conditions, orderBy, fields and
// JSON Patch work on exactly what the wire carries.

// collection is one kind of record, in id order.
type collection struct {
	name  string
	items []map[string]any
	byID  map[int]map[string]any
	next  int
}

func newCollection(name string, firstID int) *collection {
	return &collection{name: name, byID: map[int]map[string]any{}, next: firstID}
}

// add stores rec under the next id and returns it.
func (c *collection) add(rec map[string]any) int {
	id := c.next
	c.next++
	rec["id"] = float64(id)
	c.items = append(c.items, rec)
	c.byID[id] = rec
	return id
}

func (c *collection) get(id int) (map[string]any, bool) {
	r, ok := c.byID[id]
	return r, ok
}

// replace swaps the record with id for rec.
func (c *collection) replace(id int, rec map[string]any) {
	rec["id"] = float64(id)
	for i, r := range c.items {
		if intOf(r["id"]) == id {
			c.items[i] = rec
		}
	}
	c.byID[id] = rec
}

// filter returns the records keep accepts.
func (c *collection) filter(keep func(map[string]any) bool) []map[string]any {
	var out []map[string]any
	for _, r := range c.items {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// normalize turns any JSON-marshalable value into its JSON-shaped map.
func normalize(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("sandbox: normalize: %v", err))
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(fmt.Sprintf("sandbox: normalize: %v", err))
	}
	return m
}

// clone deep-copies a record.
func clone(m map[string]any) map[string]any { return normalize(m) }

func intOf(v any) int {
	switch x := v.(type) {
	case float64:
		return int(x)
	case int:
		return x
	case string:
		n, _ := strconv.Atoi(x)
		return n
	}
	return 0
}

func strOf(v any) string {
	s, _ := v.(string)
	return s
}

func boolOf(v any) bool {
	b, _ := v.(bool)
	return b
}

func objOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// ts formats a timestamp the way ConnectWise does.
func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// info builds an _info object.
func info(at time.Time, by string) map[string]any {
	return map[string]any{"lastUpdated": ts(at), "updatedBy": by, "dateEntered": ts(at), "enteredBy": by}
}

// touch records an update in a record's _info.
func touch(rec map[string]any, at time.Time, by string) {
	inf := objOf(rec["_info"])
	if inf == nil {
		inf = map[string]any{}
		rec["_info"] = inf
	}
	inf["lastUpdated"], inf["updatedBy"] = ts(at), by
}

// listQuery is a parsed listing request.
type listQuery struct {
	conditions, child, custom expr
	order                     []sortKey
	fields                    []string
	page, pageSize            int
	forward                   bool
	pageID                    int
}

func (s *Server) parseList(r *http.Request) (listQuery, error) {
	q := r.URL.Query()
	var lq listQuery
	var err error
	if lq.conditions, err = parseConditions(q.Get("conditions")); err != nil {
		return lq, fmt.Errorf("conditions: %w", err)
	}
	if lq.child, err = parseConditions(q.Get("childConditions")); err != nil {
		return lq, fmt.Errorf("childConditions: %w", err)
	}
	if lq.custom, err = parseConditions(q.Get("customFieldConditions")); err != nil {
		return lq, fmt.Errorf("customFieldConditions: %w", err)
	}
	if lq.order, err = parseOrderBy(q.Get("orderBy")); err != nil {
		return lq, fmt.Errorf("orderBy: %w", err)
	}
	if f := strings.TrimSpace(q.Get("fields")); f != "" {
		for _, name := range strings.Split(f, ",") {
			if name = strings.TrimSpace(name); name != "" {
				lq.fields = append(lq.fields, name)
			}
		}
	}
	lq.page, lq.pageSize = 1, DefaultPageSize
	if v := q.Get("page"); v != "" {
		if lq.page, err = strconv.Atoi(v); err != nil || lq.page < 1 {
			return lq, fmt.Errorf("page must be a positive integer")
		}
	}
	if v := q.Get("pageSize"); v != "" {
		if lq.pageSize, err = strconv.Atoi(v); err != nil || lq.pageSize < 1 {
			return lq, fmt.Errorf("pageSize must be a positive integer")
		}
	}
	lq.pageSize = min(lq.pageSize, s.opt.PageSizeMax)
	if strings.EqualFold(r.Header.Get("pagination-type"), "forward-only") {
		lq.forward = true
		if len(lq.order) > 0 {
			return lq, fmt.Errorf("orderBy cannot be combined with forward-only pagination")
		}
		if v := q.Get("pageId"); v != "" {
			if lq.pageID, err = strconv.Atoi(v); err != nil {
				return lq, fmt.Errorf("pageId must be an integer")
			}
		}
	}
	return lq, nil
}

// match applies the three condition kinds to one record.
func (lq listQuery) match(rec map[string]any) (bool, error) {
	for _, e := range []expr{lq.conditions, lq.child} {
		ok, err := matchAll(e, rec)
		if err != nil || !ok {
			return false, err
		}
	}
	if lq.custom == nil {
		return true, nil
	}
	fields, _ := rec["customFields"].([]any)
	for _, f := range fields {
		m := objOf(f)
		if m == nil {
			continue
		}
		ok, err := lq.custom.eval(m)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// selectRecords filters and sorts.
func (lq listQuery) selectRecords(items []map[string]any) ([]map[string]any, error) {
	var out []map[string]any
	for _, rec := range items {
		ok, err := lq.match(rec)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, rec)
		}
	}
	if len(lq.order) > 0 {
		for _, k := range lq.order {
			if len(out) > 0 {
				if _, ok := out[0][k.path[0]]; !ok {
					return nil, errUnknownField{strings.Join(k.path, "/")}
				}
			}
		}
		slices.SortStableFunc(out, func(a, b map[string]any) int {
			for _, k := range lq.order {
				va, vb := first(lookup(a, k.path)), first(lookup(b, k.path))
				if c := orderValue(va, vb); c != 0 {
					if k.desc {
						return -c
					}
					return c
				}
			}
			return intOf(a["id"]) - intOf(b["id"])
		})
	}
	return out, nil
}

func first(vs []any) any {
	if len(vs) == 0 {
		return nil
	}
	return vs[0]
}

// writeList answers a listing: filter, sort, page, project, Link header.
func (s *Server) writeList(w http.ResponseWriter, r *http.Request, items []map[string]any) {
	s.writeListMode(w, r, items, true)
}

// writeListMode is writeList; keyset false marks an endpoint without
// forward-only support, which (like ConnectWise's, vendor-apis.md §4.3)
// answers a forward-only request with the first page and no Link header.
func (s *Server) writeListMode(w http.ResponseWriter, r *http.Request, items []map[string]any, keyset bool) {
	lq, err := s.parseList(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidObject", "The request is invalid: "+err.Error(), nil)
		return
	}
	recs, err := lq.selectRecords(items)
	if err != nil {
		writeErr(w, err)
		return
	}
	var page []map[string]any
	var links []string
	if lq.forward && !keyset {
		page = recs[:min(lq.pageSize, len(recs))]
	} else if lq.forward {
		slices.SortStableFunc(recs, func(a, b map[string]any) int { return intOf(a["id"]) - intOf(b["id"]) })
		start := 0
		for start < len(recs) && intOf(recs[start]["id"]) <= lq.pageID {
			start++
		}
		end := min(start+lq.pageSize, len(recs))
		page = recs[start:end]
		if end < len(recs) && len(page) > 0 {
			links = append(links, s.link(r, map[string]string{"pageId": strconv.Itoa(intOf(page[len(page)-1]["id"])), "page": ""}, "next"))
		}
	} else {
		last := max(1, (len(recs)+lq.pageSize-1)/lq.pageSize)
		start := min((lq.page-1)*lq.pageSize, len(recs))
		end := min(start+lq.pageSize, len(recs))
		page = recs[start:end]
		if lq.page > 1 {
			links = append(links, s.link(r, map[string]string{"page": "1"}, "first"))
			links = append(links, s.link(r, map[string]string{"page": strconv.Itoa(min(lq.page-1, last))}, "prev"))
		}
		if lq.page < last {
			links = append(links, s.link(r, map[string]string{"page": strconv.Itoa(lq.page + 1)}, "next"))
			links = append(links, s.link(r, map[string]string{"page": strconv.Itoa(last)}, "last"))
		}
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	out := make([]map[string]any, len(page))
	for i, rec := range page {
		out[i] = project(rec, lq.fields)
	}
	writeJSON(w, http.StatusOK, out)
}

// writeCount answers a /count endpoint.
func (s *Server) writeCount(w http.ResponseWriter, r *http.Request, items []map[string]any) {
	lq, err := s.parseList(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "InvalidObject", "The request is invalid: "+err.Error(), nil)
		return
	}
	recs, err := lq.selectRecords(items)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"count": len(recs)})
}

// project keeps only the named top-level fields (all when none).
func project(rec map[string]any, fields []string) map[string]any {
	if len(fields) == 0 {
		return rec
	}
	out := map[string]any{}
	for _, f := range fields {
		top, _, _ := strings.Cut(f, "/")
		if v, ok := rec[top]; ok {
			out[top] = v
		}
	}
	return out
}

// link builds one Link header entry for the current request with some
// query parameters replaced ("" deletes).
func (s *Server) link(r *http.Request, set map[string]string, rel string) string {
	q := r.URL.Query()
	for k, v := range set {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := url.URL{Scheme: scheme, Host: r.Host, Path: s.opt.PathPrefix + r.URL.Path, RawQuery: strings.ReplaceAll(q.Encode(), "+", "%20")}
	return fmt.Sprintf("<%s>; rel=%q", u.String(), rel)
}

// pathID reads an integer path parameter.
func pathID(r *http.Request, name, resource string) (int, error) {
	v := r.PathValue(name)
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, errNotFound{resource: resource, id: v}
	}
	return n, nil
}

// decodeBody reads a JSON object body.
func decodeBody(r *http.Request) (map[string]any, error) {
	var m map[string]any
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, errors.New("the body must be a JSON object")
	}
	return m, nil
}

// decodePatch reads a JSON Patch body.
func decodePatch(r *http.Request) ([]patchOp, error) {
	var ops []patchOp
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err := dec.Decode(&ops); err != nil {
		return nil, errors.New("the body must be a JSON Patch array of operations")
	}
	for i, op := range ops {
		op.Path = strings.Trim(op.Path, "/")
		op.Op = strings.ToLower(op.Op)
		if op.Path == "" {
			return nil, fmt.Errorf("operation %d has no path", i)
		}
		switch op.Op {
		case "replace", "add", "remove":
		default:
			return nil, fmt.Errorf("operation %d: op %q is not supported", i, op.Op)
		}
		ops[i] = op
	}
	return ops, nil
}

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}
