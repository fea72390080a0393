package halopsa

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// The HaloPSA shapes the client reads and writes, with the property names
// of vendor-apis.md §6.5 (only the ones used). Lookups (top levels, asset
// types, statuses, ticket types, priorities, teams, agents) are read as
// bare arrays of {id, name}.

// customField is one entry of customfields (clients, tickets). Value is
// whatever JSON Halo holds.
type customField struct {
	ID    int             `json:"id"`
	Name  string          `json:"name,omitempty"`
	Value json.RawMessage `json:"value"`
}

// text returns a JSON value as text ("" for null).
func text(raw json.RawMessage) string {
	v := strings.TrimSpace(string(raw))
	if v == "" || v == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return v
}

func textValue(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

// fieldText returns the value of custom field id.
func fieldText(fields []customField, id int) string {
	for _, f := range fields {
		if f.ID == id {
			return text(f.Value)
		}
	}
	return ""
}

// apiClient is Client.
type apiClient struct {
	ID           int           `json:"id,omitempty"`
	Name         string        `json:"name"`
	TopLevelID   int           `json:"toplevel_id,omitempty"`
	TopLevelName string        `json:"toplevel_name,omitempty"`
	Inactive     bool          `json:"inactive"`
	CustomFields []customField `json:"customfields,omitempty"`
}

// apiSite is Site.
type apiSite struct {
	ID       int    `json:"id,omitempty"`
	Name     string `json:"name"`
	ClientID int    `json:"client_id"`
}

// assetField is one entry of an asset's fields (asset-type fields).
type assetField struct {
	ID    int             `json:"id"`
	Name  string          `json:"name,omitempty"`
	Value json.RawMessage `json:"value"`
}

// apiAsset is Asset.
type apiAsset struct {
	ID                 int          `json:"id,omitempty"`
	InventoryNumber    string       `json:"inventory_number"`
	ClientID           int          `json:"client_id"`
	SiteID             int          `json:"site_id,omitempty"`
	AssetTypeID        int          `json:"assettype_id"`
	Inactive           bool         `json:"inactive,omitempty"`
	ThirdPartyIDString string       `json:"third_party_id_string"`
	Fields             []assetField `json:"fields"`
}

func (a apiAsset) field(id int) string {
	if id == 0 {
		return ""
	}
	for _, f := range a.Fields {
		if f.ID == id {
			return text(f.Value)
		}
	}
	return ""
}

// idRef is {"id": N}.
type idRef struct {
	ID int `json:"id"`
}

// apiTicket is Tickets.
type apiTicket struct {
	ID           int           `json:"id,omitempty"`
	Summary      string        `json:"summary,omitempty"`
	Details      string        `json:"details,omitempty"`
	ClientID     int           `json:"client_id,omitempty"`
	SiteID       int           `json:"site_id,omitempty"`
	TicketTypeID int           `json:"tickettype_id,omitempty"`
	StatusID     int           `json:"status_id,omitempty"`
	PriorityID   int           `json:"priority_id,omitempty"`
	Team         string        `json:"team,omitempty"`
	Assets       []idRef       `json:"assets,omitempty"`
	CustomFields []customField `json:"customfields,omitempty"`
	DateCreated  string        `json:"datecreated,omitempty"`
}

// apiAction is Actions. Action ids are per ticket: an action is known by
// ticket_id and id together.
type apiAction struct {
	ID            int    `json:"id,omitempty"`
	TicketID      int    `json:"ticket_id"`
	Outcome       string `json:"outcome,omitempty"`
	Note          string `json:"note,omitempty"`
	HiddenFromUse bool   `json:"hiddenfromuser"`
	WhoAgentID    int    `json:"who_agentid,omitempty"`
	NewStatus     int    `json:"new_status,omitempty"`
}

// apiAgent is Agent.
type apiAgent struct {
	ID        int    `json:"id"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	Inactive  bool   `json:"inactive"`
	IsAPIOnly bool   `json:"is_api_only"`
}

// apiNamed is a lookup entry.
type apiNamed struct {
	ID         int    `json:"id"`
	Name       string `json:"name"`
	PriorityID int    `json:"priorityid"`
}

// parseTime reads a Halo timestamp.
func parseTime(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000Z", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}
