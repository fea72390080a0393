package sandbox

import (
	"encoding/json"
	"net/http"
	"strings"
)

// orgBrief is Organization (the brief list shape).
type orgBrief struct {
	ID               int            `json:"id"`
	Name             string         `json:"name"`
	Description      string         `json:"description,omitempty"`
	NodeApprovalMode string         `json:"nodeApprovalMode"`
	Tags             []string       `json:"tags"`
	Fields           map[string]any `json:"fields"`
}

// locationWithOrg is LocationWithOrganizationRef.
type locationWithOrg struct {
	Location
	OrganizationID int `json:"organizationId"`
}

// deviceBrief is NodeWithDetailedReferences as /v2/devices lists it (no
// os/system blocks).
type deviceBrief struct {
	ID             int            `json:"id"`
	UID            string         `json:"uid"`
	OrganizationID int            `json:"organizationId"`
	LocationID     int            `json:"locationId"`
	NodeClass      string         `json:"nodeClass"`
	NodeRoleID     int            `json:"nodeRoleId"`
	RolePolicyID   int            `json:"rolePolicyId"`
	ApprovalStatus string         `json:"approvalStatus"`
	Offline        bool           `json:"offline"`
	DisplayName    string         `json:"displayName"`
	SystemName     string         `json:"systemName"`
	DNSName        string         `json:"dnsName"`
	NetbiosName    string         `json:"netbiosName,omitempty"`
	Created        float64        `json:"created"`
	LastContact    float64        `json:"lastContact"`
	LastUpdate     float64        `json:"lastUpdate"`
	Tags           []string       `json:"tags"`
	Fields         map[string]any `json:"fields"`
}

func brief(d *Device) deviceBrief {
	return deviceBrief{ID: d.ID, UID: d.UID, OrganizationID: d.OrganizationID, LocationID: d.LocationID, NodeClass: d.NodeClass,
		NodeRoleID: d.NodeRoleID, RolePolicyID: d.RolePolicyID, ApprovalStatus: d.ApprovalStatus, Offline: d.Offline,
		DisplayName: d.DisplayName, SystemName: d.SystemName, DNSName: d.DNSName, NetbiosName: d.NetbiosName,
		Created: d.Created, LastContact: d.LastContact, LastUpdate: d.LastUpdate, Tags: d.Tags, Fields: d.Fields}
}

func orgID(o *Organization) int { return o.ID }
func devID(d *Device) int       { return d.ID }

func (s *Server) handleListOrgs(detailed bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		size, after, ok := s.keyset(w, r)
		if !ok {
			return
		}
		s.mu.Lock()
		items := page(s.orgs, orgID, size, after)
		var out any
		if detailed {
			list := make([]Organization, len(items))
			for i, o := range items {
				list[i] = copyOrg(o)
			}
			out = list
		} else {
			list := make([]orgBrief, len(items))
			for i, o := range items {
				list[i] = orgBrief{ID: o.ID, Name: o.Name, Description: o.Description, NodeApprovalMode: o.NodeApprovalMode, Tags: o.Tags, Fields: o.Fields}
			}
			out = list
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, out)
	}
}

// findOrg returns the organization with id; the caller holds s.mu.
func (s *Server) findOrg(id int) *Organization {
	for _, o := range s.orgs {
		if o.ID == id {
			return o
		}
	}
	return nil
}

// findDevice returns the device with id; the caller holds s.mu.
func (s *Server) findDevice(id int) *Device {
	for _, d := range s.devices {
		if d.ID == id {
			return d
		}
	}
	return nil
}

func (s *Server) handleGetOrg(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, s)
	if !ok {
		return
	}
	s.mu.Lock()
	o := s.findOrg(id)
	var c Organization
	if o != nil {
		c = copyOrg(o)
	}
	s.mu.Unlock()
	if o == nil {
		s.writeError(w, http.StatusNotFound, "NOT_FOUND", "Organization not found")
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) handleOrgLocations(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, s)
	if !ok {
		return
	}
	s.mu.Lock()
	o := s.findOrg(id)
	var locs []Location
	if o != nil {
		locs = append([]Location{}, o.Locations...)
	}
	s.mu.Unlock()
	if o == nil {
		s.writeError(w, http.StatusNotFound, "NOT_FOUND", "Organization not found")
		return
	}
	writeJSON(w, http.StatusOK, locs)
}

// newOrgBody is OrganizationWithLocationsAndPolicyAssignmentsModel.
type newOrgBody struct {
	Name             string         `json:"name"`
	Description      string         `json:"description"`
	NodeApprovalMode string         `json:"nodeApprovalMode"`
	Tags             []string       `json:"tags"`
	Locations        []newLocation  `json:"locations"`
	Policies         []PolicyRef    `json:"policies"`
	UserData         map[string]any `json:"userData"`
}

// newLocation is LocationModel.
type newLocation struct {
	Name        string   `json:"name"`
	Address     string   `json:"address"`
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
}

func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.writeError(w, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be application/json")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	if err := dec.Decode(v); err != nil {
		s.writeError(w, http.StatusBadRequest, "INVALID_REQUEST", "Malformed JSON body")
		return false
	}
	return true
}

func (s *Server) handleCreateOrg(w http.ResponseWriter, r *http.Request) {
	var b newOrgBody
	if !s.decode(w, r, &b) {
		return
	}
	name := strings.TrimSpace(b.Name)
	if name == "" {
		s.writeError(w, http.StatusBadRequest, "INVALID_PARAMETER", "Organization name is required")
		return
	}
	switch b.NodeApprovalMode {
	case "":
		b.NodeApprovalMode = "AUTOMATIC"
	case "AUTOMATIC", "MANUAL", "REJECT":
	default:
		s.writeError(w, http.StatusBadRequest, "INVALID_PARAMETER", "Invalid nodeApprovalMode")
		return
	}
	s.mu.Lock()
	for _, o := range s.orgs {
		if strings.EqualFold(o.Name, name) {
			s.mu.Unlock()
			s.writeError(w, http.StatusBadRequest, "ORGANIZATION_NAME_EXISTS", "Organization with the same name already exists")
			return
		}
	}
	s.nextOrg++
	o := &Organization{ID: s.nextOrg, Name: name, Description: b.Description, NodeApprovalMode: b.NodeApprovalMode,
		Tags: nonNil(b.Tags), Fields: map[string]any{}, Policies: nonNil(b.Policies), UserData: b.UserData}
	if len(b.Locations) == 0 {
		b.Locations = []newLocation{{Name: "Main Office"}}
	}
	for _, l := range b.Locations {
		s.nextLoc++
		o.Locations = append(o.Locations, Location{ID: s.nextLoc, Name: l.Name, Address: l.Address, Description: l.Description,
			Tags: nonNil(l.Tags), Fields: map[string]any{}, OrganizationID: o.ID})
	}
	s.orgs = append(s.orgs, o)
	c := copyOrg(o)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, c)
}

func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

func (s *Server) handleCreateLocation(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, s)
	if !ok {
		return
	}
	var b newLocation
	if !s.decode(w, r, &b) {
		return
	}
	if strings.TrimSpace(b.Name) == "" {
		s.writeError(w, http.StatusBadRequest, "INVALID_PARAMETER", "Location name is required")
		return
	}
	s.mu.Lock()
	o := s.findOrg(id)
	if o == nil {
		s.mu.Unlock()
		s.writeError(w, http.StatusNotFound, "NOT_FOUND", "Organization not found")
		return
	}
	for _, l := range o.Locations {
		if strings.EqualFold(l.Name, strings.TrimSpace(b.Name)) {
			s.mu.Unlock()
			s.writeError(w, http.StatusBadRequest, "LOCATION_NAME_EXISTS", "Location with the same name already exists")
			return
		}
	}
	s.nextLoc++
	l := Location{ID: s.nextLoc, Name: strings.TrimSpace(b.Name), Address: b.Address, Description: b.Description,
		Tags: nonNil(b.Tags), Fields: map[string]any{}, OrganizationID: o.ID}
	o.Locations = append(o.Locations, l)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, l)
}

func (s *Server) handleListLocations(w http.ResponseWriter, r *http.Request) {
	size, after, ok := s.keyset(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	var all []locationWithOrg
	for _, o := range s.orgs {
		for _, l := range o.Locations {
			all = append(all, locationWithOrg{Location: l, OrganizationID: o.ID})
		}
	}
	s.mu.Unlock()
	sortByID(all, func(l locationWithOrg) int { return l.ID })
	writeJSON(w, http.StatusOK, nonNil(page(all, func(l locationWithOrg) int { return l.ID }, size, after)))
}

func sortByID[T any](xs []T, id func(T) int) {
	for i := 1; i < len(xs); i++ {
		for j := i; j > 0 && id(xs[j]) < id(xs[j-1]); j-- {
			xs[j], xs[j-1] = xs[j-1], xs[j]
		}
	}
}

func (s *Server) handleListDevices(detailed bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		size, after, ok := s.keyset(w, r)
		if !ok {
			return
		}
		match, err := parseDeviceFilter(r.URL.Query().Get("df"))
		if err != nil {
			s.writeError(w, http.StatusBadRequest, "INVALID_FILTER", "Invalid device filter: "+err.Error())
			return
		}
		s.writeDevices(w, match, detailed, size, after)
	}
}

func (s *Server) writeDevices(w http.ResponseWriter, match deviceFilter, detailed bool, size, after int) {
	s.mu.Lock()
	var sel []*Device
	for _, d := range s.devices {
		if match(d) {
			sel = append(sel, d)
		}
	}
	sel = page(sel, devID, size, after)
	var out any
	if detailed {
		list := make([]Device, len(sel))
		for i, d := range sel {
			list[i] = *d
		}
		out = list
	} else {
		list := make([]deviceBrief, len(sel))
		for i, d := range sel {
			list[i] = brief(d)
		}
		out = list
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleOrgDevices(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, s)
	if !ok {
		return
	}
	size, after, ok := s.keyset(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	found := s.findOrg(id) != nil
	s.mu.Unlock()
	if !found {
		s.writeError(w, http.StatusNotFound, "NOT_FOUND", "Organization not found")
		return
	}
	s.writeDevices(w, func(d *Device) bool { return d.OrganizationID == id }, false, size, after)
}

// withDevice runs f on the device named by the path, or answers 404.
func (s *Server) withDevice(w http.ResponseWriter, r *http.Request, f func(d *Device) any) {
	id, ok := pathID(w, r, s)
	if !ok {
		return
	}
	s.mu.Lock()
	d := s.findDevice(id)
	var out any
	if d != nil {
		out = f(d)
	}
	s.mu.Unlock()
	if d == nil {
		s.writeError(w, http.StatusNotFound, "NOT_FOUND", "Device not found")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleGetDevice(w http.ResponseWriter, r *http.Request) {
	s.withDevice(w, r, func(d *Device) any { return *d })
}

func (s *Server) handleVolumes(w http.ResponseWriter, r *http.Request) {
	s.withDevice(w, r, func(d *Device) any { return nonNil(append([]Volume(nil), d.Volumes...)) })
}

func (s *Server) handleLastUser(w http.ResponseWriter, r *http.Request) {
	s.withDevice(w, r, func(d *Device) any { return LoggedOnUser{UserName: d.LastLoggedUser, LogonTime: d.LastLogonTime} })
}

func (s *Server) handleDeviceAlerts(w http.ResponseWriter, r *http.Request) {
	s.withDevice(w, r, func(d *Device) any {
		out := []Alert{}
		for _, a := range s.alerts {
			if a.DeviceID == d.ID {
				out = append(out, *a)
			}
		}
		return out
	})
}

func (s *Server) handleAlerts(w http.ResponseWriter, r *http.Request) {
	match, err := parseDeviceFilter(r.URL.Query().Get("df"))
	if err != nil {
		s.writeError(w, http.StatusBadRequest, "INVALID_FILTER", "Invalid device filter: "+err.Error())
		return
	}
	sourceType := r.URL.Query().Get("sourceType")
	s.mu.Lock()
	out := []Alert{}
	for _, a := range s.alerts {
		d := s.findDevice(a.DeviceID)
		if d != nil && match(d) && (sourceType == "" || strings.EqualFold(sourceType, a.SourceType)) {
			out = append(out, *a)
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handlePutWebhook(w http.ResponseWriter, r *http.Request) {
	var c WebhookConfig
	if !s.decode(w, r, &c) {
		return
	}
	if !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") {
		s.writeError(w, http.StatusBadRequest, "INVALID_PARAMETER", "Webhook url must be an http(s) URL")
		return
	}
	s.mu.Lock()
	s.webhook = &c
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handleDeleteWebhook(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	s.webhook = nil
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}
