package sandbox

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// fieldDef is a custom field definition.
type fieldDef struct {
	ID      int
	Caption string
	Type    string
}

// Custom field ids the sandbox defines; clients configure them
// (connectwise.Config.AccountRefFieldID, AssetCheckInFieldID).
const (
	CompanyRefFieldID     = 5
	CompanyRefFieldName   = "RMM Organization Id"
	ConfigCheckInFieldID  = 12
	ConfigCheckInFieldCap = "RMM Last Check-In"
)

// validator collects field errors for one resource.
type validator struct {
	resource string
	errs     []fieldError
}

func (v *validator) add(code, field, msg string) {
	v.errs = append(v.errs, fieldError{Code: code, Message: msg, Resource: v.resource, Field: field})
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	return &errInvalid{resource: v.resource, errs: v.errs}
}

// refOut renders a reference to rec with the given keys.
func refOut(rec map[string]any, keys ...string) map[string]any {
	if rec == nil {
		return nil
	}
	out := map[string]any{"id": rec["id"]}
	for _, k := range keys {
		out[k] = rec[k]
	}
	return out
}

func companyRef(rec map[string]any) map[string]any { return refOut(rec, "identifier", "name") }
func namedRef(rec map[string]any) map[string]any   { return refOut(rec, "name") }
func memberRef(rec map[string]any) map[string]any {
	if rec == nil {
		return nil
	}
	return map[string]any{"id": rec["id"], "identifier": rec["identifier"], "name": strings.TrimSpace(strOf(rec["firstName"]) + " " + strOf(rec["lastName"]))}
}

// findRef resolves a reference object {id} or {name} (or {identifier})
// in c; nameKey is the field names are matched against.
func findRef(c *collection, v any, nameKey string) (map[string]any, bool) {
	m := objOf(v)
	if m == nil {
		return nil, false
	}
	if id := intOf(m["id"]); id != 0 {
		return c.get(id)
	}
	for _, key := range []string{"name", "identifier"} {
		want := strings.TrimSpace(strOf(m[key]))
		if want == "" {
			continue
		}
		k := nameKey
		if key == "identifier" {
			k = "identifier"
		}
		for _, rec := range c.items {
			if strings.EqualFold(strings.TrimSpace(strOf(rec[k])), want) {
				return rec, true
			}
		}
	}
	return nil, false
}

// defaultOf returns the record flagged defaultFlag (or the first).
func defaultOf(items []map[string]any) map[string]any {
	for _, r := range items {
		if boolOf(r["defaultFlag"]) {
			return r
		}
	}
	if len(items) > 0 {
		return items[0]
	}
	return nil
}

// customFields renders the custom field array for defs with values.
func customFields(defs []fieldDef, values map[int]any) []any {
	out := make([]any, 0, len(defs))
	for _, d := range defs {
		out = append(out, map[string]any{
			"id": float64(d.ID), "caption": d.Caption, "type": d.Type,
			"entryMethod": "EntryField", "numberOfDecimals": float64(0), "value": values[d.ID],
		})
	}
	return out
}

// checkCustomFields validates a customFields value and returns the values
// to set by id.
func checkCustomFields(defs []fieldDef, v any, val *validator) map[int]any {
	arr, ok := v.([]any)
	if !ok {
		val.add("InvalidField", "customFields", "must be an array of {id, value}")
		return nil
	}
	out := map[int]any{}
	for _, e := range arr {
		m := objOf(e)
		id := intOf(m["id"])
		known := false
		for _, d := range defs {
			known = known || d.ID == id
		}
		if !known {
			val.add("InvalidField", "customFields", fmt.Sprintf("custom field %d does not exist", id))
			continue
		}
		out[id] = m["value"]
	}
	return out
}

// mergeCustomFields sets values by id in rec's customFields.
func mergeCustomFields(rec map[string]any, values map[int]any) {
	arr, _ := rec["customFields"].([]any)
	for _, e := range arr {
		m := objOf(e)
		if v, ok := values[intOf(m["id"])]; ok {
			m["value"] = v
		}
	}
}

// companySpec is a company to insert.
type companySpec struct {
	identifier, name string
	status           map[string]any
	types            []map[string]any
	siteName         string
	fields           map[int]any
	extra            map[string]string
	at               time.Time
	by               string
}

var companyStrings = []string{"addressLine1", "addressLine2", "city", "state", "zip", "phoneNumber", "faxNumber", "website", "accountNumber"}

func (s *Server) insertCompany(sp companySpec) int {
	types := make([]any, 0, len(sp.types))
	for _, t := range sp.types {
		types = append(types, namedRef(t))
	}
	rec := map[string]any{
		"identifier": sp.identifier, "name": sp.name,
		"status": namedRef(sp.status), "types": types, "site": nil,
		"country":   map[string]any{"id": 1, "name": "United States"},
		"territory": nil, "market": nil, "defaultContact": nil, "parentCompany": nil,
		"deletedFlag": false, "dateDeleted": nil,
		"customFields": customFields(s.companyFields, sp.fields),
		"_info":        info(sp.at, sp.by),
	}
	for _, k := range companyStrings {
		rec[k] = sp.extra[k]
	}
	rec = normalize(rec)
	id := s.companies.add(rec)
	siteName := sp.siteName
	if siteName == "" {
		siteName = "Main"
	}
	siteID := s.insertSite(id, siteName, true, sp.extra, sp.at, sp.by)
	site, _ := s.sites.get(siteID)
	rec["site"] = normalize(namedRef(site))
	return id
}

func (s *Server) insertSite(companyID int, name string, primary bool, extra map[string]string, at time.Time, by string) int {
	co, _ := s.companies.get(companyID)
	rec := map[string]any{
		"name": name, "addressLine1": extra["addressLine1"], "addressLine2": extra["addressLine2"],
		"city": extra["city"], "zip": extra["zip"], "phoneNumber": extra["phoneNumber"], "faxNumber": "",
		"stateReference": nil, "country": map[string]any{"id": 1, "name": "United States"},
		"primaryAddressFlag": primary, "defaultShippingFlag": primary, "defaultBillingFlag": primary,
		"defaultMailingFlag": primary, "inactiveFlag": false,
		"company": companyRef(co), "timeZone": nil, "_info": info(at, by),
	}
	if st := extra["state"]; st != "" {
		rec["stateReference"] = map[string]any{"id": stateIDs[st], "identifier": st, "name": stateNames[st]}
	}
	return s.sites.add(normalize(rec))
}

// configSpec is a configuration to insert.
type configSpec struct {
	name                       string
	typ, status, company, site map[string]any
	manufacturer               map[string]any
	deviceIdentifier, serial   string
	strs                       map[string]string
	active                     bool
	fields                     map[int]any
	at                         time.Time
	by                         string
}

var configStrings = []string{"modelNumber", "tagNumber", "ipAddress", "macAddress", "defaultGateway", "osType", "osInfo", "cpuSpeed", "ram", "localHardDrives", "lastLoginName", "remoteLink", "managementLink", "notes", "vendorNotes"}

func (s *Server) configRecord(sp configSpec) map[string]any {
	rec := map[string]any{
		"name": sp.name, "type": namedRef(sp.typ), "status": refOut(sp.status, "name"),
		"company": companyRef(sp.company), "site": namedRef(sp.site), "contact": nil,
		"deviceIdentifier": sp.deviceIdentifier, "serialNumber": sp.serial,
		"manufacturer": namedRef(sp.manufacturer),
		"purchaseDate": nil, "installationDate": nil, "warrantyExpirationDate": nil,
		"activeFlag": sp.active, "billFlag": false, "parentConfigurationId": nil,
		"questions":    []any{},
		"customFields": customFields(s.configFields, sp.fields),
		"_info":        info(sp.at, sp.by),
	}
	for _, k := range configStrings {
		rec[k] = sp.strs[k]
	}
	return normalize(rec)
}

// ticketSpec is a ticket to insert.
type ticketSpec struct {
	summary, description, externalXRef, recordType string
	board, status, priority, company, site, typ    map[string]any
	severity, impact                               string
	at                                             time.Time
	by                                             string
}

func (s *Server) insertTicket(sp ticketSpec) int {
	rec := normalize(map[string]any{
		"summary": sp.summary, "recordType": sp.recordType,
		"board": namedRef(sp.board), "status": namedRef(sp.status), "priority": namedRef(sp.priority),
		"company": companyRef(sp.company), "site": namedRef(sp.site), "contact": nil,
		"type": namedRef(sp.typ), "subType": nil, "item": nil, "source": nil, "owner": nil, "team": nil,
		"severity": sp.severity, "impact": sp.impact,
		"initialDescription": sp.description, "initialInternalAnalysis": "", "initialResolution": "",
		"closedFlag": boolOf(sp.status["closedStatus"]), "closedDate": nil, "closedBy": nil,
		"customFields": []any{}, "externalXRef": sp.externalXRef,
		"_info": info(sp.at, sp.by),
	})
	id := s.tickets.add(rec)
	s.addAudit(id, "Ticket created on board "+strOf(sp.board["name"]), "Ticket", sp.at, sp.by)
	if strings.TrimSpace(sp.description) != "" {
		s.insertNote(id, sp.description, noteFlags{detail: true}, sp.by, sp.at, false)
	}
	return id
}

type noteFlags struct{ detail, internal, resolution bool }

func (s *Server) insertNote(ticketID int, text string, f noteFlags, by string, at time.Time, audit bool) int {
	var member map[string]any
	for _, m := range append(slices.Clone(s.members.items), s.apiMembers.items...) {
		if strings.EqualFold(strOf(m["identifier"]), by) {
			member = m
		}
	}
	rec := normalize(map[string]any{
		"ticketId": ticketID, "text": text,
		"detailDescriptionFlag": f.detail, "internalAnalysisFlag": f.internal, "resolutionFlag": f.resolution,
		"issueFlag": false, "internalFlag": f.internal, "externalFlag": !f.internal,
		"customerUpdatedFlag": false, "processNotifications": false,
		"dateCreated": ts(at), "createdBy": by, "member": memberRef(member), "contact": nil,
		"_info": info(at, by),
	})
	id := s.notes.add(rec)
	if audit {
		s.addAudit(ticketID, "Note added", "Notes", at, by)
	}
	return id
}

func (s *Server) addAudit(ticketID int, text, subType string, at time.Time, by string) {
	s.audit[ticketID] = append(s.audit[ticketID], normalize(map[string]any{
		"text": text, "enteredDate": ts(at), "enteredBy": by,
		"auditType": "Ticket", "auditSubType": subType, "auditSource": "API",
	}))
}

var stateIDs = map[string]int{"NY": 33, "CA": 5, "TX": 44, "IL": 14, "WA": 48, "MA": 22, "CO": 6, "GA": 11}
var stateNames = map[string]string{"NY": "New York", "CA": "California", "TX": "Texas", "IL": "Illinois", "WA": "Washington", "MA": "Massachusetts", "CO": "Colorado", "GA": "Georgia"}
