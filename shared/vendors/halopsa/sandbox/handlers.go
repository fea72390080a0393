package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// route serves /api/{entity}[/{rest}] for an authenticated agent.
func (s *Server) route(w http.ResponseWriter, r *http.Request, agent int, entity string, rest []string) {
	q := r.URL.Query()
	get, post := r.Method == http.MethodGet, r.Method == http.MethodPost
	one := len(rest) == 1
	var id int
	if one {
		n, err := strconv.Atoi(rest[0])
		if err != nil && !(entity == "agent" && rest[0] == "me") {
			writeText(w, http.StatusNotFound, "Not found")
			return
		}
		id = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := &s.data
	switch {
	case entity == "toplevel" && get && len(rest) == 0:
		writeJSON(w, http.StatusOK, lookup(topLevels))
	case entity == "assettype" && get && len(rest) == 0:
		writeJSON(w, http.StatusOK, lookup(assetTypes))
	case entity == "status" && get && len(rest) == 0:
		out := lookup(statuses)
		for _, m := range out {
			// type 1 open, 2 closed (§6 [U]; the client never relies on it).
			m["type"] = map[bool]int{true: 2, false: 1}[m["id"] == ClosedStatusID]
		}
		writeJSON(w, http.StatusOK, out)
	case entity == "tickettype" && get && len(rest) == 0:
		writeJSON(w, http.StatusOK, lookup(ticketTypes))
	case entity == "priority" && get && len(rest) == 0:
		out := lookup(priorities)
		for _, m := range out {
			m["priorityid"] = m["id"]
		}
		writeJSON(w, http.StatusOK, out)
	case entity == "team" && get && len(rest) == 0:
		writeJSON(w, http.StatusOK, lookup(teams))
	case entity == "fieldinfo" && get && one:
		// A custom field definition (the HaloAPI module's
		// Get-HaloCustomField, §6 [P]; the body's shape beyond id and name
		// is [U]: type 0 is given as text, the client does not rely on it).
		for _, f := range customFields {
			if f.ID == id {
				writeJSON(w, http.StatusOK, map[string]any{"id": f.ID, "name": f.Name, "label": f.Name, "type": 0})
				return
			}
		}
		writeText(w, http.StatusNotFound, fmt.Sprintf("Field %d not found", id))

	case entity == "client" && get && len(rest) == 0:
		var recs []map[string]any
		search := strings.ToLower(q.Get("search"))
		tl, _ := strconv.Atoi(q.Get("toplevel_id"))
		for _, c := range d.clients {
			if !activeFilter(q, c.Inactive) || (tl != 0 && c.TopLevelID != tl) || (search != "" && !strings.Contains(strings.ToLower(c.Name), search)) {
				continue
			}
			recs = append(recs, clientJSON(c))
		}
		s.writePage(w, q, "clients", recs)
	case entity == "client" && get && one:
		c, ok := d.client(id)
		if !ok {
			writeText(w, http.StatusNotFound, fmt.Sprintf("Client %d not found", id))
			return
		}
		writeJSON(w, http.StatusOK, clientJSON(c))
	case entity == "client" && post && len(rest) == 0:
		s.post(w, r, func(m map[string]any) (any, error) { return s.saveClient(m) })

	case entity == "site" && get && len(rest) == 0:
		cid, _ := strconv.Atoi(q.Get("client_id"))
		var recs []map[string]any
		for _, st := range d.sites {
			if cid == 0 || st.ClientID == cid {
				recs = append(recs, s.siteJSON(st))
			}
		}
		s.writePage(w, q, "sites", recs)
	case entity == "site" && get && one:
		st, ok := d.site(id)
		if !ok {
			writeText(w, http.StatusNotFound, fmt.Sprintf("Site %d not found", id))
			return
		}
		writeJSON(w, http.StatusOK, s.siteJSON(st))
	case entity == "site" && post && len(rest) == 0:
		s.post(w, r, func(m map[string]any) (any, error) { return s.saveSite(m) })

	case entity == "asset" && get && len(rest) == 0:
		cid, _ := strconv.Atoi(q.Get("client_id"))
		typ, _ := strconv.Atoi(q.Get("assettype_id"))
		search := strings.ToLower(q.Get("search"))
		var recs []map[string]any
		for _, a := range d.assets {
			if !activeFilter(q, a.Inactive) || (cid != 0 && a.ClientID != cid) || (typ != 0 && a.TypeID != typ) {
				continue
			}
			if search != "" && !assetMatches(a, search) {
				continue
			}
			recs = append(recs, s.assetJSON(a))
		}
		s.writePage(w, q, "assets", recs)
	case entity == "asset" && get && one:
		a, ok := d.asset(id)
		if !ok {
			writeText(w, http.StatusNotFound, fmt.Sprintf("Asset %d not found", id))
			return
		}
		writeJSON(w, http.StatusOK, s.assetJSON(a))
	case entity == "asset" && post && len(rest) == 0:
		s.post(w, r, func(m map[string]any) (any, error) { return s.saveAsset(m) })

	case entity == "tickets" && get && len(rest) == 0:
		cid, _ := strconv.Atoi(q.Get("client_id"))
		search := strings.ToLower(q.Get("search"))
		var recs []map[string]any
		for _, t := range d.tickets {
			if cid != 0 && t.ClientID != cid {
				continue
			}
			// search covers the summary, the id and custom field values
			// (§6 [U]; the client verifies the exact value it looks for).
			if search != "" && !strings.Contains(strings.ToLower(t.Summary), search) && strconv.Itoa(t.ID) != search && !strings.Contains(strings.ToLower(t.Ref), search) {
				continue
			}
			recs = append(recs, s.ticketJSON(t))
		}
		s.writePage(w, q, "tickets", recs)
	case entity == "tickets" && get && one:
		t, ok := d.ticket(id)
		if !ok {
			writeText(w, http.StatusNotFound, fmt.Sprintf("Ticket %d not found", id))
			return
		}
		writeJSON(w, http.StatusOK, s.ticketJSON(t))
	case entity == "tickets" && post && len(rest) == 0:
		s.post(w, r, func(m map[string]any) (any, error) { return s.saveTicket(m, agent) })

	case entity == "actions" && get && len(rest) == 0:
		tid, _ := strconv.Atoi(q.Get("ticket_id"))
		t, ok := d.ticket(tid)
		if !ok {
			writeText(w, http.StatusNotFound, fmt.Sprintf("Ticket %d not found", tid))
			return
		}
		var recs []map[string]any
		for _, a := range t.Actions {
			recs = append(recs, s.actionJSON(t.ID, a))
		}
		s.writePage(w, q, "actions", recs)
	case entity == "actions" && post && len(rest) == 0:
		s.post(w, r, func(m map[string]any) (any, error) { return s.saveAction(m, agent) })

	case entity == "agent" && get && len(rest) == 0:
		out := []map[string]any{}
		for _, a := range d.agents {
			if a.Inactive && q.Get("includeinactive") != "true" {
				continue
			}
			out = append(out, agentJSON(a))
		}
		writeJSON(w, http.StatusOK, out)
	case entity == "agent" && get && one:
		if rest[0] == "me" {
			id = agent
		}
		a, ok := d.agent(id)
		if !ok {
			writeText(w, http.StatusNotFound, fmt.Sprintf("Agent %d not found", id))
			return
		}
		writeJSON(w, http.StatusOK, agentJSON(a))
	default:
		writeText(w, http.StatusNotFound, "No HTTP resource was found that matches the request URI")
	}
}

// activeFilter applies includeinactive / includeactive: inactive records
// only when includeinactive=true, active ones unless includeactive=false.
func activeFilter(q url.Values, inactive bool) bool {
	if inactive {
		return q.Get("includeinactive") == "true"
	}
	return q.Get("includeactive") != "false"
}

// assetMatches is the asset search: the asset tag, the key (serial)
// field and third_party_id_string, as substrings (§6 [U]).
func assetMatches(a *Asset, search string) bool {
	for _, v := range []string{a.Tag, a.Fields[SerialFieldID], a.ThirdPartyID} {
		if v != "" && strings.Contains(strings.ToLower(v), search) {
			return true
		}
	}
	return false
}

func lookup(list []named) []map[string]any {
	out := make([]map[string]any, len(list))
	for i, n := range list {
		out[i] = map[string]any{"id": n.ID, "name": n.Name}
	}
	return out
}

// writePage answers a list: paged with pageinate=true, else the first
// UnpagedLimit records; Options.SlimLists leaves out fields,
// customfields and third_party_id_string.
func (s *Server) writePage(w http.ResponseWriter, q url.Values, key string, recs []map[string]any) {
	if recs == nil {
		recs = []map[string]any{}
	}
	if s.opt.SlimLists && key != "actions" {
		for _, r := range recs {
			delete(r, "fields")
			delete(r, "customfields")
			delete(r, "third_party_id_string")
		}
	}
	total := len(recs)
	if q.Get("pageinate") == "true" {
		size, err1 := strconv.Atoi(q.Get("page_size"))
		no, err2 := strconv.Atoi(q.Get("page_no"))
		if err1 != nil || err2 != nil || size <= 0 || no <= 0 {
			writeText(w, http.StatusBadRequest, "page_size and page_no must be positive integers")
			return
		}
		size = min(size, MaxPageSize)
		lo := min((no-1)*size, total)
		recs = recs[lo:min(lo+size, total)]
	} else if len(recs) > UnpagedLimit {
		recs = recs[:UnpagedLimit]
	}
	writeJSON(w, http.StatusOK, map[string]any{"record_count": total, key: recs})
}

// post decodes the array body, saves each object and answers the saved
// object (one posted) or the array.
func (s *Server) post(w http.ResponseWriter, r *http.Request, save func(map[string]any) (any, error)) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeText(w, http.StatusBadRequest, "The request body could not be read")
		return
	}
	var items []map[string]any
	if err := json.Unmarshal(raw, &items); err != nil {
		writeText(w, http.StatusBadRequest, "The request body must be a JSON array of objects")
		return
	}
	if len(items) == 0 {
		writeText(w, http.StatusBadRequest, "Nothing to save")
		return
	}
	var out []any
	for _, m := range items {
		rec, err := save(m)
		if err != nil {
			var nf notFound
			if errorsAs(err, &nf) {
				writeText(w, http.StatusNotFound, err.Error())
				return
			}
			writeText(w, http.StatusBadRequest, err.Error())
			return
		}
		out = append(out, rec)
	}
	if len(out) == 1 {
		writeJSON(w, http.StatusCreated, out[0])
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

type notFound string

func (n notFound) Error() string { return string(n) }

func errorsAs(err error, nf *notFound) bool {
	v, ok := err.(notFound)
	if ok {
		*nf = v
	}
	return ok
}

// Accessors of decoded JSON.

func str(m map[string]any, k string) (string, bool) {
	v, ok := m[k]
	if !ok || v == nil {
		return "", ok
	}
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return fmt.Sprint(v), true
}

func num(m map[string]any, k string) (int, bool) {
	v, ok := m[k]
	if !ok || v == nil {
		return 0, false
	}
	switch x := v.(type) {
	case float64:
		return int(x), true
	case string:
		n, err := strconv.Atoi(x)
		return n, err == nil
	}
	return 0, false
}

func flag(m map[string]any, k string) (bool, bool) {
	v, ok := m[k].(bool)
	return v, ok
}

// customValue returns the value of custom field id in m["customfields"].
func customValue(m map[string]any, id int) (string, bool) {
	list, _ := m["customfields"].([]any)
	for _, x := range list {
		f, _ := x.(map[string]any)
		if n, _ := num(f, "id"); n == id {
			v, _ := str(f, "value")
			return v, true
		}
	}
	return "", false
}

// Wire shapes.

func clientJSON(c *Client) map[string]any {
	tl, _ := nameOf(topLevels, c.TopLevelID)
	return map[string]any{
		"id": c.ID, "name": c.Name, "toplevel_id": c.TopLevelID, "toplevel_name": tl, "inactive": c.Inactive,
		"datecreated": c.DateCreated.Format("2006-01-02T15:04:05.000Z"), "colour": "", "notes": "",
		"customfields": []map[string]any{{"id": ClientRefFieldID, "name": ClientRefFieldName, "type": 0, "value": c.Ref}},
	}
}

func (s *Server) siteJSON(st *Site) map[string]any {
	cn := ""
	if c, ok := s.data.client(st.ClientID); ok {
		cn = c.Name
	}
	return map[string]any{"id": st.ID, "name": st.Name, "client_id": st.ClientID, "client_name": cn, "clientsite_name": cn + "/" + st.Name, "inactive": false}
}

func (s *Server) assetJSON(a *Asset) map[string]any {
	cn, sn := "", ""
	if c, ok := s.data.client(a.ClientID); ok {
		cn = c.Name
	}
	if st, ok := s.data.site(a.SiteID); ok {
		sn = st.Name
	}
	tn, _ := nameOf(assetTypes, a.TypeID)
	fields := []map[string]any{}
	for _, f := range assetFields {
		fields = append(fields, map[string]any{"id": f.ID, "name": f.Name, "value": a.Fields[f.ID], "display": a.Fields[f.ID]})
	}
	return map[string]any{
		"id": a.ID, "inventory_number": a.Tag, "key_field": a.Fields[SerialFieldID], "client_id": a.ClientID, "client_name": cn,
		"site_id": a.SiteID, "site_name": sn, "assettype_id": a.TypeID, "assettype_name": tn, "inactive": a.Inactive,
		"third_party_id_string": a.ThirdPartyID, "fields": fields, "customfields": []any{},
	}
}

func (s *Server) ticketJSON(t *Ticket) map[string]any {
	assets := []map[string]any{}
	for _, id := range t.AssetIDs {
		tag := ""
		if a, ok := s.data.asset(id); ok {
			tag = a.Tag
		}
		assets = append(assets, map[string]any{"id": id, "inventory_number": tag})
	}
	cn := ""
	if c, ok := s.data.client(t.ClientID); ok {
		cn = c.Name
	}
	return map[string]any{
		"id": t.ID, "summary": t.Summary, "details": t.Details, "client_id": t.ClientID, "client_name": cn, "site_id": t.SiteID,
		"tickettype_id": t.TypeID, "status_id": t.StatusID, "priority_id": t.PriorityID, "team": t.Team, "agent_id": t.AgentID,
		"assets": assets, "hasbeenclosed": t.StatusID == ClosedStatusID, "datecreated": t.DateCreated.Format("2006-01-02T15:04:05.000Z"),
		"customfields": []map[string]any{{"id": TicketRefFieldID, "name": TicketRefFieldName, "value": t.Ref}},
	}
}

func (s *Server) actionJSON(ticketID int, a Action) map[string]any {
	who := ""
	if ag, ok := s.data.agent(a.AgentID); ok {
		who = ag.Name()
	}
	return map[string]any{
		"id": a.ID, "ticket_id": ticketID, "outcome": a.Outcome, "note": a.Note, "who": who, "who_agentid": a.AgentID,
		"hiddenfromuser": a.Hidden, "new_status": a.NewStatus, "datetime": a.At.Format("2006-01-02T15:04:05.000Z"),
	}
}

func agentJSON(a *Agent) map[string]any {
	return map[string]any{
		"id": a.ID, "name": a.Name(), "firstname": a.First, "surname": a.Last, "email": a.Email, "inactive": a.Inactive,
		"is_api_only": a.APIOnly, "roles": []map[string]any{{"name": a.Role}},
	}
}

// Saves. Each runs with s.mu held.

func (s *Server) saveClient(m map[string]any) (any, error) {
	d := &s.data
	var c *Client
	if id, ok := num(m, "id"); ok && id != 0 {
		found, ok := d.client(id)
		if !ok {
			return nil, notFound(fmt.Sprintf("Client %d not found", id))
		}
		c = found
	} else {
		c = &Client{TopLevelID: 1, DateCreated: s.opt.Now().UTC()}
	}
	if name, ok := str(m, "name"); ok {
		c.Name = strings.TrimSpace(name)
	}
	if c.Name == "" {
		return nil, fmt.Errorf("Please enter a name for the client")
	}
	if tl, ok := num(m, "toplevel_id"); ok && tl != 0 {
		if _, known := nameOf(topLevels, tl); !known {
			return nil, fmt.Errorf("Top level %d does not exist", tl)
		}
		c.TopLevelID = tl
	}
	if in, ok := flag(m, "inactive"); ok {
		c.Inactive = in
	}
	if v, ok := customValue(m, ClientRefFieldID); ok {
		c.Ref = v
	}
	if c.ID == 0 {
		c.ID = d.next("client", 0)
		d.clients = append(d.clients, c)
		d.sites = append(d.sites, &Site{ID: d.next("site", 1000), ClientID: c.ID, Name: "Main"})
	}
	return clientJSON(c), nil
}

func (s *Server) saveSite(m map[string]any) (any, error) {
	d := &s.data
	name, _ := str(m, "name")
	name = strings.TrimSpace(name)
	cid, _ := num(m, "client_id")
	if _, ok := d.client(cid); !ok {
		return nil, notFound(fmt.Sprintf("Client %d not found", cid))
	}
	if name == "" {
		return nil, fmt.Errorf("Please enter a name for the site")
	}
	st := &Site{ID: d.next("site", 1000), ClientID: cid, Name: name}
	d.sites = append(d.sites, st)
	return s.siteJSON(st), nil
}

func (s *Server) saveAsset(m map[string]any) (any, error) {
	d := &s.data
	var a *Asset
	if id, ok := num(m, "id"); ok && id != 0 {
		found, ok := d.asset(id)
		if !ok {
			return nil, notFound(fmt.Sprintf("Asset %d not found", id))
		}
		a = found
	} else {
		a = &Asset{Fields: map[int]string{}}
	}
	if v, ok := num(m, "client_id"); ok {
		if _, known := d.client(v); !known {
			return nil, fmt.Errorf("Client %d does not exist", v)
		}
		a.ClientID = v
	}
	if a.ClientID == 0 {
		return nil, fmt.Errorf("Please select a client")
	}
	if v, ok := num(m, "site_id"); ok && v != 0 {
		st, known := d.site(v)
		if !known || st.ClientID != a.ClientID {
			return nil, fmt.Errorf("Site %d does not belong to client %d", v, a.ClientID)
		}
		a.SiteID = v
	}
	if a.SiteID == 0 {
		a.SiteID = d.mainSite(a.ClientID)
	}
	if v, ok := num(m, "assettype_id"); ok {
		if _, known := nameOf(assetTypes, v); !known {
			return nil, fmt.Errorf("Asset type %d does not exist", v)
		}
		a.TypeID = v
	}
	if a.TypeID == 0 {
		return nil, fmt.Errorf("Please select an asset type")
	}
	if v, ok := str(m, "inventory_number"); ok {
		a.Tag = v
	}
	if v, ok := str(m, "third_party_id_string"); ok {
		a.ThirdPartyID = v
	}
	if v, ok := flag(m, "inactive"); ok {
		a.Inactive = v
	}
	fields, _ := m["fields"].([]any)
	for _, x := range fields {
		f, _ := x.(map[string]any)
		id, _ := num(f, "id")
		if _, known := nameOf(assetFields, id); !known {
			return nil, fmt.Errorf("Field %d does not exist on asset type %d", id, a.TypeID)
		}
		v, _ := str(f, "value")
		if v == "" {
			delete(a.Fields, id)
		} else {
			a.Fields[id] = v
		}
	}
	if a.ID == 0 {
		a.ID = d.next("asset", 0)
		d.assets = append(d.assets, a)
	}
	return s.assetJSON(a), nil
}

func (s *Server) saveTicket(m map[string]any, agent int) (any, error) {
	d := &s.data
	now := s.opt.Now().UTC()
	if id, ok := num(m, "id"); ok && id != 0 {
		t, found := d.ticket(id)
		if !found {
			return nil, notFound(fmt.Sprintf("Ticket %d not found", id))
		}
		if st, ok := num(m, "status_id"); ok && st != t.StatusID {
			if _, known := nameOf(statuses, st); !known {
				return nil, fmt.Errorf("Status %d does not exist", st)
			}
			t.StatusID = st
			t.Actions = append(t.Actions, Action{ID: len(t.Actions) + 1, Outcome: "Status Change", AgentID: agent, NewStatus: st, At: now, Hidden: true})
		}
		if v, ok := str(m, "summary"); ok && v != "" {
			t.Summary = v
		}
		return s.ticketJSON(t), nil
	}
	t := &Ticket{AgentID: agent, StatusID: NewStatusID, TypeID: IncidentTypeID, PriorityID: 3, DateCreated: now}
	t.Summary, _ = str(m, "summary")
	t.Details, _ = str(m, "details")
	if strings.TrimSpace(t.Summary) == "" {
		return nil, fmt.Errorf("Please enter a summary")
	}
	if len([]rune(t.Summary)) > MaxSummaryLen {
		return nil, fmt.Errorf("The summary must be at most %d characters", MaxSummaryLen)
	}
	t.ClientID, _ = num(m, "client_id")
	if _, ok := d.client(t.ClientID); !ok {
		return nil, fmt.Errorf("Please select a client")
	}
	if v, ok := num(m, "site_id"); ok && v != 0 {
		st, known := d.site(v)
		if !known || st.ClientID != t.ClientID {
			return nil, fmt.Errorf("Site %d does not belong to client %d", v, t.ClientID)
		}
		t.SiteID = v
	} else {
		t.SiteID = d.mainSite(t.ClientID)
	}
	for _, c := range []struct {
		key  string
		list []named
		dst  *int
	}{{"tickettype_id", ticketTypes, &t.TypeID}, {"status_id", statuses, &t.StatusID}, {"priority_id", priorities, &t.PriorityID}} {
		if v, ok := num(m, c.key); ok && v != 0 {
			if _, known := nameOf(c.list, v); !known {
				return nil, fmt.Errorf("%s %d does not exist", c.key, v)
			}
			*c.dst = v
		}
	}
	if v, ok := str(m, "team"); ok && v != "" {
		id, known := idOf(teams, v)
		if !known {
			return nil, fmt.Errorf("Team %q does not exist", v)
		}
		t.Team, _ = nameOf(teams, id)
	}
	assets, _ := m["assets"].([]any)
	for _, x := range assets {
		a, _ := x.(map[string]any)
		id, _ := num(a, "id")
		rec, ok := d.asset(id)
		if !ok || rec.ClientID != t.ClientID {
			return nil, fmt.Errorf("Asset %d does not belong to client %d", id, t.ClientID)
		}
		t.AssetIDs = append(t.AssetIDs, id)
	}
	if v, ok := customValue(m, TicketRefFieldID); ok {
		t.Ref = v
	}
	t.ID = d.next("ticket", 0)
	t.Actions = []Action{{ID: 1, Outcome: "Logged", Note: t.Details, AgentID: agent, At: now}}
	d.tickets = append(d.tickets, t)
	return s.ticketJSON(t), nil
}

func (s *Server) saveAction(m map[string]any, agent int) (any, error) {
	tid, _ := num(m, "ticket_id")
	t, ok := s.data.ticket(tid)
	if !ok {
		return nil, notFound(fmt.Sprintf("Ticket %d not found", tid))
	}
	a := Action{ID: len(t.Actions) + 1, AgentID: agent, At: s.opt.Now().UTC()}
	a.Outcome, _ = str(m, "outcome")
	a.Note, _ = str(m, "note")
	a.Hidden, _ = flag(m, "hiddenfromuser")
	if strings.TrimSpace(a.Note) == "" && strings.TrimSpace(a.Outcome) == "" {
		return nil, fmt.Errorf("Please enter a note")
	}
	if st, ok := num(m, "new_status"); ok && st != 0 {
		if _, known := nameOf(statuses, st); !known {
			return nil, fmt.Errorf("Status %d does not exist", st)
		}
		a.NewStatus, t.StatusID = st, st
	}
	t.Actions = append(t.Actions, a)
	return s.actionJSON(t.ID, a), nil
}
