package sandbox

import (
	"sort"
	"strconv"
	"strings"
)

// The entities the sandbox serves, with the field metadata
// entityInformation/fields answers (vendor-apis.md §5.3, §5.6). Field names
// are the live API's camelCase; requests may spell them in any case.

// Pick is one picklist value.
type Pick struct {
	Value     string `json:"value"`
	Label     string `json:"label"`
	IsDefault bool   `json:"isDefaultValue"`
	SortOrder int    `json:"sortOrder"`
	IsActive  bool   `json:"isActive"`
	IsSystem  bool   `json:"isSystem"`
}

// field is one field of an entity.
type field struct {
	Name     string
	DataType string // integer, long, string, boolean, datetime, decimal
	Length   int
	Required bool
	ReadOnly bool
	// RefEntity names the entity an id field refers to.
	RefEntity string
	Picklist  []Pick
}

// udfDef is a user-defined field definition.
type udfDef struct {
	Name     string
	DataType string
}

// entity is one entity's definition and records.
type entity struct {
	name   string
	fields []field
	udfs   []udfDef
	lower  map[string]*field
	recs   map[int]map[string]any
	ids    []int // ascending
	nextID int
}

func newEntity(name string, firstID int, fields ...field) *entity {
	e := &entity{name: name, fields: fields, lower: map[string]*field{}, recs: map[int]map[string]any{}, nextID: firstID}
	e.fields = append([]field{{Name: "id", DataType: "long", ReadOnly: true}}, e.fields...)
	for i := range e.fields {
		e.lower[strings.ToLower(e.fields[i].Name)] = &e.fields[i]
	}
	return e
}

// field finds a field by name, case-insensitively.
func (e *entity) field(name string) *field { return e.lower[strings.ToLower(name)] }

// udf finds a UDF definition by name, case-insensitively.
func (e *entity) udf(name string) (udfDef, bool) {
	for _, u := range e.udfs {
		if strings.EqualFold(u.Name, name) {
			return u, true
		}
	}
	return udfDef{}, false
}

// insert stores rec under a new id and returns it.
func (e *entity) insert(rec map[string]any) int {
	id := e.nextID
	e.nextID++
	rec["id"] = float64(id)
	if _, ok := rec["_udf"]; !ok {
		rec["_udf"] = map[string]string{}
	}
	e.recs[id] = rec
	e.ids = append(e.ids, id)
	sort.Ints(e.ids)
	return id
}

// pickLabel returns the label of a picklist value.
func (f *field) pickLabel(v any) (string, bool) {
	s := valueString(v)
	for _, p := range f.Picklist {
		if p.Value == s {
			return p.Label, true
		}
	}
	return "", false
}

// pickValue returns the value of a picklist label (case-insensitive).
func (f *field) pickValue(label string) (float64, bool) {
	for _, p := range f.Picklist {
		if strings.EqualFold(p.Label, label) {
			n, _ := strconv.ParseFloat(p.Value, 64)
			return n, true
		}
	}
	return 0, false
}

// picks builds a picklist from labels numbered by values.
func picks(def string, vals ...any) []Pick {
	var out []Pick
	for i := 0; i+1 < len(vals); i += 2 {
		label := vals[i+1].(string)
		out = append(out, Pick{Value: strconv.Itoa(vals[i].(int)), Label: label, IsActive: true, SortOrder: len(out) + 1, IsDefault: label == def})
	}
	return out
}

// Picklist values of the sandbox tenant.
var (
	companyTypes = picks("Customer", 1, "Customer", 2, "Lead", 3, "Prospect", 4, "Dead", 6, "Cancellation", 7, "Vendor", 8, "Partner")
	ciTypes      = picks("", 1, "Workstation", 2, "Server", 3, "Network Device", 4, "Mobile Device", 5, "Printer", 6, "Other")
	ticketStatus = picks("New", 1, "New", 5, "Complete", 7, "Waiting Customer", 8, "In Progress", 9, "Waiting Materials", 10, "Dispatched")
	ticketPrio   = picks("Medium", 4, "Critical", 1, "High", 2, "Medium", 3, "Low")
	queues       = picks("", 5, "Client Portal", 6, "Post Sale", 8, "Level I Support", 29683354, "Monitoring Alert")
	issueTypes   = picks("", 1, "Hardware", 2, "Software", 3, "Network", 4, "Backup")
	ticketTypes  = picks("Service Request", 1, "Service Request", 2, "Incident", 3, "Problem", 4, "Change Request", 5, "Alert")
	sources      = picks("", -1, "Client Portal", 2, "Phone", 4, "Email", 8, "Monitoring Alert")
	noteTypes    = picks("", 1, "Task Summary", 2, "Task Detail", 3, "Task Notes", 13, "Internal Note")
	publishTypes = picks("", 1, "All Autotask Users", 2, "Internal Project Team", 4, "Internal & Co-Managed")
	userTypes    = picks("", 1, "Administrator", 2, "Dispatcher", 3, "Technician", 4, "Full Access", 17, "API User (system)")
)

// CompanyRefUDF and DeviceRefUDF are the sandbox tenant's UDFs for
// rmmbridge's references (the names the demo connection's settings give).
const (
	CompanyRefUDF = "rmmbridge Organization"
	DeviceRefUDF  = "rmmbridge Device"
)

// Products are the sandbox's billing products a configuration item needs
// (productID), by id.
var Products = map[int]string{101: "Managed Workstation", 102: "Managed Server", 103: "Network Device"}

// DefaultProductID is the product the demo connection creates CIs with.
const DefaultProductID = 101

// newEntities builds the sandbox's entities, empty.
func newEntities() map[string]*entity {
	str := func(name string, n int) field { return field{Name: name, DataType: "string", Length: n} }
	ref := func(name, ent string) field { return field{Name: name, DataType: "integer", RefEntity: ent} }
	ro := func(f field) field { f.ReadOnly = true; return f }
	req := func(f field) field { f.Required = true; return f }
	pl := func(name string, p []Pick) field { return field{Name: name, DataType: "integer", Picklist: p} }
	boolean := func(name string) field { return field{Name: name, DataType: "boolean"} }
	dt := func(name string) field { return field{Name: name, DataType: "datetime"} }

	companies := newEntity("Companies", 29683400,
		req(str("companyName", 100)), str("companyNumber", 50), req(pl("companyType", companyTypes)), req(boolean("isActive")),
		str("phone", 25), str("address1", 128), str("address2", 128), str("city", 30), str("state", 25), str("postalCode", 10),
		ref("countryID", "Country"), str("webAddress", 255), req(ref("ownerResourceID", "Resource")), ref("parentCompanyID", "Company"),
		ro(dt("createDate")), ro(dt("lastActivityDate")), ro(dt("lastTrackedModifiedDateTime")), ro(ref("createdByResourceID", "Resource")))
	companies.udfs = []udfDef{{Name: CompanyRefUDF, DataType: "string"}, {Name: "Contract Tier", DataType: "string"}}

	locations := newEntity("CompanyLocations", 400,
		req(ref("companyID", "Company")), req(str("name", 100)), str("description", 500), boolean("isActive"), boolean("isPrimary"),
		str("address1", 100), str("address2", 100), str("city", 50), str("state", 25), str("postalCode", 20), str("phone", 25))

	cis := newEntity("ConfigurationItems", 6100,
		req(ref("companyID", "Company")), ref("companyLocationID", "CompanyLocation"), req(pl("configurationItemType", ciTypes)),
		req(ref("productID", "Product")), req(boolean("isActive")), str("referenceTitle", 200), str("referenceNumber", 50),
		str("serialNumber", 100), dt("installDate"), str("location", 100), str("notes", 8000),
		str("rmmDeviceAuditHostname", 255), str("rmmDeviceAuditOperatingSystem", 100), str("rmmDeviceAuditLastUser", 100),
		str("rmmDeviceAuditIPAddress", 255), str("rmmDeviceAuditExternalIPAddress", 255), str("rmmDeviceAuditMacAddress", 255),
		field{Name: "rmmDeviceAuditStorageBytes", DataType: "long"}, field{Name: "rmmDeviceAuditMemoryBytes", DataType: "long"},
		str("rmmDeviceAuditDescription", 500), ro(ref("rmmDeviceAuditManufacturerID", "RMMManufacturer")), ro(ref("rmmDeviceAuditModelID", "RMMModel")),
		ro(str("rmmDeviceUID", 100)), ro(dt("createDate")), ro(dt("lastModifiedTime")))
	cis.udfs = []udfDef{{Name: DeviceRefUDF, DataType: "string"}, {Name: "Warranty Notes", DataType: "string"}}

	tickets := newEntity("Tickets", 7300,
		req(ref("companyID", "Company")), ref("companyLocationID", "CompanyLocation"), ref("configurationItemID", "ConfigurationItem"),
		req(str("title", 255)), str("description", 8000), req(pl("status", ticketStatus)), req(pl("priority", ticketPrio)),
		req(pl("queueID", queues)), pl("issueType", issueTypes), pl("ticketType", ticketTypes), pl("source", sources),
		str("externalID", 50), str("rmmAlertID", 50), ro(str("ticketNumber", 50)), dt("dueDateTime"),
		ref("assignedResourceID", "Resource"), ro(dt("createDate")), ro(dt("completedDate")), ro(ref("creatorResourceID", "Resource")),
		ro(dt("lastActivityDate")), ro(ref("lastActivityResourceID", "Resource")), ro(field{Name: "lastActivityPersonType", DataType: "integer"}))

	notes := newEntity("TicketNotes", 90000,
		req(ref("ticketID", "Ticket")), req(str("title", 250)), req(str("description", 32000)), req(pl("noteType", noteTypes)),
		req(pl("publish", publishTypes)), ro(dt("createDateTime")), ro(ref("creatorResourceID", "Resource")), ro(dt("lastActivityDate")))

	resources := newEntity("Resources", 29682800,
		req(str("firstName", 50)), req(str("lastName", 50)), str("email", 254), str("userName", 32), req(boolean("isActive")),
		pl("userType", userTypes), str("title", 50), ro(field{Name: "licenseType", DataType: "integer"}))

	timeEntries := newEntity("TimeEntries", 500000,
		ref("ticketID", "Ticket"), req(ref("resourceID", "Resource")), dt("dateWorked"), field{Name: "hoursWorked", DataType: "decimal"},
		str("summaryNotes", 8000), ro(dt("createDateTime")))

	return map[string]*entity{
		"companies": companies, "companylocations": locations, "configurationitems": cis,
		"tickets": tickets, "ticketnotes": notes, "resources": resources, "timeentries": timeEntries,
	}
}

// valueString renders a JSON value for comparisons and picklists.
func valueString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// num reads a JSON number (or numeric string).
func num(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case string:
		n, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return n, err == nil
	}
	return 0, false
}
