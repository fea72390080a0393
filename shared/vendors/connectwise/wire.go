package connectwise

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/psa"
)

// The ConnectWise PSA REST v3.0 shapes the client reads and writes, with the
// field names of vendor-apis.md §4.7 (only the fields we use). Members and
// audit-trail entries are not in §4.7; their names come from the same
// OpenAPI-generated models (pyconnectwise MemberModel, AuditTrailEntryModel).

// ref is a reference object ({id, name, identifier}). When the client
// writes one it sends the id only.
type ref struct {
	ID         int    `json:"id,omitempty"`
	Name       string `json:"name,omitempty"`
	Identifier string `json:"identifier,omitempty"`
}

// idRef returns a reference by id, or nil for 0.
func idRef(id int) *ref {
	if id == 0 {
		return nil
	}
	return &ref{ID: id}
}

func (r *ref) id() string {
	if r == nil || r.ID == 0 {
		return ""
	}
	return strconv.Itoa(r.ID)
}

func (r *ref) name() string {
	if r == nil {
		return ""
	}
	return r.Name
}

// info is the _info object every record carries.
type info struct {
	LastUpdated string `json:"lastUpdated,omitempty"`
	UpdatedBy   string `json:"updatedBy,omitempty"`
	DateEntered string `json:"dateEntered,omitempty"`
	EnteredBy   string `json:"enteredBy,omitempty"`
}

// customField is one entry of customFields. Value is whatever JSON the
// field holds (text, number, boolean, null).
type customField struct {
	ID               int             `json:"id"`
	Caption          string          `json:"caption,omitempty"`
	Type             string          `json:"type,omitempty"`
	EntryMethod      string          `json:"entryMethod,omitempty"`
	NumberOfDecimals int             `json:"numberOfDecimals,omitempty"`
	Value            json.RawMessage `json:"value"`
}

// text returns the field's value as text ("" for null).
func (f customField) text() string {
	v := strings.TrimSpace(string(f.Value))
	if v == "" || v == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(f.Value, &s) == nil {
		return s
	}
	return v
}

// textField is a custom field value to write.
func textField(id int, value string) customField {
	raw, _ := json.Marshal(value)
	return customField{ID: id, Value: raw}
}

// fieldText returns the value of custom field id among fields.
func fieldText(fields []customField, id int) string {
	for _, f := range fields {
		if f.ID == id {
			return f.text()
		}
	}
	return ""
}

// apiCompany is Company.
type apiCompany struct {
	ID           int           `json:"id"`
	Identifier   string        `json:"identifier"`
	Name         string        `json:"name"`
	Status       *ref          `json:"status"`
	Types        []ref         `json:"types"`
	Site         *ref          `json:"site"`
	DeletedFlag  bool          `json:"deletedFlag"`
	CustomFields []customField `json:"customFields"`
	Info         info          `json:"_info"`
}

// apiNewCompany is the Company body of POST /company/companies.
type apiNewCompany struct {
	Identifier   string        `json:"identifier"`
	Name         string        `json:"name"`
	Status       *ref          `json:"status,omitempty"`
	Types        []ref         `json:"types,omitempty"`
	Site         *ref          `json:"site,omitempty"`
	CustomFields []customField `json:"customFields,omitempty"`
}

// apiSite is CompanySite.
type apiSite struct {
	ID                 int    `json:"id,omitempty"`
	Name               string `json:"name"`
	Company            *ref   `json:"company,omitempty"`
	InactiveFlag       bool   `json:"inactiveFlag,omitempty"`
	PrimaryAddressFlag bool   `json:"primaryAddressFlag,omitempty"`
}

// apiNamed is a picklist entry: company status or type, configuration type,
// manufacturer, priority, board, board status (which adds closedStatus and
// says "inactive" where the others say "inactiveFlag").
type apiNamed struct {
	ID           int    `json:"id"`
	Name         string `json:"name"`
	DefaultFlag  bool   `json:"defaultFlag"`
	InactiveFlag bool   `json:"inactiveFlag"`
	Inactive     bool   `json:"inactive"`
	SortOrder    int    `json:"sortOrder"`
	ClosedStatus bool   `json:"closedStatus"`
}

func (n apiNamed) ref() psa.NamedRef { return psa.NamedRef{ID: strconv.Itoa(n.ID), Name: n.Name} }

// apiConfiguration is CompanyConfiguration.
type apiConfiguration struct {
	ID               int           `json:"id,omitempty"`
	Name             string        `json:"name"`
	Type             *ref          `json:"type,omitempty"`
	Status           *ref          `json:"status,omitempty"`
	Company          *ref          `json:"company,omitempty"`
	Site             *ref          `json:"site,omitempty"`
	DeviceIdentifier string        `json:"deviceIdentifier"`
	SerialNumber     string        `json:"serialNumber"`
	ModelNumber      string        `json:"modelNumber"`
	Manufacturer     *ref          `json:"manufacturer,omitempty"`
	IPAddress        string        `json:"ipAddress"`
	MACAddress       string        `json:"macAddress"`
	OSType           string        `json:"osType"`
	LocalHardDrives  string        `json:"localHardDrives"`
	LastLoginName    string        `json:"lastLoginName"`
	CustomFields     []customField `json:"customFields,omitempty"`
	Info             *info         `json:"_info,omitempty"`
}

// apiTicket is Ticket (service ticket).
type apiTicket struct {
	ID                 int    `json:"id,omitempty"`
	Summary            string `json:"summary"`
	RecordType         string `json:"recordType,omitempty"`
	Board              *ref   `json:"board,omitempty"`
	Status             *ref   `json:"status,omitempty"`
	Priority           *ref   `json:"priority,omitempty"`
	Type               *ref   `json:"type,omitempty"`
	Company            *ref   `json:"company,omitempty"`
	Site               *ref   `json:"site,omitempty"`
	InitialDescription string `json:"initialDescription,omitempty"`
	ExternalXRef       string `json:"externalXRef,omitempty"`
	ClosedFlag         bool   `json:"closedFlag,omitempty"`
	Info               *info  `json:"_info,omitempty"`
}

// apiNote is ServiceNote.
type apiNote struct {
	ID                    int    `json:"id,omitempty"`
	TicketID              int    `json:"ticketId,omitempty"`
	Text                  string `json:"text"`
	DetailDescriptionFlag bool   `json:"detailDescriptionFlag"`
	InternalAnalysisFlag  bool   `json:"internalAnalysisFlag"`
	ResolutionFlag        bool   `json:"resolutionFlag"`
	CreatedBy             string `json:"createdBy,omitempty"`
	Member                *ref   `json:"member,omitempty"`
	DateCreated           string `json:"dateCreated,omitempty"`
}

// apiMember is Member.
type apiMember struct {
	ID           int    `json:"id"`
	Identifier   string `json:"identifier"`
	FirstName    string `json:"firstName"`
	LastName     string `json:"lastName"`
	PrimaryEmail string `json:"primaryEmail"`
	OfficeEmail  string `json:"officeEmail"`
	InactiveFlag bool   `json:"inactiveFlag"`
	SecurityRole *ref   `json:"securityRole,omitempty"`
}

// apiAuditEntry is AuditTrailEntry.
type apiAuditEntry struct {
	Text         string `json:"text"`
	EnteredDate  string `json:"enteredDate"`
	EnteredBy    string `json:"enteredBy"`
	AuditType    string `json:"auditType"`
	AuditSubType string `json:"auditSubType"`
	AuditSource  string `json:"auditSource"`
}

// apiError is the error body (vendor-apis.md §4.6).
type apiError struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Errors  []apiFieldError `json:"errors"`
}

type apiFieldError struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Resource string `json:"resource"`
	Field    string `json:"field"`
}

// patchOp is one JSON Patch operation; ConnectWise paths are field names
// ("status"), vendor-apis.md §4.7.
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

func replace(path string, value any) patchOp { return patchOp{Op: "replace", Path: path, Value: value} }

// parseTime reads a ConnectWise timestamp (ISO 8601, UTC "Z").
func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
