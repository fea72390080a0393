package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// --- rendering (callers hold s.mu) ----------------------------------------

func (s *Server) findClient(id int) *Client {
	for _, c := range s.clients {
		if c.ID == id {
			return c
		}
	}
	return nil
}

func (s *Server) findSite(id int) *Site {
	for _, x := range s.sites {
		if x.ID == id {
			return x
		}
	}
	return nil
}

func (s *Server) findAgent(agentID string) *Agent {
	for _, a := range s.agents {
		if a.AgentID == agentID {
			return a
		}
	}
	return nil
}

func (s *Server) agentCount(match func(a *Agent) bool) int {
	n := 0
	for _, a := range s.agents {
		if match(a) {
			n++
		}
	}
	return n
}

func nullableID(id int) any {
	if id == 0 {
		return nil
	}
	return id
}

func (s *Server) siteJSON(x *Site) map[string]any {
	c := s.findClient(x.Client)
	return map[string]any{"id": x.ID, "name": x.Name, "client": x.Client, "client_name": c.Name,
		"server_policy": nil, "workstation_policy": nil, "alert_template": nil, "custom_fields": []any{},
		"agent_count": s.agentCount(func(a *Agent) bool { return a.Site == x.ID }), "block_policy_inheritance": false,
		"maintenance_mode": false, "failing_checks": map[string]bool{"error": false, "warning": false}}
}

func (s *Server) clientJSON(c *Client) map[string]any {
	sites := []any{}
	for _, x := range s.sites {
		if x.Client == c.ID {
			sites = append(sites, s.siteJSON(x))
		}
	}
	return map[string]any{"id": c.ID, "name": c.Name, "server_policy": nil, "workstation_policy": nil,
		"alert_template": nullableID(c.AlertTemplate), "block_policy_inheritance": false, "sites": sites, "custom_fields": []any{},
		"agent_count":      s.agentCount(func(a *Agent) bool { return s.findSite(a.Site).Client == c.ID }),
		"maintenance_mode": false, "failing_checks": map[string]bool{"error": false, "warning": false}}
}

func (a *Agent) status() string {
	if a.Offline {
		return "offline"
	}
	return "online"
}

func (a *Agent) disksJSON() []any {
	out := []any{}
	for _, d := range a.Disks {
		out = append(out, diskJSON(d))
	}
	return out
}

// modelJSON is the agent's model fields (the beta API's
// ListAgentSerializer, fields "__all__": ids, no computed fields).
func (s *Server) modelJSON(a *Agent) map[string]any {
	return map[string]any{"id": a.PK, "agent_id": a.AgentID, "hostname": a.Hostname, "site": a.Site,
		"monitoring_type": a.MonitoringType, "plat": a.Plat, "goarch": a.Goarch, "description": a.Description,
		"operating_system": a.OperatingSystem, "version": a.Version, "last_seen": isoTime(a.LastSeen), "boot_time": a.BootTime,
		"logged_in_username": a.LoggedInUsername, "last_logged_in_user": a.LastLoggedInUser, "public_ip": a.PublicIP,
		"total_ram": a.TotalRAM, "disks": a.disksJSON(), "wmi_detail": wmiDetail(a), "time_zone": nil,
		"maintenance_mode": a.MaintenanceMode, "needs_reboot": a.NeedsReboot, "services": []any{},
		"block_policy_inheritance": false, "alert_template": nil, "policy": nil, "mesh_node_id": "",
		"overdue_time": 30, "offline_time": a.offlineTime(time.Now()), "check_interval": 120}
}

// offlineTime is the agent's offline_time (minutes) consistent with its
// status knob: Tactical computes status from last_seen and offline_time,
// so an agent the sandbox keeps online with an old last_seen has a long
// offline time, and an offline one that checked in just now a zero one.
func (a *Agent) offlineTime(now time.Time) int {
	since := now.Sub(a.LastSeen)
	switch {
	case a.Offline && since <= 4*time.Minute:
		return 0
	case !a.Offline && since > 4*time.Minute:
		return int(since/time.Minute) + 60*24
	}
	return 4
}

// detailJSON is GET /agents/{agent_id}/ (AgentSerializer: every model
// field but id, plus computed ones; client is the client's name).
func (s *Server) detailJSON(a *Agent) map[string]any {
	m := s.modelJSON(a)
	delete(m, "id")
	site := s.findSite(a.Site)
	m["client"] = s.findClient(site.Client).Name
	m["site_name"] = site.Name
	m["status"] = a.status()
	m["local_ips"] = strings.Join(a.LocalIPs, ", ")
	m["make_model"] = strings.TrimSpace(a.Manufacturer + " " + a.Model)
	m["cpu_model"] = []string{"Intel(R) Core(TM) i7-1185G7 @ 3.00GHz"}
	m["physical_disks"] = []string{}
	m["graphics"] = "Intel(R) Iris(R) Xe Graphics"
	m["checks"] = map[string]any{"total": 2, "passing": 2, "failing": 0, "warning": 0, "info": 0, "has_failing_checks": false}
	m["custom_fields"] = []any{}
	m["applied_policies"] = map[string]any{}
	m["winupdatepolicy"] = []any{}
	return m
}

// tableJSON is a GET /agents/ row (AgentTableSerializer: names, not ids;
// last_seen formatted for display in the agent's time zone).
func (s *Server) tableJSON(a *Agent) map[string]any {
	site := s.findSite(a.Site)
	user := a.LoggedInUsername
	if user == "None" {
		user = "-"
	}
	return map[string]any{"agent_id": a.AgentID, "hostname": a.Hostname, "site_name": site.Name,
		"client_name": s.findClient(site.Client).Name, "monitoring_type": a.MonitoringType, "description": a.Description,
		"status": a.status(), "last_seen": a.LastSeen.UTC().Format("01 02 2006 15:04"), "boot_time": a.BootTime,
		"logged_username": user, "plat": a.Plat, "goarch": a.Goarch, "version": a.Version, "operating_system": a.OperatingSystem,
		"needs_reboot": a.NeedsReboot, "maintenance_mode": a.MaintenanceMode, "italic": a.LoggedInUsername == "None",
		"checks": map[string]any{"total": 2, "passing": 2, "failing": 0, "warning": 0, "info": 0, "has_failing_checks": false}}
}

// --- clients and sites ---------------------------------------------------

func pathInt(r *http.Request, name string) (int, bool) {
	n, err := strconv.Atoi(r.PathValue(name))
	return n, err == nil && n > 0
}

func (s *Server) handleListClients(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := make([]any, 0, len(s.clients))
	for _, c := range s.clients {
		out = append(out, s.clientJSON(c))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleGetClient(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(r, "id")
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.findClient(id)
	if !ok || c == nil {
		detail(w, http.StatusNotFound, "Not found.")
		return
	}
	writeJSON(w, http.StatusOK, s.clientJSON(c))
}

func (s *Server) handleListSites(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := make([]any, 0, len(s.sites))
	for _, x := range s.sites {
		out = append(out, s.siteJSON(x))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleGetSite(w http.ResponseWriter, r *http.Request) {
	id, ok := pathInt(r, "id")
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.findSite(id)
	if !ok || x == nil {
		detail(w, http.StatusNotFound, "Not found.")
		return
	}
	writeJSON(w, http.StatusOK, s.siteJSON(x))
}

// readBody decodes a JSON object body; a body that is not one is DRF's
// parse error (400 {"detail": ...}).
func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		detail(w, http.StatusBadRequest, "JSON parse error - "+strings.SplitN(err.Error(), ":", 2)[0])
		return false
	}
	return true
}

// checkName validates a client or site name as Tactical's serializers do;
// it answers and returns false when the name is refused.
func checkName(w http.ResponseWriter, name string) bool {
	switch {
	case strings.TrimSpace(name) == "":
		validationError(w, "name", "This field may not be blank.")
	case len(name) > 255:
		validationError(w, "name", "Ensure this field has no more than 255 characters.")
	case strings.Contains(name, "|"):
		validationError(w, "non_field_errors", "Client/Site name cannot contain the | character")
	default:
		return true
	}
	return false
}

// handleCreateClient is POST /clients/ {"client":{"name"},"site":{"name"},
// "custom_fields":[]}: the client, then its first site (the client is
// deleted again if the site is refused); the answer is a plain string.
func (s *Server) handleCreateClient(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Client *struct {
			Name *string `json:"name"`
		} `json:"client"`
		Site *struct {
			Name *string `json:"name"`
		} `json:"site"`
	}
	if !readBody(w, r, &body) {
		return
	}
	if body.Client == nil || body.Site == nil {
		// request.data["client"] raises KeyError: Django's 500 page.
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("<h1>Server Error (500)</h1>"))
		return
	}
	if body.Client.Name == nil {
		validationError(w, "name", "This field is required.")
		return
	}
	name := strings.TrimSpace(*body.Client.Name)
	if !checkName(w, name) {
		return
	}
	siteName := ""
	if body.Site.Name != nil {
		siteName = strings.TrimSpace(*body.Site.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.clients {
		if c.Name == name {
			validationError(w, "name", "client with this name already exists.")
			return
		}
	}
	if !checkName(w, siteName) {
		return
	}
	c := &Client{ID: 1, Name: name}
	if n := len(s.clients); n > 0 {
		c.ID = s.clients[n-1].ID + 1
	}
	s.clients = append(s.clients, c)
	s.sites = append(s.sites, &Site{ID: s.nextSiteID(), Client: c.ID, Name: siteName})
	writeJSON(w, http.StatusOK, c.Name+" was added")
}

func (s *Server) nextSiteID() int {
	if len(s.sites) == 0 {
		return 1
	}
	return s.sites[len(s.sites)-1].ID + 1
}

// handleCreateSite is POST /clients/sites/ {"site":{"client","name"},
// "custom_fields":[]}.
func (s *Server) handleCreateSite(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Site *struct {
			Client json.RawMessage `json:"client"`
			Name   *string         `json:"name"`
		} `json:"site"`
	}
	if !readBody(w, r, &body) {
		return
	}
	if body.Site == nil {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("<h1>Server Error (500)</h1>"))
		return
	}
	var clientID int
	if len(body.Site.Client) == 0 {
		validationError(w, "client", "This field is required.")
		return
	}
	if err := json.Unmarshal(body.Site.Client, &clientID); err != nil {
		validationError(w, "client", "Incorrect type. Expected pk value, received str.")
		return
	}
	if body.Site.Name == nil {
		validationError(w, "name", "This field is required.")
		return
	}
	name := strings.TrimSpace(*body.Site.Name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.findClient(clientID) == nil {
		validationError(w, "client", fmt.Sprintf("Invalid pk \"%d\" - object does not exist.", clientID))
		return
	}
	if !checkName(w, name) {
		return
	}
	for _, x := range s.sites {
		if x.Client == clientID && x.Name == name {
			validationError(w, "non_field_errors", "The fields client, name must make a unique set.")
			return
		}
	}
	s.sites = append(s.sites, &Site{ID: s.nextSiteID(), Client: clientID, Name: name})
	writeJSON(w, http.StatusOK, "Site "+name+" was added!")
}

// --- agents --------------------------------------------------------------

// agentFilter reads the classic list's filters: client, site,
// monitoring_type (an unknown type is notify_error's bare string).
func (s *Server) agentFilter(w http.ResponseWriter, q url.Values, clientParam string) (func(a *Agent) bool, bool) {
	var clientID, siteID int
	if v := q.Get(clientParam); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			validationError(w, clientParam, "Enter a number.")
			return nil, false
		}
		clientID = n
	}
	if v := q.Get("site"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			validationError(w, "site", "Enter a number.")
			return nil, false
		}
		siteID = n
	}
	mt := q.Get("monitoring_type")
	if mt != "" && mt != "server" && mt != "workstation" {
		notifyError(w, "monitoring type does not exist")
		return nil, false
	}
	return func(a *Agent) bool {
		if siteID != 0 && a.Site != siteID {
			return false
		}
		if clientID != 0 && s.findSite(a.Site).Client != clientID {
			return false
		}
		return mt == "" || a.MonitoringType == mt
	}, true
}

func (s *Server) handleListAgents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	match, ok := s.agentFilter(w, q, "client")
	if !ok {
		return
	}
	out := []any{}
	for _, a := range s.agents {
		if !match(a) {
			continue
		}
		if q.Get("detail") == "false" {
			site := s.findSite(a.Site)
			out = append(out, map[string]any{"id": a.PK, "hostname": a.Hostname, "agent_id": a.AgentID,
				"client": s.findClient(site.Client).Name, "site": site.Name})
		} else {
			out = append(out, s.tableJSON(a))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleGetAgent(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.findAgent(r.PathValue("agent_id"))
	if a == nil {
		detail(w, http.StatusNotFound, "Not found.")
		return
	}
	writeJSON(w, http.StatusOK, s.detailJSON(a))
}

// --- beta API ------------------------------------------------------------

// MaxBetaPageSize is the beta API's page size cap (max_page_size).
const MaxBetaPageSize = 1000

// betaPage answers DRF's PageNumberPagination over n items: page (from 1)
// and page_size (default 100, capped at 1,000); an out-of-range page is
// 404 {"detail": "Invalid page."}.
func betaPage(w http.ResponseWriter, r *http.Request, items []any) {
	q := r.URL.Query()
	size := 100
	if v := q.Get("page_size"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			size = min(n, MaxBetaPageSize)
		}
	}
	page := 1
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil && v != "last" {
			detail(w, http.StatusNotFound, "Invalid page.")
			return
		}
		page = n
	}
	pages := max(1, (len(items)+size-1)/size)
	if q.Get("page") == "last" {
		page = pages
	}
	if page < 1 || page > pages {
		detail(w, http.StatusNotFound, "Invalid page.")
		return
	}
	link := func(p int) any {
		if p < 1 || p > pages {
			return nil
		}
		u := url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path}
		qq := r.URL.Query()
		qq.Set("page", strconv.Itoa(p))
		u.RawQuery = qq.Encode()
		return u.String()
	}
	lo, hi := (page-1)*size, min(page*size, len(items))
	writeJSON(w, http.StatusOK, map[string]any{"count": len(items), "next": link(page + 1), "previous": link(page - 1), "results": items[lo:hi]})
}

func (s *Server) handleBetaAgents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	match, ok := s.agentFilter(w, q, "client_id")
	if !ok {
		s.mu.Unlock()
		return
	}
	agents := slices.Clone(s.agents)
	if q.Get("ordering") == "-id" {
		slices.Reverse(agents)
	}
	items := []any{}
	for _, a := range agents {
		if match(a) {
			items = append(items, s.modelJSON(a))
		}
	}
	s.mu.Unlock()
	betaPage(w, r, items)
}

func (s *Server) handleBetaClients(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	items := []any{}
	for _, c := range s.clients {
		m := s.clientJSON(c)
		delete(m, "sites")
		items = append(items, m)
	}
	s.mu.Unlock()
	betaPage(w, r, items)
}

func (s *Server) handleBetaSites(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	items := []any{}
	for _, x := range s.sites {
		items = append(items, s.siteJSON(x))
	}
	s.mu.Unlock()
	betaPage(w, r, items)
}

// --- alerts query --------------------------------------------------------

// handleQueryAlerts is PATCH /alerts/ with the UI's filter body
// (clientFilter, severityFilter, resolvedFilter, snoozedFilter, top).
func (s *Server) handleQueryAlerts(w http.ResponseWriter, r *http.Request) {
	var f struct {
		Top            int      `json:"top"`
		ClientFilter   []int    `json:"clientFilter"`
		SeverityFilter []string `json:"severityFilter"`
		ResolvedFilter *bool    `json:"resolvedFilter"`
		SnoozedFilter  *bool    `json:"snoozedFilter"`
	}
	if !readBody(w, r, &f) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []any{}
	for _, al := range s.alerts {
		a := s.findAgent(al.AgentID)
		if a == nil {
			continue
		}
		site := s.findSite(a.Site)
		switch {
		case len(f.ClientFilter) > 0 && !slices.Contains(f.ClientFilter, site.Client),
			len(f.SeverityFilter) > 0 && !slices.Contains(f.SeverityFilter, al.Severity),
			f.ResolvedFilter != nil && *f.ResolvedFilter != al.Resolved,
			f.SnoozedFilter != nil && *f.SnoozedFilter != al.Snoozed:
			continue
		}
		out = append(out, map[string]any{"id": al.ID, "alert_type": al.AlertType, "severity": al.Severity, "message": al.Message,
			"alert_time": isoTime(al.AlertTime), "resolved": al.Resolved, "snoozed": al.Snoozed, "hostname": a.Hostname,
			"agent_id": a.AgentID, "client": s.findClient(site.Client).Name, "site": site.Name,
			"assigned_check": nullIfEmpty(al.CheckDesc), "assigned_task": nullIfEmpty(al.TaskName)})
		if f.Top > 0 && len(out) == f.Top {
			break
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return map[string]string{"readable_desc": s, "name": s}
}
