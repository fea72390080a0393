package autotask

import (
	"fmt"

	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/vendorhttp"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Spec is Autotask PSA as rmmbridge knows it: its credentials, the
// connection settings the client reads, its capabilities and its opener.
//
// Its request budget is the Autotask database's (Config.Budget, keyed
// "autotask-" + BudgetKey: every connection to the same zone with the same
// integration code shares it): half of the hourly threshold
// ThresholdInformation reports (Share 0.5, calibrated at most once a
// minute), less what other integrations use; DefaultRequestsPerMinute
// until the first calibration. At most 3 requests in flight per entity
// endpoint (Autotask's thread limit per integration code), the zone
// lookup exempt.
var Spec = vendorspec.Spec{
	Name:        "autotask",
	Kind:        vendorspec.KindPSA,
	DisplayName: "Autotask PSA",
	Credentials: []vendorspec.CredentialField{
		{Name: "username", Required: true, Description: "The API-only user's user name (an email address)."},
		{Name: "secret", Required: true, Secret: true, Description: "The API-only user's secret (password)."},
		{Name: "integrationCode", Required: true, Description: "The API tracking identifier (integration code) of the API user."},
	},
	Settings: []vendorspec.Setting{
		{Name: "zoneLookup", Type: vendorspec.Boolean, Default: true,
			Description: "Find the API user's zone (ZoneInformation) at the base URL (a webservicesN.autotask.net/ATServicesRest " +
				"address) and use the zone's URL. false: the base URL is the zone's REST root itself."},
		{Name: "accountRefUdf", Type: vendorspec.String, Default: "rmmbridge Organization", MaxLength: 100,
			Description: "Name of a company user-defined field (text) where rmmbridge stores the RMM organization id: how a create " +
				"interrupted by a crash is found and adopted instead of repeated. Create it in Autotask before \"Test & save\"."},
		{Name: "assetRefUdf", Type: vendorspec.String, Default: "rmmbridge Device", MaxLength: 100,
			Description: "Name of a configuration item user-defined field (text) where rmmbridge stores the RMM device id " +
				"(the first rung of asset matching). Create it in Autotask before \"Test & save\"."},
		{Name: "ownerResourceId", Type: vendorspec.Integer, Min: vendorspec.Int(1),
			Description: "Resource id that owns the companies rmmbridge creates (Autotask requires an owner)."},
		{Name: "companyType", Type: vendorspec.String, Default: "Customer", MaxLength: 100,
			Description: "Company type (label or value) of the companies rmmbridge creates when none is asked for."},
		{Name: "configurationItemType", Type: vendorspec.String, MaxLength: 100,
			Description: "Configuration item type (label or value) for a device whose type has no CI type of the same name."},
		{Name: "productId", Type: vendorspec.Integer, Min: vendorspec.Int(1),
			Description: "Product id of the configuration items rmmbridge creates (Autotask requires a product)."},
		{Name: "ticketQueue", Type: vendorspec.String, MaxLength: 100,
			Description: "Queue (label or value) of alert tickets when the integration names none."},
		{Name: "ticketStatus", Type: vendorspec.String, Default: "New", MaxLength: 100,
			Description: "Status (label or value) of new alert tickets when the integration names none; also the reopen status."},
		{Name: "ticketPriority", Type: vendorspec.String, Default: "Medium", MaxLength: 100,
			Description: "Priority (label or value) of alert tickets when the integration maps none."},
		{Name: "completeStatus", Type: vendorspec.String, Default: "Complete", MaxLength: 100,
			Description: "Status (label or value) that closes a ticket."},
		{Name: "reopenStatus", Type: vendorspec.String, MaxLength: 100,
			Description: "Status (label or value) that reopens a ticket; unset uses ticketStatus."},
	},
	Capabilities: []vendorspec.Offer{
		{Capability: vendorspec.AccountsCreate},
		{Capability: vendorspec.AccountsFindByRef, NeedsSetting: "accountRefUdf"},
		{Capability: vendorspec.AccountsRecent},
		{Capability: vendorspec.AssetsFindByRef, NeedsSetting: "assetRefUdf"},
		{Capability: vendorspec.AssetsList},
		{Capability: vendorspec.TicketsFindByRef},
		{Capability: vendorspec.TicketsReopen},
		{Capability: vendorspec.MembersList},
		{Capability: vendorspec.TicketsPicklists},
	},
	Budget:  vendorspec.Budget{MaxConcurrency: 3, Share: 0.5, RequestsPerMinute: DefaultRequestsPerMinute},
	OpenPSA: open,
}

// DefaultRequestsPerMinute is the budget until the first calibration:
// half of Autotask's usual threshold of 10,000 requests an hour, per
// minute.
const DefaultRequestsPerMinute = 10000 / 60 / 2

// open opens a client for a connection.
func open(p vendorspec.Params) (psa.Client, error) {
	s, cr := p.Settings, p.Credentials
	c, err := New(Config{BaseURL: p.BaseURL, FixedBase: !s.Bool("zoneLookup"),
		Username: cr["username"], Secret: cr["secret"], IntegrationCode: cr["integrationCode"],
		AccountRefUDF: s.String("accountRefUdf"), AssetRefUDF: s.String("assetRefUdf"),
		OwnerResourceID: s.Int("ownerResourceId"), CompanyType: s.String("companyType"),
		ConfigurationItemType: s.String("configurationItemType"), ProductID: s.Int("productId"),
		TicketQueue: s.String("ticketQueue"), TicketStatus: s.String("ticketStatus"), TicketPriority: s.String("ticketPriority"),
		CompleteStatus: s.String("completeStatus"), ReopenStatus: s.String("reopenStatus"), Budget: budgetOf(p)}, p.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("open autotask client: %w", err)
	}
	return c, nil
}

// budgetOf opens the connection's budgets by key (nil without budgets).
func budgetOf(p vendorspec.Params) func(key string) vendorhttp.Limiter {
	if p.Budget == nil {
		return nil
	}
	return func(key string) vendorhttp.Limiter { return p.Limiter(key) }
}
