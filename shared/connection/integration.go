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
	if in.Name == "" {
		fe = append(fe, apperr.FieldError{Field: "name", Message: "is required"})
	}
	fe = append(fe, s.checkConnection(ctx, tenantID, "rmmConnectionId", in.RMMConnectionID, KindRMM)...)
	fe = append(fe, s.checkConnection(ctx, tenantID, "psaConnectionId", in.PSAConnectionID, KindPSA)...)
	fe = append(fe, in.Settings.validate()...)
	if len(fe) > 0 {
		return Integration{}, "", apperr.InvalidFields(fe...)
	}
	id, err := s.newID("i_")
	if err != nil {
		return Integration{}, "", err
	}
	now := s.now()
	ig := Integration{ID: id, TenantID: tenantID, Name: in.Name, RMMConnectionID: in.RMMConnectionID,
		PSAConnectionID: in.PSAConnectionID, Settings: in.Settings, CreatedAt: now, UpdatedAt: now}
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

func (s *Service) checkConnection(ctx context.Context, tenantID, field, id, kind string) []apperr.FieldError {
	if id == "" {
		return []apperr.FieldError{{Field: field, Message: "is required"}}
	}
	c, err := s.store.GetConnection(ctx, tenantID, id)
	if err != nil {
		return []apperr.FieldError{{Field: field, Message: "no such connection"}}
	}
	if c.Kind != kind {
		return []apperr.FieldError{{Field: field, Message: "must be a " + kind + " connection"}}
	}
	return nil
}

// newWebhookSecret makes a Standard Webhooks style secret (whsec_ + base64
// of 32 random bytes), stores it and sets its hash and reference on ig.
func (s *Service) newWebhookSecret(ctx context.Context, ig *Integration) (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(s.o.Rand, b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	secret := "whsec_" + base64.StdEncoding.EncodeToString(b)
	ref, err := s.secrets.Put(ctx, ig.TenantID+"/"+ig.ID+"-webhook", []byte(secret))
	if err != nil {
		return "", fmt.Errorf("store webhook secret of integration %s: %w", ig.ID, err)
	}
	sum := sha256.Sum256([]byte(secret))
	ig.WebhookSecretHash, ig.WebhookSecretRef = hex.EncodeToString(sum[:]), ref
	return secret, nil
}

// RotateWebhookSecret replaces the webhook secret and returns the new one once.
func (s *Service) RotateWebhookSecret(ctx context.Context, tenantID, id string) (Integration, string, error) {
	ig, err := s.store.GetIntegration(ctx, tenantID, id)
	if err != nil {
		return Integration{}, "", err
	}
	secret, err := s.newWebhookSecret(ctx, &ig)
	if err != nil {
		return Integration{}, "", err
	}
	ig.UpdatedAt = s.now()
	if err := s.store.UpdateIntegration(ctx, ig); err != nil {
		return Integration{}, "", fmt.Errorf("save rotated webhook secret of %s: %w", id, err)
	}
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
}

// UpdateIntegration applies a patch.
func (s *Service) UpdateIntegration(ctx context.Context, tenantID, id string, p IntegrationPatch) (Integration, error) {
	ig, err := s.store.GetIntegration(ctx, tenantID, id)
	if err != nil {
		return Integration{}, err
	}
	var fe []apperr.FieldError
	if p.Name != nil {
		if strings.TrimSpace(*p.Name) == "" {
			fe = append(fe, apperr.FieldError{Field: "name", Message: "must not be empty"})
		}
		ig.Name = strings.TrimSpace(*p.Name)
	}
	if p.Settings != nil {
		fe = append(fe, p.Settings.validate()...)
		ig.Settings = *p.Settings
	}
	if len(fe) > 0 {
		return Integration{}, apperr.InvalidFields(fe...)
	}
	ig.UpdatedAt = s.now()
	if err := s.store.UpdateIntegration(ctx, ig); err != nil {
		return Integration{}, fmt.Errorf("update integration %s: %w", id, err)
	}
	return ig, nil
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
