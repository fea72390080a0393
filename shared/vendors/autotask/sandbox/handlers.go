package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// errNotFound is a missing record (404 with errors[]).
type errNotFound struct{ what string }

func (e errNotFound) Error() string { return e.what + " was not found" }

// errRefused is a refused write (500 with errors[], as Autotask answers).
type errRefused struct{ msgs []string }

func (e errRefused) Error() string { return strings.Join(e.msgs, "; ") }

func refused(format string, args ...any) errRefused {
	return errRefused{[]string{fmt.Sprintf(format, args...)}}
}

func writeErr(w http.ResponseWriter, err error) {
	var nf errNotFound
	var rf errRefused
	var q errQuery
	switch {
	case errors.As(err, &nf):
		writeErrors(w, http.StatusNotFound, nf.Error())
	case errors.As(err, &rf):
		writeErrors(w, http.StatusInternalServerError, rf.msgs...)
	case errors.As(err, &q):
		writeErrors(w, http.StatusInternalServerError, q.Error())
	default:
		writeErrors(w, http.StatusInternalServerError, err.Error())
	}
}

// route dispatches an authenticated request; segs follow /V1.0.
func (s *Server) route(w http.ResponseWriter, r *http.Request, segs []string, body []byte, actor int) {
	low := make([]string, len(segs))
	for i, sg := range segs {
		low[i] = strings.ToLower(sg)
	}
	if low[0] == "thresholdinformation" && len(segs) == 1 && r.Method == http.MethodGet {
		s.mu.Lock()
		s.pruneWindow(s.opt.Now())
		n, limit := len(s.window), s.opt.Threshold
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"externalRequestThreshold": limit,
			"requestThresholdTimeframe": int(s.opt.ThresholdWindow.Minutes()), "currentTimeframeRequestCount": n})
		return
	}
	s.mu.Lock()
	e := s.ents[low[0]]
	s.mu.Unlock()
	if e == nil {
		writeErrors(w, http.StatusNotFound, "No resource at this path")
		return
	}
	var err error
	switch {
	case len(segs) == 1 && r.Method == http.MethodPost:
		err = s.write(w, e, body, actor, 0, false)
	case len(segs) == 1 && r.Method == http.MethodPatch:
		err = s.write(w, e, body, actor, 0, true)
	case len(segs) >= 2 && low[1] == "query":
		count := len(segs) == 3 && low[2] == "count"
		if len(segs) > 3 || (len(segs) == 3 && !count) {
			writeErrors(w, http.StatusNotFound, "No resource at this path")
			return
		}
		raw := body
		if r.Method == http.MethodGet {
			raw = []byte(r.URL.Query().Get("search"))
		} else if r.Method != http.MethodPost {
			writeErrors(w, http.StatusMethodNotAllowed, "The requested resource does not support http method '"+r.Method+"'.")
			return
		}
		err = s.query(w, r, e, raw, count)
	case len(segs) >= 2 && low[1] == "entityinformation" && r.Method == http.MethodGet:
		err = s.info(w, e, low[1:])
	case len(segs) == 2 && r.Method == http.MethodGet:
		err = s.get(w, e, segs[1])
	case len(segs) == 3 && (low[0]+"/"+low[2] == "companies/locations" || low[0]+"/"+low[2] == "tickets/notes"):
		err = s.child(w, r, e, segs[1], low[2], body, actor)
	default:
		writeErrors(w, http.StatusNotFound, "No resource at this path")
		return
	}
	if err != nil {
		writeErr(w, err)
	}
}

// render returns a record as the API shows it, limited to include (all
// fields when empty).
func (e *entity) render(rec map[string]any, include []string) map[string]any {
	out := map[string]any{}
	want := func(name string) bool {
		if len(include) == 0 {
			return true
		}
		for _, f := range include {
			if strings.EqualFold(f, name) {
				return true
			}
		}
		return false
	}
	for _, f := range e.fields {
		if want(f.Name) {
			out[f.Name] = rec[f.Name]
		}
	}
	if len(e.udfs) > 0 && want("userDefinedFields") {
		udf := rec["_udf"].(map[string]string)
		list := []map[string]any{}
		for _, u := range e.udfs {
			var v any
			if x, ok := udf[u.Name]; ok {
				v = x
			}
			list = append(list, map[string]any{"name": u.Name, "value": v})
		}
		out["userDefinedFields"] = list
	}
	return out
}

func (s *Server) get(w http.ResponseWriter, e *entity, raw string) error {
	id, err := strconv.Atoi(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := e.recs[id]
	if err != nil || !ok {
		return errNotFound{fmt.Sprintf("%s %s", e.name, raw)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"item": e.render(rec, nil)})
	return nil
}

func (s *Server) query(w http.ResponseWriter, r *http.Request, e *entity, raw []byte, count bool) error {
	q, err := parseQuery(raw)
	if err != nil {
		return err
	}
	if err := e.checkFields(q.Filter); err != nil {
		return err
	}
	s.mu.Lock()
	var hits []map[string]any
	for _, id := range e.ids {
		if rec := e.recs[id]; e.matchAll(rec, q.Filter) {
			hits = append(hits, rec)
		}
	}
	s.mu.Unlock()
	if count {
		writeJSON(w, http.StatusOK, map[string]any{"queryCount": len(hits)})
		return nil
	}
	limit := PageSize
	if q.MaxRecords > 0 {
		limit = q.MaxRecords
	}
	next := any(nil)
	if len(hits) > limit {
		if len(q.IncludeFields) > 0 && !containsFold(q.IncludeFields, "id") {
			return errQuery{"Queries returning more than 500 results must include id in IncludeFields"}
		}
		last := hits[limit-1]["id"]
		cont := map[string]any{
			"filter":        []any{map[string]any{"op": "and", "items": append(rawFilters(q.Filter), map[string]any{"op": "gt", "field": "id", "value": last})}},
			"includeFields": q.IncludeFields, "maxRecords": q.MaxRecords,
		}
		if q.MaxRecords == 0 {
			delete(cont, "maxRecords")
		}
		b, _ := json.Marshal(cont)
		next = "http://" + r.Host + BasePath + "/V1.0/" + e.name + "/query?search=" + url.QueryEscape(string(b))
		hits = hits[:limit]
	}
	items := make([]map[string]any, 0, len(hits))
	s.mu.Lock()
	for _, h := range hits {
		items = append(items, e.render(h, q.IncludeFields))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"items": items,
		"pageDetails": map[string]any{"count": len(items), "requestCount": PageSize, "prevPageUrl": nil, "nextPageUrl": next}})
	return nil
}

// rawFilters turns parsed filters back into JSON objects.
func rawFilters(fs []filterItem) []any {
	out := make([]any, 0, len(fs))
	for _, f := range fs {
		m := map[string]any{"op": f.Op}
		if len(f.Items) > 0 {
			m["items"] = rawFilters(f.Items)
		} else {
			m["field"], m["value"] = f.Field, f.Value
			if f.UDF {
				m["udf"] = true
			}
		}
		out = append(out, m)
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// info answers entityInformation, …/fields and …/userDefinedFields.
func (s *Server) info(w http.ResponseWriter, e *entity, low []string) error {
	switch {
	case len(low) == 1:
		writeJSON(w, http.StatusOK, map[string]any{"info": map[string]any{"name": e.name, "canCreate": true, "canUpdate": true,
			"canQuery": true, "canDelete": false, "hasUserDefinedFields": len(e.udfs) > 0, "userAccessForCreate": "All"}})
	case len(low) == 2 && low[1] == "fields":
		var fields []map[string]any
		for _, f := range e.fields {
			pl := []Pick{}
			if f.Picklist != nil {
				pl = f.Picklist
			}
			fields = append(fields, map[string]any{"name": f.Name, "dataType": f.DataType, "length": f.Length,
				"isRequired": f.Required, "isReadOnly": f.ReadOnly, "isQueryable": true, "isReference": f.RefEntity != "",
				"referenceEntityType": f.RefEntity, "isPickList": f.Picklist != nil, "picklistValues": pl, "picklistParentValueField": ""})
		}
		writeJSON(w, http.StatusOK, map[string]any{"fields": fields})
	case len(low) == 2 && low[1] == "userdefinedfields":
		fields := []map[string]any{}
		for _, u := range e.udfs {
			fields = append(fields, map[string]any{"name": u.Name, "label": u.Name, "type": u.DataType, "length": 8000, "description": "",
				"isRequired": false, "isReadOnly": false, "isQueryable": true, "isReference": false, "isPickList": false,
				"picklistValues": []Pick{}, "defaultValue": nil})
		}
		writeJSON(w, http.StatusOK, map[string]any{"fields": fields})
	default:
		return errNotFound{"entityInformation/" + strings.Join(low[1:], "/")}
	}
	return nil
}

// child lists or creates Companies/{id}/Locations and Tickets/{id}/Notes.
func (s *Server) child(w http.ResponseWriter, r *http.Request, parent *entity, rawID, kind string, body []byte, actor int) error {
	id, err := strconv.Atoi(rawID)
	s.mu.Lock()
	_, ok := parent.recs[id]
	childName, parentField := "companylocations", "companyID"
	if kind == "notes" {
		childName, parentField = "ticketnotes", "ticketID"
	}
	c := s.ents[childName]
	s.mu.Unlock()
	if err != nil || !ok {
		return errNotFound{fmt.Sprintf("%s %s", parent.name, rawID)}
	}
	switch r.Method {
	case http.MethodGet:
		s.mu.Lock()
		items := []map[string]any{}
		for _, cid := range c.ids {
			if rec := c.recs[cid]; compare(rec[parentField], float64(id)) == 0 {
				items = append(items, c.render(rec, nil))
			}
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"items": items,
			"pageDetails": map[string]any{"count": len(items), "requestCount": PageSize, "prevPageUrl": nil, "nextPageUrl": nil}})
		return nil
	case http.MethodPost:
		return s.write(w, c, body, actor, id, false)
	}
	writeErrors(w, http.StatusMethodNotAllowed, "The requested resource does not support http method '"+r.Method+"'.")
	return nil
}

// write creates (patch false) or updates a record from a JSON body;
// parentID, when set, is the parent of a child create.
func (s *Server) write(w http.ResponseWriter, e *entity, body []byte, actor, parentID int, patch bool) error {
	var in map[string]any
	if err := json.Unmarshal(body, &in); err != nil || in == nil {
		return refused("The request body must be a JSON object")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var rec map[string]any
	if patch {
		var idv any
		for k, v := range in {
			if strings.EqualFold(k, "id") {
				idv = v
			}
		}
		n, ok := num(idv)
		if rec = e.recs[int(n)]; !ok || rec == nil {
			return errNotFound{fmt.Sprintf("%s %v", e.name, idv)}
		}
		rec = cloneRec(rec)
	} else {
		rec = map[string]any{"_udf": map[string]string{}}
	}
	var msgs []string
	for k, v := range in {
		lk := strings.ToLower(k)
		switch {
		case lk == "id":
			continue
		case lk == "userdefinedfields":
			list, _ := v.([]any)
			for _, it := range list {
				m := lowerKeys(asMap(it))
				name, _ := m["name"].(string)
				u, ok := e.udf(name)
				if !ok {
					msgs = append(msgs, fmt.Sprintf("Unable to find the user-defined field %q on %s", name, e.name))
					continue
				}
				if m["value"] == nil || valueString(m["value"]) == "" {
					delete(rec["_udf"].(map[string]string), u.Name)
				} else {
					rec["_udf"].(map[string]string)[u.Name] = valueString(m["value"])
				}
			}
			continue
		}
		f := e.field(k)
		if f == nil {
			msgs = append(msgs, fmt.Sprintf("Unable to find property %s on entity %s", k, e.name))
			continue
		}
		if f.ReadOnly {
			continue
		}
		if msg := s.checkValue(e, f, v); msg != "" {
			msgs = append(msgs, msg)
			continue
		}
		rec[f.Name] = v
	}
	if parentID != 0 {
		pf := "companyID"
		if e.name == "TicketNotes" {
			pf = "ticketID"
		}
		rec[pf] = float64(parentID)
	}
	if !patch {
		s.defaults(e, rec)
	}
	for _, f := range e.fields {
		if f.Required && (rec[f.Name] == nil || strings.TrimSpace(valueString(rec[f.Name])) == "") {
			msgs = append(msgs, fmt.Sprintf("%s is a required field on %s", f.Name, e.name))
		}
	}
	msgs = append(msgs, s.checkRefs(e, rec)...)
	if len(msgs) > 0 {
		return errRefused{msgs}
	}
	now := s.opt.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	var id int
	if patch {
		id = int(rec["id"].(float64))
		old := e.recs[id]
		s.touch(e, rec, old, actor, now)
		e.recs[id] = rec
	} else {
		s.stamp(e, rec, actor, now)
		id = e.insert(rec)
		if e.name == "Tickets" {
			rec["ticketNumber"] = fmt.Sprintf("T%s.%04d", s.opt.Now().UTC().Format("20060102"), id%10000)
		}
	}
	s.activity(e, rec, actor, now)
	writeJSON(w, http.StatusOK, map[string]any{"itemId": id})
	return nil
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m
}

func cloneRec(rec map[string]any) map[string]any {
	out := make(map[string]any, len(rec))
	for k, v := range rec {
		out[k] = v
	}
	udf := map[string]string{}
	for k, v := range rec["_udf"].(map[string]string) {
		udf[k] = v
	}
	out["_udf"] = udf
	return out
}

// checkValue checks one written value against its field.
func (s *Server) checkValue(e *entity, f *field, v any) string {
	if v == nil {
		return ""
	}
	switch f.DataType {
	case "string":
		str, ok := v.(string)
		if !ok {
			return fmt.Sprintf("%s on %s must be a string", f.Name, e.name)
		}
		if f.Length > 0 && utf8.RuneCountInString(str) > f.Length {
			return fmt.Sprintf("%s on %s exceeds its maximum length of %d", f.Name, e.name, f.Length)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Sprintf("%s on %s must be true or false", f.Name, e.name)
		}
	case "integer", "long", "decimal":
		if _, ok := v.(float64); !ok {
			return fmt.Sprintf("%s on %s must be a number", f.Name, e.name)
		}
	case "datetime":
		str, _ := v.(string)
		if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
			return fmt.Sprintf("%s on %s must be a date and time", f.Name, e.name)
		}
	}
	if f.Picklist != nil {
		if _, ok := f.pickLabel(v); !ok {
			return fmt.Sprintf("Value %s is not a valid picklist value for %s on %s", valueString(v), f.Name, e.name)
		}
	}
	return ""
}

// checkRefs checks reference fields against the records they name.
func (s *Server) checkRefs(e *entity, rec map[string]any) []string {
	var msgs []string
	exists := func(ent string, v any) bool {
		n, _ := num(v)
		_, ok := s.ents[ent].recs[int(n)]
		return ok
	}
	for _, f := range e.fields {
		v := rec[f.Name]
		if v == nil || f.ReadOnly {
			continue
		}
		ok := true
		switch f.RefEntity {
		case "Company":
			ok = exists("companies", v)
		case "CompanyLocation":
			n, _ := num(v)
			loc := s.ents["companylocations"].recs[int(n)]
			ok = loc != nil && compare(loc["companyID"], rec["companyID"]) == 0
		case "ConfigurationItem":
			ok = exists("configurationitems", v)
		case "Ticket":
			ok = exists("tickets", v)
		case "Resource":
			ok = exists("resources", v)
		case "Product":
			n, _ := num(v)
			_, ok = Products[int(n)]
		}
		if !ok {
			msgs = append(msgs, fmt.Sprintf("%s %s on %s does not reference an existing record", f.Name, valueString(v), e.name))
		}
	}
	return msgs
}

// defaults fills what Autotask fills on create.
func (s *Server) defaults(e *entity, rec map[string]any) {
	switch e.name {
	case "CompanyLocations":
		if rec["isActive"] == nil {
			rec["isActive"] = true
		}
		if rec["isPrimary"] == nil {
			rec["isPrimary"] = false
		}
	case "Tickets":
		if rec["source"] == nil {
			rec["source"] = float64(8)
		}
	case "Resources":
		if rec["isActive"] == nil {
			rec["isActive"] = true
		}
	}
}

// stamp sets a new record's read-only creation fields.
func (s *Server) stamp(e *entity, rec map[string]any, actor int, now string) {
	switch e.name {
	case "Companies":
		rec["createDate"], rec["lastActivityDate"], rec["createdByResourceID"] = now, now, float64(actor)
		rec["lastTrackedModifiedDateTime"] = now
	case "ConfigurationItems":
		rec["createDate"], rec["lastModifiedTime"] = now, now
	case "Tickets":
		rec["createDate"], rec["creatorResourceID"] = now, float64(actor)
		if rec["status"] == float64(5) {
			rec["completedDate"] = now
		}
	case "TicketNotes":
		rec["createDateTime"], rec["creatorResourceID"], rec["lastActivityDate"] = now, float64(actor), now
	case "TimeEntries":
		rec["createDateTime"] = now
	}
}

// touch updates the read-only fields an update changes.
func (s *Server) touch(e *entity, rec, old map[string]any, actor int, now string) {
	switch e.name {
	case "Companies":
		rec["lastTrackedModifiedDateTime"] = now
	case "ConfigurationItems":
		rec["lastModifiedTime"] = now
	case "Tickets":
		if compare(rec["status"], old["status"]) != 0 {
			if rec["status"] == float64(5) {
				rec["completedDate"] = now
			} else {
				rec["completedDate"] = nil
			}
		}
	}
}

// activity records a ticket's last activity (a change, a note or a time
// entry) by actor.
func (s *Server) activity(e *entity, rec map[string]any, actor int, now string) {
	var t map[string]any
	switch e.name {
	case "Tickets":
		t = rec
	case "TicketNotes", "TimeEntries":
		n, _ := num(rec["ticketID"])
		t = s.ents["tickets"].recs[int(n)]
	}
	if t != nil {
		t["lastActivityDate"], t["lastActivityResourceID"], t["lastActivityPersonType"] = now, float64(actor), float64(1)
	}
}
