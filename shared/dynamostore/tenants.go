package dynamostore

import (
	"context"
	"fmt"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/tenant"
)

// Tenants stores tenants and API keys. A tenant lives at T#<id>/TENANT. An
// API key lives at KEY#<sha256>/KEY: the one item not under a tenant
// partition, because the authorizer must find the tenant from the key; it
// holds the key's hash, never the key.
type Tenants struct{ s *Store }

var _ tenant.Store = Tenants{}

// NewTenants returns the tenant repository over s.
func NewTenants(s *Store) Tenants { return Tenants{s: s} }

type tenantItem struct {
	PK        string    `dynamodbav:"pk"`
	SK        string    `dynamodbav:"sk"`
	ID        string    `dynamodbav:"id"`
	Name      string    `dynamodbav:"name"`
	CreatedAt time.Time `dynamodbav:"createdAt"`
}

type keyItem struct {
	PK        string    `dynamodbav:"pk"`
	SK        string    `dynamodbav:"sk"`
	KeyID     string    `dynamodbav:"keyId"`
	TenantID  string    `dynamodbav:"tenantId"`
	Role      string    `dynamodbav:"role"`
	Label     string    `dynamodbav:"label"`
	Hash      string    `dynamodbav:"hash"`
	CreatedAt time.Time `dynamodbav:"createdAt"`
	Revoked   bool      `dynamodbav:"revoked"`
}

func keyKey(hash string) Key { return Key{PK: "KEY#" + hash, SK: "KEY"} }

// PutTenant implements tenant.Store.
func (r Tenants) PutTenant(ctx context.Context, t tenant.Tenant) error {
	item := tenantItem{PK: "T#" + t.ID, SK: "TENANT", ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt}
	if err := r.s.PutNew(ctx, item); err != nil {
		return fmt.Errorf("put tenant %s: %w", t.ID, err)
	}
	return nil
}

// PutKey implements tenant.Store.
func (r Tenants) PutKey(ctx context.Context, k tenant.Key) error {
	kk := keyKey(k.Hash)
	item := keyItem{PK: kk.PK, SK: kk.SK, KeyID: k.ID, TenantID: k.TenantID, Role: k.Role, Label: k.Label,
		Hash: k.Hash, CreatedAt: k.CreatedAt, Revoked: k.Revoked}
	if err := r.s.PutNew(ctx, item); err != nil {
		return fmt.Errorf("put api key %s: %w", k.ID, err)
	}
	return nil
}

// KeyByHash implements tenant.Store.
func (r Tenants) KeyByHash(ctx context.Context, hash string) (tenant.Key, error) {
	var it keyItem
	if err := r.s.Get(ctx, keyKey(hash), &it); err != nil {
		return tenant.Key{}, fmt.Errorf("get api key: %w", err)
	}
	return tenant.Key{ID: it.KeyID, TenantID: it.TenantID, Role: it.Role, Label: it.Label, Hash: it.Hash,
		CreatedAt: it.CreatedAt, Revoked: it.Revoked}, nil
}
