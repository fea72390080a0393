package halopsa

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// deviceClasses are the device classes assetTypeMap may name (rmm.DeviceType).
var deviceClasses = []string{"workstation", "server", "mac", "linux", "mobile", "vm_host", "vm", "network", "other"}

func fieldSetting(name, what string) vendorspec.Setting {
	return vendorspec.Setting{Name: name, Type: vendorspec.Integer, Min: vendorspec.Int(1),
		Description: "Id of the asset-type field that receives the device's " + what + "; unset leaves it unstored."}
}

// Spec is HaloPSA as rmmbridge knows it. Its request budget is the
// instance's (BudgetKey: host and tenant; every connection to it shares
// it): DefaultRequestsPerMinute unless requestsPerMinute says otherwise,
// calibrated on the X-RateLimit headers Halo sends, every request (the
// discovery and token requests included) drawn from it.
var Spec = vendorspec.Spec{
	Name:        "halopsa",
	Kind:        vendorspec.KindPSA,
	DisplayName: "HaloPSA",
	Credentials: []vendorspec.CredentialField{
		{Name: "clientId", Required: true, Description: "The API application's client id (Configuration → Integrations → Halo API)."},
		{Name: "clientSecret", Required: true, Secret: true, Description: "The API application's client secret."},
		{Name: "tenant", Description: "The tenant, for Halo-hosted instances (sent with the token request); empty for self-hosted ones."},
	},
	Settings: []vendorspec.Setting{
		{Name: "accountRefFieldId", Type: vendorspec.Integer, Min: vendorspec.Int(1),
			Description: "Id of a client custom field (text) where rmmbridge stores the RMM organization id: how a create " +
				"interrupted by a crash is found and adopted instead of repeated. Without it the connection lacks accounts.findByRef."},
		{Name: "ticketRefFieldId", Type: vendorspec.Integer, Min: vendorspec.Int(1),
			Description: "Id of a ticket custom field (text) where rmmbridge stores the alert series id, so a worker that " +
				"crashed after creating a ticket adopts it. Without it the connection lacks tickets.findByRef."},
		fieldSetting("assetSerialFieldId", "serial number (also what serial lookups compare)"),
		fieldSetting("assetOsFieldId", "operating system"),
		fieldSetting("assetLastUserFieldId", "last logged-in user"),
		fieldSetting("assetManufacturerFieldId", "manufacturer"),
		fieldSetting("assetModelFieldId", "model"),
		fieldSetting("assetIpFieldId", "IP address"),
		fieldSetting("assetMacFieldId", "MAC address"),
		fieldSetting("assetCheckInFieldId", "last check-in time (RFC 3339)"),
		fieldSetting("assetVolumesFieldId", "storage totals and per-volume summary"),
		{Name: "assetTypeMap", Type: vendorspec.StringList, MaxItems: len(deviceClasses),
			Pattern: `^(` + strings.Join(deviceClasses, "|") + `)=[1-9][0-9]{0,9}$`,
			Description: "Asset type per RMM device class, as class=assetTypeId (workstation=101); the client's connection test " +
				"checks them against the instance's asset types. The first class mapped to a type is the one it reads back as."},
		{Name: "defaultAssetTypeId", Type: vendorspec.Integer, Min: vendorspec.Int(1),
			Description: "Asset type for device classes assetTypeMap does not name; unset refuses to create their assets."},
		{Name: "closedStatusId", Type: vendorspec.Integer, Min: vendorspec.Int(1),
			Description: "Ticket status that closes a ticket; unset uses 9, Halo's built-in Closed."},
		{Name: "reopenStatusId", Type: vendorspec.Integer, Min: vendorspec.Int(1),
			Description: "Ticket status that reopens a ticket (a trigger inside the reopen window). Without it the connection lacks tickets.reopen."},
		{Name: "apiAgentId", Type: vendorspec.Integer, Min: vendorspec.Int(1),
			Description: "Id of the agent the API application runs as; unset asks HaloPSA (Agent/me). Its actions count as rmmbridge's own."},
		{Name: "ignoreAgentIds", Type: vendorspec.StringList, Pattern: `^[1-9][0-9]{0,9}$`, MaxItems: 100,
			Description: "Agent ids whose actions also count as rmmbridge's own (a workflow agent, for example)."},
	},
	Capabilities: []vendorspec.Offer{
		{Capability: vendorspec.AccountsCreate},
		{Capability: vendorspec.AccountsFindByRef, NeedsSetting: "accountRefFieldId"},
		{Capability: vendorspec.AssetsFindByRef},
		{Capability: vendorspec.AssetsList},
		{Capability: vendorspec.TicketsFindByRef, NeedsSetting: "ticketRefFieldId"},
		{Capability: vendorspec.TicketsReopen, NeedsSetting: "reopenStatusId"},
		{Capability: vendorspec.MembersList},
		{Capability: vendorspec.TicketsPicklists},
	},
	Budget:  vendorspec.Budget{RequestsPerMinute: DefaultRequestsPerMinute},
	OpenPSA: open,
}

// DefaultRequestsPerMinute is the budget of a connection whose
// requestsPerMinute setting is unset: Halo does not publish its limit
// (vendor-apis.md §6.4 [U]), and 60 a minute is the most conservative
// figure third parties report (others report 450–700 per 5 minutes).
const DefaultRequestsPerMinute = 60

// ConfigFromSettings fills the settings part of a Config.
func ConfigFromSettings(cfg *Config, s vendorspec.Settings) error {
	cfg.AccountRefFieldID, cfg.TicketRefFieldID = s.Int("accountRefFieldId"), s.Int("ticketRefFieldId")
	cfg.AssetFields = AssetFields{
		Serial: s.Int("assetSerialFieldId"), OS: s.Int("assetOsFieldId"), LastUser: s.Int("assetLastUserFieldId"),
		Manufacturer: s.Int("assetManufacturerFieldId"), Model: s.Int("assetModelFieldId"), IP: s.Int("assetIpFieldId"),
		MAC: s.Int("assetMacFieldId"), CheckIn: s.Int("assetCheckInFieldId"), Disks: s.Int("assetVolumesFieldId"),
	}
	seen := map[string]bool{}
	for _, e := range s.Strings("assetTypeMap") {
		class, id, ok := strings.Cut(e, "=")
		n, err := strconv.Atoi(id)
		if !ok || err != nil || n <= 0 || seen[class] {
			return apperr.InvalidFields(apperr.FieldError{Field: "settings.assetTypeMap", Message: fmt.Sprintf("entry %q is not class=assetTypeId, or repeats a class", e)})
		}
		seen[class] = true
		cfg.AssetTypes = append(cfg.AssetTypes, AssetType{DeviceType: class, TypeID: n})
	}
	cfg.DefaultAssetTypeID = s.Int("defaultAssetTypeId")
	cfg.ClosedStatusID, cfg.ReopenStatusID = s.Int("closedStatusId"), s.Int("reopenStatusId")
	cfg.APIAgentID = s.Int("apiAgentId")
	for _, id := range s.Strings("ignoreAgentIds") {
		n, _ := strconv.Atoi(id)
		cfg.IgnoreAgentIDs = append(cfg.IgnoreAgentIDs, n)
	}
	return nil
}

// open opens a client for a connection.
func open(p vendorspec.Params) (psa.Client, error) {
	cr := p.Credentials
	cfg := Config{BaseURL: p.BaseURL, ClientID: cr["clientId"], ClientSecret: cr["clientSecret"], Tenant: cr["tenant"],
		Limiter: p.Limiter(BudgetKey(p.BaseURL, cr["tenant"]))}
	if err := ConfigFromSettings(&cfg, p.Settings); err != nil {
		return nil, err
	}
	c, err := New(cfg, p.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("open halopsa client: %w", err)
	}
	return c, nil
}
