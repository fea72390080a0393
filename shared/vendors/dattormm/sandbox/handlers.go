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

// accountUID is the sandbox account's uid.
const accountUID = "sbx0acct"

// stamp renders t as the wire has it (nil for a zero time, so the field
// is left out).
func (s *Server) stamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	if s.opt.EpochMillis {
		return t.UnixMilli()
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// put sets m[k] = v unless v is nil or "".
func put(m map[string]any, k string, v any) {
	switch x := v.(type) {
	case nil:
		return
	case string:
		if x == "" {
			return
		}
	}
	m[k] = v
}

func (s *Server) portal(kind, uid string) string {
	return "https://" + s.opt.Platform + ".centrastage.net/csm/" + kind + "/" + uid
}

// siteJSON renders a site (lock held).
func (s *Server) siteJSON(st *Site) map[string]any {
	var n, on int64
	for _, d := range s.devices {
		if d.SiteUID == st.UID {
			n++
			if d.Online {
				on++
			}
		}
	}
	m := map[string]any{
		"id": st.ID, "uid": st.UID, "accountUid": accountUID, "name": st.Name,
		"onDemand": st.OnDemand, "splashtopAutoInstall": false,
		"devicesStatus": map[string]int64{"numberOfDevices": n, "numberOfOnlineDevices": on, "numberOfOfflineDevices": n - on},
		"portalUrl":     s.portal("site", st.UID),
	}
	put(m, "description", st.Description)
	put(m, "notes", st.Notes)
	return m
}

// deviceJSON renders a device (lock held).
func (s *Server) deviceJSON(d *Device) map[string]any {
	st := s.findSite(d.SiteUID)
	m := map[string]any{
		"id": d.ID, "uid": d.UID, "siteId": st.ID, "siteUid": st.UID, "siteName": st.Name,
		"deviceType": d.DeviceType, "hostname": d.Hostname, "a64Bit": d.A64Bit,
		"rebootRequired": d.RebootRequired, "online": d.Online, "suspended": false, "deleted": false,
		"snmpEnabled": false, "deviceClass": d.DeviceClass, "portalUrl": s.portal("device", d.UID),
		"webRemoteUrl": "https://" + s.opt.Platform + ".centrastage.net/csm/remote/rto/" + d.UID,
		"networkProbe": false, "onboardedViaNetworkMonitor": false, "displayVersion": "4.4.2200.2200",
		"cagVersion": "4.4.2200", "softwareStatus": "Compliant",
		"udf": cloneUDF(d.UDF),
	}
	put(m, "intIpAddress", d.IntIPAddress)
	put(m, "extIpAddress", d.ExtIPAddress)
	put(m, "operatingSystem", d.OperatingSystem)
	put(m, "lastLoggedInUser", d.LastLoggedInUser)
	put(m, "domain", d.Domain)
	put(m, "description", d.Description)
	put(m, "lastSeen", s.stamp(d.LastSeen))
	put(m, "lastReboot", s.stamp(d.LastReboot))
	put(m, "lastAuditDate", s.stamp(d.LastAuditDate))
	put(m, "creationDate", s.stamp(d.CreationDate))
	return m
}

func cloneUDF(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// alertJSON renders an alert (lock held).
func (s *Server) alertJSON(a *Alert) map[string]any {
	m := map[string]any{
		"alertUid": a.UID, "priority": a.Priority, "diagnostics": a.Diagnostics, "resolved": a.Resolved,
		"muted": false, "alertMonitorInfo": map[string]bool{"sendsEmails": false, "createsTicket": false},
		"alertContext": a.Context, "responseActions": []any{}, "autoresolveMins": 0,
	}
	put(m, "timestamp", s.stamp(a.Timestamp))
	if a.Resolved {
		put(m, "resolvedOn", s.stamp(a.ResolvedOn))
		m["resolvedBy"] = "Monitor"
	}
	if d := s.findDevice(a.DeviceUID); d != nil {
		st := s.findSite(d.SiteUID)
		m["alertSourceInfo"] = map[string]string{"deviceUid": d.UID, "deviceName": d.Hostname, "siteUid": st.UID, "siteName": st.Name}
	}
	return m
}

func (s *Server) findSite(uid string) *Site {
	for _, st := range s.sites {
		if st.UID == uid {
			return st
		}
	}
	return nil
}

func (s *Server) findDevice(uid string) *Device {
	for _, d := range s.devices {
		if d.UID == uid {
			return d
		}
	}
	return nil
}

func (s *Server) findAlert(uid string) *Alert {
	for _, a := range s.alerts {
		if a.UID == uid {
			return a
		}
	}
	return nil
}

// paging reads page (0-based) and max (default and cap PageMax).
func (s *Server) paging(w http.ResponseWriter, r *http.Request) (page, size int, ok bool) {
	q := r.URL.Query()
	size = s.opt.PageMax
	if v := q.Get("max"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, r, http.StatusBadRequest, "max must be a positive integer")
			return 0, 0, false
		}
		size = min(n, s.opt.PageMax)
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, r, http.StatusBadRequest, "page must be a non-negative integer")
			return 0, 0, false
		}
		page = n
	}
	return page, size, true
}

// pageDetails builds the envelope's pageDetails for a page of count items
// out of total, with links that keep only page (unless
// KeepNextPageParams).
func (s *Server) pageDetails(r *http.Request, page, size, count, total int) map[string]any {
	link := func(p int) string {
		q := url.Values{}
		if s.opt.KeepNextPageParams {
			q = r.URL.Query()
		}
		q.Set("page", strconv.Itoa(p))
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		return scheme + "://" + r.Host + r.URL.Path + "?" + q.Encode()
	}
	d := map[string]any{"count": count, "totalCount": total}
	if (page+1)*size < total {
		d["nextPageUrl"] = link(page + 1)
	}
	if page > 0 {
		d["prevPageUrl"] = link(page - 1)
	}
	return d
}

func window[T any](items []T, page, size int) []T {
	lo := min(page*size, len(items))
	return items[lo:min(lo+size, len(items))]
}

func (s *Server) handleAccount(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	n := len(s.devices)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"id": 1, "uid": accountUID, "name": "Sandbox MSP", "currency": "USD",
		"descriptor": map[string]any{"bilingEmail": "billing@sandbox.example", "deviceLimit": 10000, "timeZone": "UTC"},
		"devicesStatus": map[string]int{"numberOfDevices": n, "numberOfOnlineDevices": n, "numberOfOfflineDevices": 0,
			"numberOfOnDemandDevices": 0, "numberOfManagedDevices": n},
	})
}

func (s *Server) handleListSites(w http.ResponseWriter, r *http.Request) {
	page, size, ok := s.paging(w, r)
	if !ok {
		return
	}
	name := strings.ToLower(r.URL.Query().Get("siteName"))
	s.mu.Lock()
	defer s.mu.Unlock()
	var match []*Site
	for _, st := range s.sites {
		if name == "" || strings.Contains(strings.ToLower(st.Name), name) {
			match = append(match, st)
		}
	}
	out := []map[string]any{}
	for _, st := range window(match, page, size) {
		out = append(out, s.siteJSON(st))
	}
	writeJSON(w, http.StatusOK, map[string]any{"pageDetails": s.pageDetails(r, page, size, len(out), len(match)), "sites": out})
}

func (s *Server) handleGetSite(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.findSite(r.PathValue("uid"))
	if st == nil {
		writeError(w, r, http.StatusNotFound, "Site not found")
		return
	}
	writeJSON(w, http.StatusOK, s.siteJSON(st))
}

// handleCreateSite is PUT /v2/site. A name another site has is refused
// with 409 (Datto's behaviour there is unconfirmed; the client treats a
// 409 as "the site may exist already" and looks it up).
func (s *Server) handleCreateSite(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name        *string `json:"name"`
		Description string  `json:"description"`
		Notes       string  `json:"notes"`
		OnDemand    bool    `json:"onDemand"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	if err := dec.Decode(&body); err != nil {
		writeError(w, r, http.StatusBadRequest, "Malformed JSON request")
		return
	}
	if body.Name == nil || strings.TrimSpace(*body.Name) == "" {
		writeError(w, r, http.StatusBadRequest, "name: must not be blank")
		return
	}
	st, err := s.AddSite(*body.Name, body.Description)
	if err != nil {
		writeError(w, r, http.StatusConflict, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.findSite(st.UID)
	p.Notes, p.OnDemand = body.Notes, body.OnDemand
	writeJSON(w, http.StatusOK, s.siteJSON(p))
}

func (s *Server) handleSiteDevices(w http.ResponseWriter, r *http.Request) {
	page, size, ok := s.paging(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.findSite(r.PathValue("uid"))
	if st == nil {
		writeError(w, r, http.StatusNotFound, "Site not found")
		return
	}
	var match []*Device
	for _, d := range s.devices {
		if d.SiteUID == st.UID {
			match = append(match, d)
		}
	}
	out := []map[string]any{}
	for _, d := range window(match, page, size) {
		out = append(out, s.deviceJSON(d))
	}
	writeJSON(w, http.StatusOK, map[string]any{"pageDetails": s.pageDetails(r, page, size, len(out), len(match)), "devices": out})
}

func (s *Server) handleGetDevice(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.findDevice(r.PathValue("uid"))
	if d == nil {
		writeError(w, r, http.StatusNotFound, "Device not found")
		return
	}
	writeJSON(w, http.StatusOK, s.deviceJSON(d))
}

func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.findDevice(r.PathValue("uid"))
	if d == nil {
		writeError(w, r, http.StatusNotFound, "Device not found")
		return
	}
	a := d.Audit
	writeJSON(w, http.StatusOK, map[string]any{
		"portalUrl": s.portal("device", d.UID), "systemInfo": a.SystemInfo, "nics": nonNil(a.Nics),
		"bios": a.Bios, "baseBoard": a.BaseBoard, "logicalDisks": nonNil(a.LogicalDisks),
		"processors": nonNil(a.Processors), "displays": []any{}, "videoBoards": []any{},
		"mobileInfo": []any{}, "physicalMemory": []any{}, "attachedDevices": []any{},
	})
}

func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

// handleSetUDF is POST /v2/device/{uid}/udf: the fields given (udf1 …
// udf30) are set, others kept; an empty string clears one.
func (s *Server) handleSetUDF(w http.ResponseWriter, r *http.Request) {
	var body map[string]*string
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil {
		writeError(w, r, http.StatusBadRequest, "Malformed JSON request")
		return
	}
	for k, v := range body {
		n, err := strconv.Atoi(strings.TrimPrefix(k, "udf"))
		if !strings.HasPrefix(k, "udf") || err != nil || n < 1 || n > 30 || (v != nil && len(*v) > 255) {
			writeError(w, r, http.StatusBadRequest, fmt.Sprintf("%s: not a user-defined field (udf1 to udf30, at most 255 characters)", k))
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.findDevice(r.PathValue("uid"))
	if d == nil {
		writeError(w, r, http.StatusNotFound, "Device not found")
		return
	}
	if d.UDF == nil {
		d.UDF = map[string]string{}
	}
	for k, v := range body {
		if v == nil || *v == "" {
			delete(d.UDF, k)
		} else {
			d.UDF[k] = *v
		}
	}
	w.WriteHeader(http.StatusOK)
}

func (s *Server) handleGetAlert(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.findAlert(r.PathValue("uid"))
	if a == nil {
		writeError(w, r, http.StatusNotFound, "Alert not found")
		return
	}
	writeJSON(w, http.StatusOK, s.alertJSON(a))
}

func (s *Server) handleOpenAlerts(w http.ResponseWriter, r *http.Request) {
	page, size, ok := s.paging(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	site := r.PathValue("uid")
	if site != "" && s.findSite(site) == nil {
		writeError(w, r, http.StatusNotFound, "Site not found")
		return
	}
	var match []*Alert
	for _, a := range s.alerts {
		d := s.findDevice(a.DeviceUID)
		if !a.Resolved && d != nil && (site == "" || d.SiteUID == site) {
			match = append(match, a)
		}
	}
	out := []map[string]any{}
	for _, a := range window(match, page, size) {
		out = append(out, s.alertJSON(a))
	}
	writeJSON(w, http.StatusOK, map[string]any{"pageDetails": s.pageDetails(r, page, size, len(out), len(match)), "alerts": out})
}

// handleRequestRate is GET /v2/system/request_rate: the document's fields
// (the read quota) plus the write quota's counters community clients read
// [P].
func (s *Server) handleRequestRate(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	count := func(ts []time.Time) int {
		return len(ts) - slices.IndexFunc(append(slices.Clone(ts), now.Add(time.Hour)), func(t time.Time) bool { return now.Sub(t) < s.opt.Window })
	}
	limit := func(n int) int {
		if n < 0 {
			return 1 << 30
		}
		return n
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"slidingTimeWindowSizeSeconds": int(s.opt.Window.Seconds()), "accountUid": accountUID,
		"accountCount": count(s.reads), "accountRateLimit": limit(s.opt.ReadLimit), "accountCutOffRatio": 0.9,
		"accountWriteCount": count(s.writes), "accountWriteRateLimit": limit(s.opt.WriteLimit),
	})
}
