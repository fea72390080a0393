package connectwise_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
)

// Field names per record, kept here as the test's own data. They come from
// the models HealthITAU/pyconnectwise generates from ConnectWise's OpenAPI
// document (commit 5ea14c1d075d: CompanyModel, CompanySiteModel,
// ConfigurationModel, TicketModel, ServiceNoteModel, MemberModel,
// AuditTrailEntryModel and the reference models), and the error body its
// client parses (code, message, errors[] with resource and field); the
// team handbook's vendor-apis.md §4.6-4.7 summarises the same sources.
var (
	companyFields = []string{"id", "identifier", "name", "status", "types", "site", "addressLine1", "addressLine2", "city", "state",
		"zip", "country", "phoneNumber", "website", "territory", "market", "accountNumber", "defaultContact", "parentCompany",
		"deletedFlag", "dateDeleted", "customFields", "_info"}
	customFieldFields = []string{"id", "caption", "type", "entryMethod", "numberOfDecimals", "value"}
	siteFields        = []string{"id", "name", "addressLine1", "addressLine2", "city", "stateReference", "zip", "country", "phoneNumber",
		"faxNumber", "primaryAddressFlag", "defaultShippingFlag", "defaultBillingFlag", "defaultMailingFlag", "inactiveFlag",
		"company", "timeZone", "_info"}
	configurationFields = []string{"id", "name", "type", "status", "company", "site", "contact", "deviceIdentifier", "serialNumber",
		"modelNumber", "tagNumber", "manufacturer", "purchaseDate", "installationDate", "warrantyExpirationDate", "ipAddress",
		"macAddress", "defaultGateway", "osType", "osInfo", "cpuSpeed", "ram", "localHardDrives", "lastLoginName", "remoteLink",
		"managementLink", "notes", "vendorNotes", "activeFlag", "billFlag", "parentConfigurationId", "questions", "customFields", "_info"}
	ticketFields = []string{"id", "summary", "board", "company", "site", "contact", "status", "priority", "type", "subType", "item",
		"severity", "impact", "initialDescription", "initialInternalAnalysis", "initialResolution", "source", "closedFlag",
		"customFields", "externalXRef", "owner", "team", "recordType", "_info"}
	noteFields = []string{"id", "ticketId", "text", "detailDescriptionFlag", "internalAnalysisFlag", "resolutionFlag", "issueFlag",
		"internalFlag", "externalFlag", "customerUpdatedFlag", "processNotifications", "dateCreated", "createdBy", "member", "contact"}
	infoFields        = []string{"lastUpdated", "updatedBy"}
	memberFields      = []string{"id", "identifier", "firstName", "lastName", "title", "inactiveFlag", "primaryEmail", "officeEmail", "licenseClass", "securityRole", "_info"}
	auditFields       = []string{"text", "enteredDate", "enteredBy", "auditType", "auditSubType", "auditSource"}
	errorFields       = []string{"code", "message", "errors"}
	fieldErrorFields  = []string{"code", "message", "resource", "field"}
	idNameFields      = []string{"id", "name"}
	companyRefFields  = []string{"id", "identifier", "name"}
	stateRefFields    = []string{"id", "identifier", "name"}
	configRefOnTicket = []string{"id", "deviceIdentifier", "name"}
)

func missing(obj map[string]any, fields []string) []string {
	var out []string
	for _, f := range fields {
		if _, ok := obj[f]; !ok {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

// TestShapes reads the sandbox's raw JSON and checks it carries every field
// name listed above for the record.
func TestShapes(t *testing.T) {
	srv, c, _ := setup(t, sandbox.Options{Seed: 51, Orgs: []string{"Acme"}, DeviceCount: 2})
	ctx := context.Background()
	co := srv.Companies()[0]
	cfg := srv.Configurations()[0]
	tk, err := c.CreateTicket(ctx, psa.NewTicket{AccountID: fmt.Sprint(cfg.CompanyID), AssetID: fmt.Sprint(cfg.ID), Summary: "Shape", Description: "d", Board: psa.NamedRef{ID: "1"}})
	if err != nil {
		t.Fatal(err)
	}

	one := func(path string) map[string]any {
		var m map[string]any
		if st := raw(t, srv, "GET", path, "", "", nil, &m); st != 200 {
			t.Fatalf("GET %s answered %d", path, st)
		}
		return m
	}
	first := func(path string) map[string]any {
		var ms []map[string]any
		if st := raw(t, srv, "GET", path, "", "", nil, &ms); st != 200 || len(ms) == 0 {
			t.Fatalf("GET %s answered %d with %d records", path, st, len(ms))
		}
		return ms[0]
	}
	obj := func(v any) map[string]any { m, _ := v.(map[string]any); return m }
	arr0 := func(v any) map[string]any { a, _ := v.([]any); return obj(a[0]) }

	company := one(fmt.Sprintf("/company/companies/%d", co.ID))
	site := first(fmt.Sprintf("/company/companies/%d/sites", co.ID))
	config := one(fmt.Sprintf("/company/configurations/%d", cfg.ID))
	ticket := one("/service/tickets/" + tk.ID)
	note := first("/service/tickets/" + tk.ID + "/notes")
	var errBody map[string]any
	raw(t, srv, "POST", "/company/companies", "", "", map[string]any{"name": "x", "identifier": co.Identifier, "site": map[string]any{"name": "Main"}}, &errBody)

	tests := []struct {
		name   string
		record map[string]any
		fields []string
	}{
		{"company (§4.7)", company, companyFields},
		{"company status", obj(company["status"]), idNameFields},
		{"company type", arr0(company["types"]), idNameFields},
		{"company custom field", arr0(company["customFields"]), customFieldFields},
		{"company _info", obj(company["_info"]), infoFields},
		{"site (§4.7)", site, siteFields},
		{"site company", obj(site["company"]), companyRefFields},
		{"site state", obj(site["stateReference"]), stateRefFields},
		{"configuration (§4.7)", config, configurationFields},
		{"configuration company", obj(config["company"]), companyRefFields},
		{"configuration type", obj(config["type"]), idNameFields},
		{"configuration manufacturer", obj(config["manufacturer"]), idNameFields},
		{"ticket (§4.7)", ticket, ticketFields},
		{"ticket board", obj(ticket["board"]), idNameFields},
		{"ticket company", obj(ticket["company"]), companyRefFields},
		{"ticket configuration", first("/service/tickets/" + tk.ID + "/configurations"), configRefOnTicket},
		{"note (§4.7 ServiceNote)", note, noteFields},
		{"member", first("/system/members"), memberFields},
		{"member security role", obj(first("/system/members")["securityRole"]), idNameFields},
		{"audit trail entry", first("/system/audittrail?type=Ticket&id=" + tk.ID), auditFields},
		{"error body (§4.6)", errBody, errorFields},
		{"field error (§4.6)", arr0(errBody["errors"]), fieldErrorFields},
		{"board status", first("/service/boards/1/statuses"), []string{"id", "name", "board", "sortOrder", "inactive", "closedStatus", "defaultFlag"}},
		{"priority", first("/service/priorities"), []string{"id", "name", "sortOrder", "defaultFlag"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.record == nil {
				t.Fatal("record missing")
			}
			if m := missing(tt.record, tt.fields); len(m) > 0 {
				t.Errorf("missing fields %v in %v", m, keys(tt.record))
			}
		})
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
