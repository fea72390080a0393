package connectwise

import (
	"fmt"

	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Spec is ConnectWise PSA as rmmbridge knows it: its credentials, the
// connection settings the client reads, its capabilities and its opener.
// Its request budget is the default one per connection (ConnectWise
// publishes no limits; its 429s cool the budget down).
var Spec = vendorspec.Spec{
	Name:        "connectwise",
	Kind:        vendorspec.KindPSA,
	DisplayName: "ConnectWise PSA",
	Credentials: []vendorspec.CredentialField{
		{Name: "companyId", Required: true, Description: "The company id you log in with."},
		{Name: "publicKey", Required: true, Description: "The API member's public key."},
		{Name: "privateKey", Required: true, Secret: true, Description: "The API member's private key."},
		{Name: "clientId", Required: true, Description: "The integration's clientId (a GUID from developer.connectwise.com)."},
	},
	Settings: []vendorspec.Setting{
		{Name: "accountRefFieldId", Type: vendorspec.Integer, Min: vendorspec.Int(1),
			Description: "Id of a company custom field (text) where rmmbridge stores the RMM organization id: how a create " +
				"interrupted by a crash is found and adopted instead of repeated. Without it the connection cannot find " +
				"accounts by rmmbridge's reference (accounts.findByRef), so accounts cannot be created or auto-matched safely."},
		{Name: "assetCheckInFieldId", Type: vendorspec.Integer, Min: vendorspec.Int(1),
			Description: "Id of a configuration custom field that receives the device's last check-in time (RFC 3339); unset drops it."},
		{Name: "apiMember", Type: vendorspec.String,
			Description: "Identifier of the API member whose keys rmmbridge uses: changes by it count as rmmbridge's own when " +
				"deciding whether a ticket was worked on. Unset: the member who entered the ticket."},
		{Name: "ignoreMembers", Type: vendorspec.StringList,
			Description: "Member identifiers whose changes also count as rmmbridge's own (a workflow account, for example)."},
		{Name: "closedStatus", Type: vendorspec.String,
			Description: "Board status that closes a ticket; unset picks the board's first closed status by sort order."},
		{Name: "reopenStatus", Type: vendorspec.String,
			Description: "Board status that reopens a ticket (a trigger inside the integration's reopen window); unset picks " +
				"the board's default status, or its first open status by sort order."},
	},
	Capabilities: []vendorspec.Offer{
		{Capability: vendorspec.AccountsCreate},
		{Capability: vendorspec.AccountsFindByRef, NeedsSetting: "accountRefFieldId"},
		{Capability: vendorspec.AccountsRecent},
		{Capability: vendorspec.AssetsFindByRef},
		{Capability: vendorspec.AssetsList},
		{Capability: vendorspec.TicketsFindByRef},
		{Capability: vendorspec.TicketsReopen},
		{Capability: vendorspec.MembersList},
		{Capability: vendorspec.TicketsPicklists},
	},
	OpenPSA: open,
}

// open opens a client for a connection.
func open(p vendorspec.Params) (psa.Client, error) {
	s, cr := p.Settings, p.Credentials
	c, err := New(Config{BaseURL: p.BaseURL, CompanyID: cr["companyId"], PublicKey: cr["publicKey"],
		PrivateKey: cr["privateKey"], ClientID: cr["clientId"],
		AccountRefFieldID: s.Int("accountRefFieldId"), AssetCheckInFieldID: s.Int("assetCheckInFieldId"),
		APIMember: s.String("apiMember"), IgnoreMembers: s.Strings("ignoreMembers"),
		ClosedStatus: s.String("closedStatus"), ReopenStatus: s.String("reopenStatus"),
		Limiter: p.Limiter("")}, p.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("open connectwise client: %w", err)
	}
	return c, nil
}
