package sandbox

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

func (s *Server) routes() {
	m := http.NewServeMux()
	h := func(pattern string, f func(http.ResponseWriter, *http.Request) error) {
		m.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if err := f(w, r); err != nil {
				writeErr(w, err)
			}
		})
	}
	list := func(c func() []map[string]any) func(http.ResponseWriter, *http.Request) error {
		return func(w http.ResponseWriter, r *http.Request) error { s.writeList(w, r, c()); return nil }
	}
	count := func(c func() []map[string]any) func(http.ResponseWriter, *http.Request) error {
		return func(w http.ResponseWriter, r *http.Request) error { s.writeCount(w, r, c()); return nil }
	}
	all := func(c **collection) func() []map[string]any { return func() []map[string]any { return (*c).items } }
	get := func(c **collection, resource string) func(http.ResponseWriter, *http.Request) error {
		return func(w http.ResponseWriter, r *http.Request) error {
			id, err := pathID(r, "id", resource)
			if err != nil {
				return err
			}
			rec, ok := (*c).get(id)
			if !ok {
				return errNotFound{resource, strconv.Itoa(id)}
			}
			writeJSON(w, http.StatusOK, project(rec, splitFields(r)))
			return nil
		}
	}

	h("GET /company/companies", list(all(&s.companies)))
	h("GET /company/companies/count", count(all(&s.companies)))
	h("POST /company/companies", s.createCompany)
	h("GET /company/companies/{id}", get(&s.companies, "Company"))
	h("PATCH /company/companies/{id}", s.patchCompany)
	h("GET /company/companies/statuses", list(all(&s.companyStatuses)))
	h("GET /company/companies/types", list(all(&s.companyTypes)))
	h("GET /company/companies/{id}/sites", s.listSites)
	h("POST /company/companies/{id}/sites", s.createSite)
	h("GET /company/companies/{id}/sites/{siteId}", s.getSite)

	h("GET /company/configurations", list(all(&s.configs)))
	h("GET /company/configurations/count", count(all(&s.configs)))
	h("POST /company/configurations", s.createConfig)
	h("GET /company/configurations/{id}", get(&s.configs, "Configuration"))
	h("PUT /company/configurations/{id}", s.putConfig)
	h("PATCH /company/configurations/{id}", s.patchConfig)
	h("GET /company/configurations/types", list(all(&s.configTypes)))
	h("GET /company/configurations/statuses", list(all(&s.configStatuses)))
	h("GET /procurement/manufacturers", list(all(&s.manufacturers)))

	h("GET /service/tickets", list(all(&s.tickets)))
	h("GET /service/tickets/count", count(all(&s.tickets)))
	h("POST /service/tickets", s.createTicket)
	h("GET /service/tickets/{id}", get(&s.tickets, "Ticket"))
	h("PATCH /service/tickets/{id}", s.patchTicket)
	h("GET /service/tickets/{id}/notes", s.listNotes)
	h("POST /service/tickets/{id}/notes", s.createNote)
	h("GET /service/tickets/{id}/configurations", s.listTicketConfigs)
	h("POST /service/tickets/{id}/configurations", s.attachConfig)
	h("GET /service/boards", list(all(&s.boards)))
	h("GET /service/boards/{id}/statuses", s.listBoardStatuses)
	h("GET /service/boards/{id}/types", s.listBoardTypes)
	h("GET /service/priorities", list(all(&s.priorities)))

	h("GET /system/members", list(all(&s.members)))
	h("GET /system/audittrail", s.listAudit)
	h("GET /system/info", func(w http.ResponseWriter, r *http.Request) error {
		writeJSON(w, http.StatusOK, map[string]any{"version": "v2025.1.sandbox", "isCloud": true, "serverTimeZone": "UTC", "cloudRegion": "NA"})
		return nil
	})
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			r2 := r.Clone(r.Context())
			r2.Method = method
			if _, p := m.Handler(r2); p != "" && p != "/" {
				writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", fmt.Sprintf("%s is not supported on this resource", r.Method), nil)
				return
			}
		}
		writeError(w, http.StatusNotFound, "NotFound", "No resource at this path", nil)
	})
	s.mux = m
}

func splitFields(r *http.Request) []string {
	var out []string
	for _, f := range strings.Split(r.URL.Query().Get("fields"), ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// --- companies -------------------------------------------------------------

func (s *Server) createCompany(w http.ResponseWriter, r *http.Request) error {
	body, err := decodeBody(r)
	if err != nil {
		return err
	}
	v := &validator{resource: "company"}
	sp := companySpec{at: s.opt.Now(), by: memberOf(r), extra: map[string]string{}}
	sp.name = strings.TrimSpace(strOf(body["name"]))
	switch {
	case sp.name == "":
		v.add("NullObject", "name", "name is required")
	case len([]rune(sp.name)) > 50:
		v.add("InvalidField", "name", "name must be at most 50 characters")
	}
	sp.identifier = strings.TrimSpace(strOf(body["identifier"]))
	s.checkIdentifier(sp.identifier, 0, v)
	if st, ok := body["status"]; ok && st != nil {
		if sp.status, ok = findRef(s.companyStatuses, st, "name"); !ok {
			v.add("InvalidField", "status", "status does not exist")
		}
	} else {
		sp.status = defaultOf(s.companyStatuses.items)
	}
	if ts, ok := body["types"]; ok && ts != nil {
		sp.types = s.checkTypes(ts, v)
	}
	site := objOf(body["site"])
	if sp.siteName = strings.TrimSpace(strOf(site["name"])); sp.siteName == "" {
		v.add("NullObject", "site", "site is required")
	}
	if cf, ok := body["customFields"]; ok && cf != nil {
		sp.fields = checkCustomFields(s.companyFields, cf, v)
	}
	for _, k := range companyStrings {
		sp.extra[k] = strOf(body[k])
	}
	if err := v.err(); err != nil {
		return err
	}
	id := s.insertCompany(sp)
	rec, _ := s.companies.get(id)
	writeJSON(w, http.StatusCreated, rec)
	return nil
}

// checkIdentifier validates a company identifier (self is the company being
// changed, 0 on create).
func (s *Server) checkIdentifier(id string, self int, v *validator) {
	switch {
	case id == "":
		v.add("NullObject", "identifier", "identifier is required")
		return
	case len(id) > 25:
		v.add("InvalidField", "identifier", "identifier must be at most 25 characters")
		return
	}
	for _, co := range s.companies.items {
		if intOf(co["id"]) != self && strings.EqualFold(strOf(co["identifier"]), id) {
			v.add("ObjectExists", "identifier", "The identifier is already in use")
			return
		}
	}
}

func (s *Server) checkTypes(val any, v *validator) []map[string]any {
	arr, ok := val.([]any)
	if !ok {
		v.add("InvalidField", "types", "types must be an array")
		return nil
	}
	var out []map[string]any
	for _, t := range arr {
		rec, ok := findRef(s.companyTypes, t, "name")
		if !ok {
			v.add("InvalidField", "types", "company type does not exist")
			continue
		}
		out = append(out, rec)
	}
	return out
}

// patchRule applies one operation to a record under change.
type patchRule func(rec map[string]any, op patchOp, v *validator)

func stringRule(maxLen int, required bool) func(string) patchRule {
	return func(field string) patchRule {
		return func(rec map[string]any, op patchOp, v *validator) {
			val := ""
			if op.Op != "remove" && op.Value != nil {
				s, ok := op.Value.(string)
				if !ok {
					v.add("InvalidField", field, field+" must be a string")
					return
				}
				val = s
			}
			if required && strings.TrimSpace(val) == "" {
				v.add("NullObject", field, field+" is required")
				return
			}
			if maxLen > 0 && len([]rune(val)) > maxLen {
				v.add("InvalidField", field, fmt.Sprintf("%s must be at most %d characters", field, maxLen))
				return
			}
			rec[field] = val
		}
	}
}

func boolRule(field string) patchRule {
	return func(rec map[string]any, op patchOp, v *validator) {
		b, ok := op.Value.(bool)
		if !ok {
			v.add("InvalidField", field, field+" must be true or false")
			return
		}
		rec[field] = b
	}
}

// refRule resolves a reference in c; render picks the output keys.
func refRule(field string, c *collection, nameKey string, render func(map[string]any) map[string]any, required bool) patchRule {
	return func(rec map[string]any, op patchOp, v *validator) {
		if op.Op == "remove" || op.Value == nil {
			if required {
				v.add("NullObject", field, field+" is required")
				return
			}
			rec[field] = nil
			return
		}
		found, ok := findRef(c, op.Value, nameKey)
		if !ok {
			v.add("InvalidField", field, field+" does not exist")
			return
		}
		rec[field] = normalize(render(found))
	}
}

func customFieldsRule(defs []fieldDef) patchRule {
	return func(rec map[string]any, op patchOp, v *validator) {
		if vals := checkCustomFields(defs, op.Value, v); vals != nil {
			mergeCustomFields(rec, vals)
		}
	}
}

// applyPatch applies ops to a copy of rec under rules; nothing changes
// unless every operation is valid.
func applyPatch(rec map[string]any, ops []patchOp, rules map[string]patchRule, resource string) (map[string]any, error) {
	out := clone(rec)
	v := &validator{resource: resource}
	for _, op := range ops {
		rule, ok := rules[op.Path]
		if !ok {
			v.add("InvalidField", op.Path, op.Path+" cannot be updated")
			continue
		}
		rule(out, op, v)
	}
	return out, v.err()
}

func (s *Server) patchCompany(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id", "Company")
	if err != nil {
		return err
	}
	rec, ok := s.companies.get(id)
	if !ok {
		return errNotFound{"Company", strconv.Itoa(id)}
	}
	ops, err := decodePatch(r)
	if err != nil {
		return err
	}
	str := stringRule(0, false)
	rules := map[string]patchRule{
		"name": stringRule(50, true)("name"),
		"identifier": func(rec map[string]any, op patchOp, v *validator) {
			ident, _ := op.Value.(string)
			s.checkIdentifier(strings.TrimSpace(ident), id, v)
			rec["identifier"] = strings.TrimSpace(ident)
		},
		"status": refRule("status", s.companyStatuses, "name", namedRef, true),
		"types": func(rec map[string]any, op patchOp, v *validator) {
			var out []any
			for _, t := range s.checkTypes(op.Value, v) {
				out = append(out, normalize(namedRef(t)))
			}
			rec["types"] = out
		},
		"deletedFlag":  boolRule("deletedFlag"),
		"customFields": customFieldsRule(s.companyFields),
	}
	for _, k := range companyStrings {
		rules[k] = str(k)
	}
	out, err := applyPatch(rec, ops, rules, "company")
	if err != nil {
		return err
	}
	touch(out, s.opt.Now(), memberOf(r))
	s.companies.replace(id, out)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) company(r *http.Request) (int, map[string]any, error) {
	id, err := pathID(r, "id", "Company")
	if err != nil {
		return 0, nil, err
	}
	rec, ok := s.companies.get(id)
	if !ok {
		return 0, nil, errNotFound{"Company", strconv.Itoa(id)}
	}
	return id, rec, nil
}

func (s *Server) listSites(w http.ResponseWriter, r *http.Request) error {
	id, _, err := s.company(r)
	if err != nil {
		return err
	}
	s.writeList(w, r, s.sites.filter(func(site map[string]any) bool { return intOf(objOf(site["company"])["id"]) == id }))
	return nil
}

func (s *Server) getSite(w http.ResponseWriter, r *http.Request) error {
	id, _, err := s.company(r)
	if err != nil {
		return err
	}
	sid, err := pathID(r, "siteId", "Site")
	if err != nil {
		return err
	}
	site, ok := s.sites.get(sid)
	if !ok || intOf(objOf(site["company"])["id"]) != id {
		return errNotFound{"Site", strconv.Itoa(sid)}
	}
	writeJSON(w, http.StatusOK, site)
	return nil
}

func (s *Server) createSite(w http.ResponseWriter, r *http.Request) error {
	id, _, err := s.company(r)
	if err != nil {
		return err
	}
	body, err := decodeBody(r)
	if err != nil {
		return err
	}
	v := &validator{resource: "site"}
	name := strings.TrimSpace(strOf(body["name"]))
	if name == "" {
		v.add("NullObject", "name", "name is required")
	}
	for _, site := range s.sites.items {
		if intOf(objOf(site["company"])["id"]) == id && strings.EqualFold(strOf(site["name"]), name) && name != "" {
			v.add("ObjectExists", "name", "The company already has a site with this name")
		}
	}
	if err := v.err(); err != nil {
		return err
	}
	extra := map[string]string{}
	for _, k := range []string{"addressLine1", "addressLine2", "city", "zip", "phoneNumber"} {
		extra[k] = strOf(body[k])
	}
	sid := s.insertSite(id, name, false, extra, s.opt.Now(), memberOf(r))
	site, _ := s.sites.get(sid)
	writeJSON(w, http.StatusCreated, site)
	return nil
}

// --- configurations ----------------------------------------------------------

// configSpecFrom validates a configuration body (POST or PUT).
func (s *Server) configSpecFrom(body map[string]any, r *http.Request) (configSpec, error) {
	v := &validator{resource: "configuration"}
	sp := configSpec{at: s.opt.Now(), by: memberOf(r), strs: map[string]string{}, active: true}
	if sp.name = strings.TrimSpace(strOf(body["name"])); sp.name == "" {
		v.add("NullObject", "name", "name is required")
	} else if len([]rune(sp.name)) > 100 {
		v.add("InvalidField", "name", "name must be at most 100 characters")
	}
	var ok bool
	if body["type"] == nil {
		v.add("NullObject", "type", "type is required")
	} else if sp.typ, ok = findRef(s.configTypes, body["type"], "name"); !ok {
		v.add("InvalidField", "type", "configuration type does not exist")
	}
	if body["company"] == nil {
		v.add("NullObject", "company", "company is required")
	} else if sp.company, ok = findRef(s.companies, body["company"], "name"); !ok {
		v.add("InvalidField", "company", "company does not exist")
	}
	if body["site"] != nil {
		if sp.site, ok = findRef(s.sites, body["site"], "name"); !ok || (sp.company != nil && intOf(objOf(sp.site["company"])["id"]) != intOf(sp.company["id"])) {
			v.add("InvalidField", "site", "site does not belong to the company")
		}
	}
	if body["status"] != nil {
		if sp.status, ok = findRef(s.configStatuses, body["status"], "name"); !ok {
			v.add("InvalidField", "status", "configuration status does not exist")
		}
	} else {
		sp.status = defaultOf(s.configStatuses.items)
	}
	if body["manufacturer"] != nil {
		if sp.manufacturer, ok = findRef(s.manufacturers, body["manufacturer"], "name"); !ok {
			v.add("InvalidField", "manufacturer", "manufacturer does not exist")
		}
	}
	if a, ok := body["activeFlag"].(bool); ok {
		sp.active = a
	}
	sp.deviceIdentifier = strOf(body["deviceIdentifier"])
	sp.serial = strOf(body["serialNumber"])
	for _, k := range configStrings {
		if val, present := body[k]; present && val != nil {
			str, ok := val.(string)
			if !ok {
				v.add("InvalidField", k, k+" must be a string")
			}
			sp.strs[k] = str
		}
	}
	if cf, ok := body["customFields"]; ok && cf != nil {
		sp.fields = checkCustomFields(s.configFields, cf, v)
	}
	return sp, v.err()
}

func (s *Server) createConfig(w http.ResponseWriter, r *http.Request) error {
	body, err := decodeBody(r)
	if err != nil {
		return err
	}
	sp, err := s.configSpecFrom(body, r)
	if err != nil {
		return err
	}
	id := s.configs.add(s.configRecord(sp))
	rec, _ := s.configs.get(id)
	writeJSON(w, http.StatusCreated, rec)
	return nil
}

func (s *Server) config(r *http.Request) (int, map[string]any, error) {
	id, err := pathID(r, "id", "Configuration")
	if err != nil {
		return 0, nil, err
	}
	rec, ok := s.configs.get(id)
	if !ok {
		return 0, nil, errNotFound{"Configuration", strconv.Itoa(id)}
	}
	return id, rec, nil
}

func (s *Server) putConfig(w http.ResponseWriter, r *http.Request) error {
	id, old, err := s.config(r)
	if err != nil {
		return err
	}
	body, err := decodeBody(r)
	if err != nil {
		return err
	}
	sp, err := s.configSpecFrom(body, r)
	if err != nil {
		return err
	}
	rec := s.configRecord(sp)
	rec["_info"] = clone(objOf(old["_info"]))
	touch(rec, sp.at, sp.by)
	s.configs.replace(id, rec)
	writeJSON(w, http.StatusOK, rec)
	return nil
}

func (s *Server) patchConfig(w http.ResponseWriter, r *http.Request) error {
	id, rec, err := s.config(r)
	if err != nil {
		return err
	}
	ops, err := decodePatch(r)
	if err != nil {
		return err
	}
	rules := map[string]patchRule{
		"name":         stringRule(100, true)("name"),
		"type":         refRule("type", s.configTypes, "name", namedRef, true),
		"status":       refRule("status", s.configStatuses, "name", namedRef, true),
		"company":      refRule("company", s.companies, "name", companyRef, true),
		"site":         refRule("site", s.sites, "name", namedRef, false),
		"manufacturer": refRule("manufacturer", s.manufacturers, "name", namedRef, false),
		"activeFlag":   boolRule("activeFlag"),
		"customFields": customFieldsRule(s.configFields),
	}
	for _, k := range append([]string{"deviceIdentifier", "serialNumber"}, configStrings...) {
		rules[k] = stringRule(0, false)(k)
	}
	out, err := applyPatch(rec, ops, rules, "configuration")
	if err != nil {
		return err
	}
	if site := objOf(out["site"]); site != nil {
		full, _ := s.sites.get(intOf(site["id"]))
		if intOf(objOf(full["company"])["id"]) != intOf(objOf(out["company"])["id"]) {
			return invalid("configuration", "InvalidField", "site", "site does not belong to the company")
		}
	}
	touch(out, s.opt.Now(), memberOf(r))
	s.configs.replace(id, out)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// --- tickets ---------------------------------------------------------------

func (s *Server) statusesOf(boardID int) []map[string]any {
	return s.boardStatuses.filter(func(st map[string]any) bool { return intOf(objOf(st["board"])["id"]) == boardID })
}

func (s *Server) createTicket(w http.ResponseWriter, r *http.Request) error {
	body, err := decodeBody(r)
	if err != nil {
		return err
	}
	v := &validator{resource: "ticket"}
	sp := ticketSpec{at: s.opt.Now(), by: memberOf(r), severity: "Medium", impact: "Medium"}
	sp.summary = strings.TrimSpace(strOf(body["summary"]))
	switch {
	case sp.summary == "":
		v.add("NullObject", "summary", "summary is required")
	case len([]rune(sp.summary)) > 100:
		v.add("InvalidField", "summary", "summary must be at most 100 characters")
	}
	var ok bool
	if body["board"] == nil {
		v.add("NullObject", "board", "board is required")
	} else if sp.board, ok = findRef(s.boards, body["board"], "name"); !ok {
		v.add("InvalidField", "board", "board does not exist")
	}
	if body["company"] == nil {
		v.add("NullObject", "company", "company is required")
	} else if sp.company, ok = findRef(s.companies, body["company"], "name"); !ok {
		v.add("InvalidField", "company", "company does not exist")
	}
	if body["site"] != nil {
		if sp.site, ok = findRef(s.sites, body["site"], "name"); !ok || (sp.company != nil && intOf(objOf(sp.site["company"])["id"]) != intOf(sp.company["id"])) {
			v.add("InvalidField", "site", "site does not belong to the company")
		}
	}
	if sp.board != nil {
		statuses := &collection{items: s.statusesOf(intOf(sp.board["id"])), byID: map[int]map[string]any{}}
		for _, st := range statuses.items {
			statuses.byID[intOf(st["id"])] = st
		}
		if body["status"] != nil {
			if sp.status, ok = findRef(statuses, body["status"], "name"); !ok {
				v.add("InvalidField", "status", "status is not a status of the board")
			}
		} else {
			sp.status = defaultOf(statuses.items)
		}
		if body["type"] != nil {
			types := &collection{items: s.typesOf(intOf(sp.board["id"])), byID: map[int]map[string]any{}}
			for _, ty := range types.items {
				types.byID[intOf(ty["id"])] = ty
			}
			if sp.typ, ok = findRef(types, body["type"], "name"); !ok {
				v.add("InvalidField", "type", "type is not a type of the board")
			}
		}
	}
	if body["priority"] != nil {
		if sp.priority, ok = findRef(s.priorities, body["priority"], "name"); !ok {
			v.add("InvalidField", "priority", "priority does not exist")
		}
	} else {
		sp.priority = defaultOf(s.priorities.items)
	}
	sp.recordType = strOf(body["recordType"])
	switch sp.recordType {
	case "":
		sp.recordType = "ServiceTicket"
	case "ServiceTicket", "ProjectTicket", "ProjectIssue":
	default:
		v.add("InvalidField", "recordType", "recordType must be ServiceTicket, ProjectTicket or ProjectIssue")
	}
	for _, k := range []string{"severity", "impact"} {
		if val := strOf(body[k]); val != "" {
			if !slices.Contains([]string{"Low", "Medium", "High"}, val) {
				v.add("InvalidField", k, k+" must be Low, Medium or High")
			} else if k == "severity" {
				sp.severity = val
			} else {
				sp.impact = val
			}
		}
	}
	sp.description = strOf(body["initialDescription"])
	sp.externalXRef = strOf(body["externalXRef"])
	if err := v.err(); err != nil {
		return err
	}
	id := s.insertTicket(sp)
	rec, _ := s.tickets.get(id)
	writeJSON(w, http.StatusCreated, rec)
	return nil
}

func (s *Server) ticket(r *http.Request) (int, map[string]any, error) {
	id, err := pathID(r, "id", "Ticket")
	if err != nil {
		return 0, nil, err
	}
	rec, ok := s.tickets.get(id)
	if !ok {
		return 0, nil, errNotFound{"Ticket", strconv.Itoa(id)}
	}
	return id, rec, nil
}

func (s *Server) patchTicket(w http.ResponseWriter, r *http.Request) error {
	id, rec, err := s.ticket(r)
	if err != nil {
		return err
	}
	ops, err := decodePatch(r)
	if err != nil {
		return err
	}
	boardID := intOf(objOf(rec["board"])["id"])
	statuses := &collection{byID: map[int]map[string]any{}}
	for _, st := range s.statusesOf(boardID) {
		statuses.items = append(statuses.items, st)
		statuses.byID[intOf(st["id"])] = st
	}
	now, by := s.opt.Now(), memberOf(r)
	rules := map[string]patchRule{
		"summary":      stringRule(100, true)("summary"),
		"externalXRef": stringRule(0, false)("externalXRef"),
		"status": func(rec map[string]any, op patchOp, v *validator) {
			st, ok := findRef(statuses, op.Value, "name")
			if !ok {
				v.add("InvalidField", "status", "status is not a status of the board")
				return
			}
			rec["status"] = normalize(namedRef(st))
			closed := boolOf(st["closedStatus"])
			rec["closedFlag"] = closed
			if closed {
				rec["closedDate"], rec["closedBy"] = ts(now), by
			} else {
				rec["closedDate"], rec["closedBy"] = nil, nil
			}
		},
		"priority": refRule("priority", s.priorities, "name", namedRef, true),
		"owner":    refRule("owner", s.members, "identifier", memberRef, false),
		"severity": stringRule(0, false)("severity"),
		"impact":   stringRule(0, false)("impact"),
		"site": func(rec map[string]any, op patchOp, v *validator) {
			site, ok := findRef(s.sites, op.Value, "name")
			if op.Value != nil && (!ok || intOf(objOf(site["company"])["id"]) != intOf(objOf(rec["company"])["id"])) {
				v.add("InvalidField", "site", "site does not belong to the company")
				return
			}
			rec["site"] = normalize(namedRef(site))
		},
	}
	out, err := applyPatch(rec, ops, rules, "ticket")
	if err != nil {
		return err
	}
	if before, after := strOf(objOf(rec["status"])["name"]), strOf(objOf(out["status"])["name"]); before != after {
		s.addAudit(id, fmt.Sprintf("Status changed from %q to %q", before, after), "Status", now, by)
	}
	for _, k := range []string{"summary", "priority", "owner", "site"} {
		if fmt.Sprint(rec[k]) != fmt.Sprint(out[k]) {
			s.addAudit(id, k+" changed", "Ticket", now, by)
		}
	}
	touch(out, now, by)
	s.tickets.replace(id, out)
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listNotes(w http.ResponseWriter, r *http.Request) error {
	id, _, err := s.ticket(r)
	if err != nil {
		return err
	}
	s.writeList(w, r, s.notes.filter(func(n map[string]any) bool { return intOf(n["ticketId"]) == id }))
	return nil
}

func (s *Server) createNote(w http.ResponseWriter, r *http.Request) error {
	id, _, err := s.ticket(r)
	if err != nil {
		return err
	}
	body, err := decodeBody(r)
	if err != nil {
		return err
	}
	v := &validator{resource: "serviceNote"}
	text := strOf(body["text"])
	if strings.TrimSpace(text) == "" {
		v.add("NullObject", "text", "text is required")
	}
	f := noteFlags{detail: boolOf(body["detailDescriptionFlag"]), internal: boolOf(body["internalAnalysisFlag"]), resolution: boolOf(body["resolutionFlag"])}
	if !f.detail && !f.internal && !f.resolution {
		v.add("InvalidField", "detailDescriptionFlag", "one of detailDescriptionFlag, internalAnalysisFlag or resolutionFlag must be true")
	}
	if err := v.err(); err != nil {
		return err
	}
	nid := s.insertNote(id, text, f, memberOf(r), s.opt.Now(), true)
	note, _ := s.notes.get(nid)
	writeJSON(w, http.StatusCreated, note)
	return nil
}

func configRef(rec map[string]any) map[string]any {
	return normalize(map[string]any{"id": rec["id"], "deviceIdentifier": rec["deviceIdentifier"], "name": rec["name"], "_info": rec["_info"]})
}

func (s *Server) listTicketConfigs(w http.ResponseWriter, r *http.Request) error {
	id, _, err := s.ticket(r)
	if err != nil {
		return err
	}
	var items []map[string]any
	for _, cid := range s.ticketConfigs[id] {
		if rec, ok := s.configs.get(cid); ok {
			items = append(items, configRef(rec))
		}
	}
	s.writeList(w, r, items)
	return nil
}

func (s *Server) attachConfig(w http.ResponseWriter, r *http.Request) error {
	id, _, err := s.ticket(r)
	if err != nil {
		return err
	}
	body, err := decodeBody(r)
	if err != nil {
		return err
	}
	cid := intOf(body["id"])
	rec, ok := s.configs.get(cid)
	if !ok {
		return invalid("configurationReference", "InvalidField", "id", "configuration does not exist")
	}
	if slices.Contains(s.ticketConfigs[id], cid) {
		return invalid("configurationReference", "ObjectExists", "id", "The configuration is already attached to the ticket")
	}
	s.ticketConfigs[id] = append(s.ticketConfigs[id], cid)
	s.addAudit(id, fmt.Sprintf("Configuration %q attached", strOf(rec["name"])), "Configurations", s.opt.Now(), memberOf(r))
	writeJSON(w, http.StatusCreated, configRef(rec))
	return nil
}

func (s *Server) listBoardStatuses(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id", "Board")
	if err != nil {
		return err
	}
	if _, ok := s.boards.get(id); !ok {
		return errNotFound{"Board", strconv.Itoa(id)}
	}
	s.writeList(w, r, s.statusesOf(id))
	return nil
}

func (s *Server) typesOf(boardID int) []map[string]any {
	return s.boardTypes.filter(func(t map[string]any) bool { return intOf(objOf(t["board"])["id"]) == boardID })
}

func (s *Server) listBoardTypes(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id", "Board")
	if err != nil {
		return err
	}
	if _, ok := s.boards.get(id); !ok {
		return errNotFound{"Board", strconv.Itoa(id)}
	}
	s.writeList(w, r, s.typesOf(id))
	return nil
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	typ, idText := q.Get("type"), q.Get("id")
	if !slices.Contains([]string{"Ticket", "ProductCatalog", "Configuration", "PurchaseOrder", "Expense"}, typ) {
		return invalid("auditTrail", "InvalidField", "type", "type must be Ticket, ProductCatalog, Configuration, PurchaseOrder or Expense")
	}
	id, err := strconv.Atoi(idText)
	if err != nil || id <= 0 {
		return invalid("auditTrail", "NullObject", "id", "id is required")
	}
	var items []map[string]any
	if typ == "Ticket" {
		items = s.audit[id]
	}
	// Audit entries have no id: numbered pages only.
	s.writeListMode(w, r, items, false)
	return nil
}
