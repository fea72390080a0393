package connection

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/limits"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Severities an RMM alert can have, the keys of Settings.PriorityMap.
var Severities = []string{"critical", "major", "moderate", "minor", "none"}

// Settings are an integration's behaviour switches.
type Settings struct {
	// AutoCreateAccounts creates a PSA account for an unmapped organization
	// when an import or alert needs one.
	AutoCreateAccounts bool `json:"autoCreateAccounts"`
	// ProvisionRmmOrgs creates RMM organizations for new PSA accounts.
	ProvisionRmmOrgs bool `json:"provisionRmmOrgs"`
	// AccountDefaults are the status and type of accounts rmmbridge creates.
	AccountDefaults AccountDefaults `json:"accountDefaults,omitzero"`
	// TicketDefaults are vendor ticket fields (board, status, type, …).
	TicketDefaults map[string]string `json:"ticketDefaults,omitempty"`
	// PriorityMap maps an alert severity to a PSA priority.
	PriorityMap map[string]string `json:"priorityMap,omitempty"`
	// CatchAllAccountID receives tickets for devices of unmapped
	// organizations when AutoCreateAccounts is off.
	CatchAllAccountID string `json:"catchAllAccountId,omitempty"`
	// ReopenWindowMinutes: a trigger this soon after a close reopens the
	// same ticket instead of creating a new one.
	ReopenWindowMinutes int `json:"reopenWindowMinutes,omitempty"`
	// AlertPolicy decides which alerts become tickets (all, when zero).
	AlertPolicy AlertPolicy `json:"alertPolicy,omitzero"`
}

func (s Settings) validate() []apperr.FieldError {
	var fe []apperr.FieldError
	known := map[string]bool{}
	for _, sev := range Severities {
		known[sev] = true
	}
	var keys []string
	for k := range s.PriorityMap {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !known[k] {
			fe = append(fe, apperr.FieldError{Field: "settings.priorityMap." + k, Message: "must be one of " + strings.Join(Severities, ", ")})
		}
	}
	if s.ReopenWindowMinutes < 0 || s.ReopenWindowMinutes > 7*24*60 {
		fe = append(fe, apperr.FieldError{Field: "settings.reopenWindowMinutes", Message: "must be from 0 to 10080"})
	}
	fe = append(fe, limits.StringMap("settings.priorityMap", s.PriorityMap, nil, nil)...)
	fe = append(fe, limits.StringMap("settings.ticketDefaults", s.TicketDefaults, nil, nil)...)
	fe = appendErr(fe, limits.Text("settings.accountDefaults.status", s.AccountDefaults.Status, limits.MaxTextLength))
	fe = appendErr(fe, limits.Text("settings.accountDefaults.type", s.AccountDefaults.Type, limits.MaxTextLength))
	if s.CatchAllAccountID != "" {
		fe = appendErr(fe, limits.ID("settings.catchAllAccountId", s.CatchAllAccountID))
	}
	fe = append(fe, s.AlertPolicy.validate("settings.alertPolicy")...)
	if len(fe) == 0 {
		if b, err := json.Marshal(s); err == nil && len(b) > limits.MaxSettingsBytes {
			fe = append(fe, apperr.FieldError{Field: "settings", Message: fmt.Sprintf("is %d bytes as JSON; the limit is %d", len(b), limits.MaxSettingsBytes)})
		}
	}
	return fe
}

// AccountDefaults are the status and type (ids or names) of new accounts.
type AccountDefaults struct {
	Status string `json:"status,omitempty" dynamodbav:"status,omitempty"`
	Type   string `json:"type,omitempty" dynamodbav:"type,omitempty"`
}

// Integration pairs one RMM connection with one PSA connection.
type Integration struct {
	ID              string    `json:"id"`
	TenantID        string    `json:"-"`
	Name            string    `json:"name"`
	RMMConnectionID string    `json:"rmmConnectionId"`
	PSAConnectionID string    `json:"psaConnectionId"`
	Settings        Settings  `json:"settings"`
	CreatedAt       time.Time `json:"createdAt"`
	UpdatedAt       time.Time `json:"updatedAt"`
	// WebhookSecretHash is the hex SHA-256 of the webhook secret, for
	// bearer and token checks; the secret itself is in the secret store
	// (WebhookSecretRef) for Standard Webhooks HMAC verification.
	WebhookSecretHash string `json:"-"`
	WebhookSecretRef  string `json:"-"`
	// Version counts the integration's updates (1 when created; 0 for one
	// stored before versions existed). The API shows it as the ETag.
	Version int64 `json:"-"`
}

// WebhookPath is where the RMM sends alerts for this integration.
func (in Integration) WebhookPath() string { return "/v1/webhooks/" + in.ID + "/rmm" }

// CheckWebhookSecret reports whether presented is the webhook secret, in
// constant time.
func (in Integration) CheckWebhookSecret(presented string) bool {
	sum := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(in.WebhookSecretHash)) == 1
}

// IntegrationInput creates an integration.
type IntegrationInput struct {
	Name            string   `json:"name"`
	RMMConnectionID string   `json:"rmmConnectionId"`
	PSAConnectionID string   `json:"psaConnectionId"`
	Settings        Settings `json:"settings"`
}

// CreateIntegration saves a new integration and returns it with its
// webhook secret, which is shown only this once.
func (s *Service) CreateIntegration(ctx context.Context, tenantID string, in IntegrationInput) (Integration, string, error) {
	in.Name = strings.TrimSpace(in.Name)
	var fe []apperr.FieldError
	fe = appendErr(fe, checkName(in.Name, "is required"))
	fe = append(fe, in.Settings.validate()...)
	var conns [2]*Connection
	for i, ref := range []struct{ field, id, kind string }{
		{"rmmConnectionId", in.RMMConnectionID, KindRMM},
		{"psaConnectionId", in.PSAConnectionID, KindPSA},
	} {
		c, cfe, err := s.checkConnection(ctx, tenantID, ref.field, ref.id, ref.kind)
		if err != nil {
			return Integration{}, "", err
		}
		fe = appendErr(fe, cfe)
		conns[i] = c
	}
	if conns[0] != nil && conns[1] != nil {
		fe = append(fe, s.checkFeatures(in.Settings, *conns[0], *conns[1])...)
	}
	if len(fe) == 0 {
		// Only settings otherwise valid are shown to the PSA.
		tfe, err := s.checkTicketSettings(ctx, *conns[1], in.Settings)
		if err != nil {
			return Integration{}, "", err
		}
		fe = append(fe, tfe...)
	}
	if len(fe) > 0 {
		return Integration{}, "", apperr.InvalidFields(limits.Cap(fe)...)
	}
	id, err := s.newID("i_")
	if err != nil {
		return Integration{}, "", err
	}
	now := s.now()
	ig := Integration{ID: id, TenantID: tenantID, Name: in.Name, RMMConnectionID: in.RMMConnectionID,
		PSAConnectionID: in.PSAConnectionID, Settings: in.Settings, CreatedAt: now, UpdatedAt: now, Version: 1}
	secret, err := s.newWebhookSecret(ctx, &ig)
	if err != nil {
		return Integration{}, "", err
	}
	if err := s.store.PutIntegration(ctx, ig); err != nil {
		_ = s.secrets.Delete(context.WithoutCancel(ctx), ig.WebhookSecretRef)
		if apperr.Is(err, apperr.Conflict) || apperr.Is(err, apperr.NotFound) {
			return Integration{}, "", apperr.Wrap(apperr.Conflict, err, "a connection of this integration was deleted meanwhile; try again")
		}
		return Integration{}, "", fmt.Errorf("save integration %s: %w", id, err)
	}
	return ig, secret, nil
}

// checkConnection checks that id names a connection of the tenant of the
// given kind and returns it: a field error when it does not, an error when
// it cannot tell.
func (s *Service) checkConnection(ctx context.Context, tenantID, field, id, kind string) (*Connection, *apperr.FieldError, error) {
	if fe := limits.ID(field, id); fe != nil {
		return nil, fe, nil
	}
	c, err := s.store.GetConnection(ctx, tenantID, id)
	if apperr.Is(err, apperr.NotFound) {
		return nil, &apperr.FieldError{Field: field, Message: "no such connection"}, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read %s %s: %w", field, id, err)
	}
	if c.Kind != kind {
		return nil, &apperr.FieldError{Field: field, Message: "must be a " + kind + " connection"}, nil
	}
	return &c, nil, nil
}

// feature is an integration setting that needs capabilities of its
// connections.
type feature struct {
	field, what string
	on          func(Settings) bool
	psa, rmm    []vendorspec.Capability
}

// features are the integration settings that need capabilities.
var features = []feature{
	{field: "settings.autoCreateAccounts", what: "autoCreateAccounts (creating accounts exactly once)",
		on:  func(s Settings) bool { return s.AutoCreateAccounts },
		psa: []vendorspec.Capability{vendorspec.AccountsCreate, vendorspec.AccountsFindByRef}},
	{field: "settings.provisionRmmOrgs", what: "provisionRmmOrgs (reverse provisioning)",
		on:  func(s Settings) bool { return s.ProvisionRmmOrgs },
		psa: []vendorspec.Capability{vendorspec.AccountsRecent}, rmm: []vendorspec.Capability{vendorspec.OrgsCreate}},
}

// checkFeatures refuses a setting that switches on a feature one of the
// connections cannot do, naming the setting and the missing capability.
// Connections of a provider the service does not know are not judged.
func (s *Service) checkFeatures(set Settings, rmmConn, psaConn Connection) []apperr.FieldError {
	var fe []apperr.FieldError
	for _, f := range features {
		if !f.on(set) {
			continue
		}
		for _, side := range []struct {
			c    Connection
			caps []vendorspec.Capability
		}{{psaConn, f.psa}, {rmmConn, f.rmm}} {
			if _, known := s.vendors().Vendor(side.c.Provider); !known {
				continue
			}
			have := s.capabilities(side.c)
			for _, c := range side.caps {
				if err := have.Require(c, f.what); err != nil {
					e, _ := apperr.As(err)
					fe = append(fe, apperr.FieldError{Field: f.field, Message: e.Message})
				}
			}
		}
	}
	return fe
}

// newWebhookSecret makes a Standard Webhooks style secret (whsec_ + base64
// of 32 random bytes), stages it as a new version of the integration's
// webhook secret and sets its hash and pinned reference on ig: the version
// is in use once ig is written.
func (s *Service) newWebhookSecret(ctx context.Context, ig *Integration) (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(s.o.Rand, b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	secret := "whsec_" + base64.StdEncoding.EncodeToString(b)
	ref, err := s.secrets.Stage(ctx, ig.TenantID+"/"+ig.ID+"-webhook", []byte(secret))
	if err != nil {
		return "", fmt.Errorf("store webhook secret of integration %s: %w", ig.ID, err)
	}
	sum := sha256.Sum256([]byte(secret))
	ig.WebhookSecretHash, ig.WebhookSecretRef = hex.EncodeToString(sum[:]), ref
	return secret, nil
}

// RotateWebhookSecret replaces the webhook secret and returns the new one
// once. Like a credential change it is all-or-nothing: the new secret's
// hash and its pinned version are written in the one integration record,
// so until that write succeeds the old secret keeps working for bearer and
// signature checks alike, and afterwards only the new one does.
func (s *Service) RotateWebhookSecret(ctx context.Context, tenantID, id string) (Integration, string, error) {
	ig, err := s.store.GetIntegration(ctx, tenantID, id)
	if err != nil {
		return Integration{}, "", err
	}
	_ = s.secrets.Promote(ctx, ig.WebhookSecretRef) // keep the version in use labelled (see Update)
	secret, err := s.newWebhookSecret(ctx, &ig)
	if err != nil {
		return Integration{}, "", err
	}
	hash, ref := ig.WebhookSecretHash, ig.WebhookSecretRef
	first := true
	ig, err = retryStale(nil, "integration", id, func() (Integration, error) {
		if !first { // another update came first: set the new secret on a fresh read
			if ig, err = s.store.GetIntegration(ctx, tenantID, id); err != nil {
				return Integration{}, err
			}
		}
		first = false
		ig.WebhookSecretHash, ig.WebhookSecretRef, ig.UpdatedAt = hash, ref, s.now()
		if err := s.store.UpdateIntegration(ctx, ig); err != nil {
			return Integration{}, fmt.Errorf("save rotated webhook secret of %s: %w", id, err)
		}
		ig.Version++
		return ig, nil
	})
	if err != nil {
		return Integration{}, "", err
	}
	_ = s.secrets.Promote(ctx, ig.WebhookSecretRef) // best effort, as in Update
	return ig, secret, nil
}

// GetIntegration returns one integration.
func (s *Service) GetIntegration(ctx context.Context, tenantID, id string) (Integration, error) {
	return s.store.GetIntegration(ctx, tenantID, id)
}

// ListIntegrations returns a page of integrations.
func (s *Service) ListIntegrations(ctx context.Context, tenantID string, limit int, cursor string) ([]Integration, string, error) {
	return s.store.ListIntegrations(ctx, tenantID, limit, cursor)
}

// IntegrationPatch changes an integration's name or settings (settings are
// replaced as a whole).
type IntegrationPatch struct {
	Name     *string   `json:"name"`
	Settings *Settings `json:"settings"`
	// IfMatch is the precondition (HTTP If-Match); nil: none.
	IfMatch Versions `json:"-"`
}

// UpdateIntegration applies a patch, which must set at least one field.
// The write is conditional on the version read: with p.IfMatch set,
// nothing is written unless the integration is at one of its versions
// then (PreconditionFailed otherwise); without it, a patch that another
// update overtakes is applied again to a fresh read.
func (s *Service) UpdateIntegration(ctx context.Context, tenantID, id string, p IntegrationPatch) (Integration, error) {
	if p.Name == nil && p.Settings == nil {
		return Integration{}, noChange("name", "settings")
	}
	return retryStale(p.IfMatch, "integration", id, func() (Integration, error) { return s.updateIntegration(ctx, tenantID, id, p) })
}

func (s *Service) updateIntegration(ctx context.Context, tenantID, id string, p IntegrationPatch) (Integration, error) {
	ig, err := s.store.GetIntegration(ctx, tenantID, id)
	if err != nil {
		return Integration{}, err
	}
	if err := checkPre(p.IfMatch, ig.Version, "integration", id); err != nil {
		return Integration{}, err
	}
	var fe []apperr.FieldError
	if p.Name != nil {
		ig.Name = strings.TrimSpace(*p.Name)
		fe = appendErr(fe, checkName(ig.Name, "must not be empty"))
	}
	if p.Settings != nil {
		fe = append(fe, p.Settings.validate()...)
		before := ig.Settings
		ig.Settings = *p.Settings
		if len(fe) == 0 {
			ffe, err := s.checkIntegrationFeatures(ctx, ig)
			if err != nil {
				return Integration{}, err
			}
			fe = append(fe, ffe...)
		}
		if len(fe) == 0 && !sameTicketSettings(before, ig.Settings) {
			// The ticket values are checked when they change (a patch of
			// other settings does not need the PSA to answer).
			pc, err := s.store.GetConnection(ctx, ig.TenantID, ig.PSAConnectionID)
			if err != nil {
				return Integration{}, fmt.Errorf("read the PSA connection %s: %w", ig.PSAConnectionID, err)
			}
			tfe, err := s.checkTicketSettings(ctx, pc, ig.Settings)
			if err != nil {
				return Integration{}, err
			}
			fe = append(fe, tfe...)
		}
	}
	if len(fe) > 0 {
		return Integration{}, apperr.InvalidFields(limits.Cap(fe)...)
	}
	ig.UpdatedAt = s.now()
	if err := s.store.UpdateIntegration(ctx, ig); err != nil {
		return Integration{}, fmt.Errorf("update integration %s: %w", id, err)
	}
	ig.Version++
	return ig, nil
}

// checkIntegrationFeatures reads an integration's connections and checks
// its settings' features against them (nothing to read when none is on).
func (s *Service) checkIntegrationFeatures(ctx context.Context, ig Integration) ([]apperr.FieldError, error) {
	on := false
	for _, f := range features {
		on = on || f.on(ig.Settings)
	}
	if !on {
		return nil, nil
	}
	rc, err := s.store.GetConnection(ctx, ig.TenantID, ig.RMMConnectionID)
	if err != nil {
		return nil, fmt.Errorf("read the RMM connection %s: %w", ig.RMMConnectionID, err)
	}
	pc, err := s.store.GetConnection(ctx, ig.TenantID, ig.PSAConnectionID)
	if err != nil {
		return nil, fmt.Errorf("read the PSA connection %s: %w", ig.PSAConnectionID, err)
	}
	return s.checkFeatures(ig.Settings, rc, pc), nil
}

// DeleteIntegration removes an integration and releases its connections.
func (s *Service) DeleteIntegration(ctx context.Context, tenantID, id string) error {
	ig, err := s.store.GetIntegration(ctx, tenantID, id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteIntegration(ctx, ig); err != nil {
		return fmt.Errorf("delete integration %s: %w", id, err)
	}
	if err := s.secrets.Delete(ctx, ig.WebhookSecretRef); err != nil && !apperr.Is(err, apperr.NotFound) {
		return fmt.Errorf("delete webhook secret of integration %s: %w", id, err)
	}
	return nil
}

func marshalCreds(c Credentials) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode credentials: %w", err)
	}
	return b, nil
}

func unmarshalCreds(b []byte) (Credentials, error) {
	var c Credentials
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("decode stored credentials: %w", err)
	}
	return c, nil
}
