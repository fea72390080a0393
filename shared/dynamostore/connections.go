package dynamostore

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
)

// Connections stores connections (T#<tenant>/CONN#<id>) and integrations
// (T#<tenant>/INT#<id>). A connection's refs attribute counts the
// integrations using it, changed in the same transaction that writes or
// deletes an integration, so a connection in use cannot be deleted.
type Connections struct{ s *Store }

var _ connection.Store = Connections{}

// NewConnections returns the connections repository over s.
func NewConnections(s *Store) Connections { return Connections{s: s} }

type connItem struct {
	PK         string         `dynamodbav:"pk"`
	SK         string         `dynamodbav:"sk"`
	ID         string         `dynamodbav:"id"`
	Name       string         `dynamodbav:"name"`
	Kind       string         `dynamodbav:"kind"`
	Provider   string         `dynamodbav:"provider"`
	BaseURL    string         `dynamodbav:"baseUrl"`
	Settings   map[string]any `dynamodbav:"settings"`
	Status     string         `dynamodbav:"status"`
	TestedAt   time.Time      `dynamodbav:"testedAt"`
	TestDetail string         `dynamodbav:"testDetail,omitempty"`
	CreatedAt  time.Time      `dynamodbav:"createdAt"`
	UpdatedAt  time.Time      `dynamodbav:"updatedAt"`
	SecretRef  string         `dynamodbav:"secretRef"`
	Refs       int            `dynamodbav:"refs"`
	// Version counts the connection's updates (absent, 0, on items
	// written before it existed); refs changes leave it alone.
	Version int64 `dynamodbav:"version"`
}

type intItem struct {
	PK                string              `dynamodbav:"pk"`
	SK                string              `dynamodbav:"sk"`
	ID                string              `dynamodbav:"id"`
	Name              string              `dynamodbav:"name"`
	RMMConnectionID   string              `dynamodbav:"rmmConnectionId"`
	PSAConnectionID   string              `dynamodbav:"psaConnectionId"`
	Settings          connection.Settings `dynamodbav:"settings"`
	CreatedAt         time.Time           `dynamodbav:"createdAt"`
	UpdatedAt         time.Time           `dynamodbav:"updatedAt"`
	WebhookSecretHash string              `dynamodbav:"webhookSecretHash"`
	WebhookSecretRef  string              `dynamodbav:"webhookSecretRef"`
	// Version counts the integration's updates (absent, 0, on items
	// written before it existed).
	Version int64 `dynamodbav:"version"`
	// GSI1PK/GSI1SK put the integration on the scheduler's work list while
	// reverse provisioning is on (see provisionIndexKeys); absent otherwise.
	GSI1PK string `dynamodbav:"gsi1pk,omitempty"`
	GSI1SK string `dynamodbav:"gsi1sk,omitempty"`
}

func tenantPK(tenantID string) string { return "T#" + tenantID }

func connKey(tenantID, id string) Key { return Key{PK: tenantPK(tenantID), SK: "CONN#" + id} }

func intKey(tenantID, id string) Key { return Key{PK: tenantPK(tenantID), SK: "INT#" + id} }

func toConnItem(c connection.Connection) connItem {
	k := connKey(c.TenantID, c.ID)
	return connItem{PK: k.PK, SK: k.SK, ID: c.ID, Name: c.Name, Kind: c.Kind, Provider: c.Provider, BaseURL: c.BaseURL,
		Settings: c.Settings, Status: c.Status, TestedAt: c.TestedAt, TestDetail: c.TestDetail,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, SecretRef: c.SecretRef, Refs: c.Refs, Version: c.Version}
}

func (it connItem) conn(tenantID string) connection.Connection {
	settings := it.Settings
	if settings == nil {
		settings = map[string]any{}
	}
	return connection.Connection{ID: it.ID, TenantID: tenantID, Name: it.Name, Kind: it.Kind, Provider: it.Provider,
		BaseURL: it.BaseURL, Settings: settings, Status: it.Status, TestedAt: it.TestedAt, TestDetail: it.TestDetail,
		CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt, SecretRef: it.SecretRef, Refs: it.Refs, Version: it.Version}
}

func toIntItem(in connection.Integration) intItem {
	k := intKey(in.TenantID, in.ID)
	gsi1pk, gsi1sk := provisionIndexKeys(in)
	return intItem{PK: k.PK, SK: k.SK, ID: in.ID, Name: in.Name, RMMConnectionID: in.RMMConnectionID,
		PSAConnectionID: in.PSAConnectionID, Settings: in.Settings, CreatedAt: in.CreatedAt, UpdatedAt: in.UpdatedAt,
		WebhookSecretHash: in.WebhookSecretHash, WebhookSecretRef: in.WebhookSecretRef, Version: in.Version,
		GSI1PK: gsi1pk, GSI1SK: gsi1sk}
}

func (it intItem) integration(tenantID string) connection.Integration {
	return connection.Integration{ID: it.ID, TenantID: tenantID, Name: it.Name, RMMConnectionID: it.RMMConnectionID,
		PSAConnectionID: it.PSAConnectionID, Settings: it.Settings, CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt,
		WebhookSecretHash: it.WebhookSecretHash, WebhookSecretRef: it.WebhookSecretRef, Version: it.Version}
}

// PutConnection implements connection.Store.
func (r Connections) PutConnection(ctx context.Context, c connection.Connection) error {
	c.Refs = 0
	if err := r.s.PutNew(ctx, toConnItem(c)); err != nil {
		return fmt.Errorf("put connection %s: %w", c.ID, err)
	}
	return nil
}

// UpdateConnection implements connection.Store: it writes c only if the
// stored connection is still at c.Version (one conditional write, so of
// two updates from the same version exactly one succeeds) and stores
// version c.Version+1. It leaves refs alone: only integration
// transactions change it.
func (r Connections) UpdateConnection(ctx context.Context, c connection.Connection) error {
	upd := expression.Set(expression.Name("name"), expression.Value(c.Name)).
		Set(expression.Name("baseUrl"), expression.Value(c.BaseURL)).
		Set(expression.Name("settings"), expression.Value(c.Settings)).
		Set(expression.Name("status"), expression.Value(c.Status)).
		Set(expression.Name("testedAt"), expression.Value(c.TestedAt)).
		Set(expression.Name("testDetail"), expression.Value(c.TestDetail)).
		Set(expression.Name("updatedAt"), expression.Value(c.UpdatedAt)).
		Set(expression.Name("secretRef"), expression.Value(c.SecretRef)).
		Set(expression.Name("version"), expression.Value(c.Version+1))
	cond := atVersion(c.Version)
	if err := r.s.Update(ctx, connKey(c.TenantID, c.ID), upd, &cond, nil); err != nil {
		return fmt.Errorf("update connection %s: %w", c.ID, r.lostCondition(ctx, err, connKey(c.TenantID, c.ID), "connection", c.ID))
	}
	return nil
}

// atVersion is the condition "the item exists at version v" (an item
// without a version attribute is at version 0).
func atVersion(v int64) expression.ConditionBuilder {
	at := expression.Name("version").Equal(expression.Value(v))
	if v == 0 {
		at = expression.Or(expression.AttributeNotExists(expression.Name("version")), at)
	}
	return Exists().And(at)
}

// lostCondition classifies the failure of an atVersion write: NotFound when
// the item is gone, a Conflict wrapping connection.ErrStale when it is
// there at another version. The read only names the failure; the write
// was decided by its condition.
func (r Connections) lostCondition(ctx context.Context, err error, key Key, what, id string) error {
	if !apperr.Is(err, apperr.Conflict) {
		return err
	}
	var probe struct {
		PK string `dynamodbav:"pk"`
	}
	if gerr := r.s.Get(ctx, key, &probe); apperr.Is(gerr, apperr.NotFound) {
		return apperr.Wrap(apperr.NotFound, err, "no %s %s", what, id)
	}
	return apperr.Wrap(apperr.Conflict, fmt.Errorf("%w: %w", connection.ErrStale, err), "%s %s changed since it was read", what, id)
}

// GetConnection implements connection.Store.
func (r Connections) GetConnection(ctx context.Context, tenantID, id string) (connection.Connection, error) {
	var it connItem
	if err := r.s.Get(ctx, connKey(tenantID, id), &it); err != nil {
		return connection.Connection{}, fmt.Errorf("get connection %s: %w", id, namedNotFound(err, "connection", id))
	}
	return it.conn(tenantID), nil
}

// ListConnections implements connection.Store.
func (r Connections) ListConnections(ctx context.Context, tenantID string, limit int, cursor string) ([]connection.Connection, string, error) {
	var items []connItem
	next, err := r.s.Query(ctx, Query{PK: tenantPK(tenantID), SKPrefix: "CONN#", Limit: int32(limit), Cursor: cursor}, &items)
	if err != nil {
		return nil, "", fmt.Errorf("list connections: %w", err)
	}
	out := make([]connection.Connection, 0, len(items))
	for _, it := range items {
		out = append(out, it.conn(tenantID))
	}
	return out, next, nil
}

// DeleteConnection implements connection.Store.
func (r Connections) DeleteConnection(ctx context.Context, tenantID, id string) error {
	cond := Exists().And(expression.Or(
		expression.AttributeNotExists(expression.Name("refs")),
		expression.Name("refs").LessThanEqual(expression.Value(0))))
	if err := r.s.Delete(ctx, connKey(tenantID, id), &cond); err != nil {
		return fmt.Errorf("delete connection %s: %w", id, err)
	}
	return nil
}

func refDelta(tenantID, connID string, delta int) TxOp {
	cond := Exists()
	return TxUpdate(connKey(tenantID, connID), expression.Add(expression.Name("refs"), expression.Value(delta)), &cond)
}

// PutIntegration implements connection.Store.
func (r Connections) PutIntegration(ctx context.Context, in connection.Integration) error {
	err := r.s.Transact(ctx,
		TxPutNew(toIntItem(in)),
		refDelta(in.TenantID, in.RMMConnectionID, 1),
		refDelta(in.TenantID, in.PSAConnectionID, 1),
		TxPutNew(toWebhookPointer(in)),
	)
	if err != nil {
		return fmt.Errorf("put integration %s: %w", in.ID, err)
	}
	return nil
}

// UpdateIntegration implements connection.Store: it replaces the
// integration only if the stored one is still at in.Version (one
// conditional write) and stores version in.Version+1.
func (r Connections) UpdateIntegration(ctx context.Context, in connection.Integration) error {
	cond := atVersion(in.Version)
	it := toIntItem(in)
	it.Version = in.Version + 1
	if err := r.s.Put(ctx, it, &cond); err != nil {
		return fmt.Errorf("update integration %s: %w", in.ID, r.lostCondition(ctx, err, intKey(in.TenantID, in.ID), "integration", in.ID))
	}
	return nil
}

// GetIntegration implements connection.Store.
func (r Connections) GetIntegration(ctx context.Context, tenantID, id string) (connection.Integration, error) {
	var it intItem
	if err := r.s.Get(ctx, intKey(tenantID, id), &it); err != nil {
		return connection.Integration{}, fmt.Errorf("get integration %s: %w", id, namedNotFound(err, "integration", id))
	}
	return it.integration(tenantID), nil
}

// ListIntegrations implements connection.Store.
func (r Connections) ListIntegrations(ctx context.Context, tenantID string, limit int, cursor string) ([]connection.Integration, string, error) {
	var items []intItem
	next, err := r.s.Query(ctx, Query{PK: tenantPK(tenantID), SKPrefix: "INT#", Limit: int32(limit), Cursor: cursor}, &items)
	if err != nil {
		return nil, "", fmt.Errorf("list integrations: %w", err)
	}
	out := make([]connection.Integration, 0, len(items))
	for _, it := range items {
		out = append(out, it.integration(tenantID))
	}
	return out, next, nil
}

// DeleteIntegration implements connection.Store.
func (r Connections) DeleteIntegration(ctx context.Context, in connection.Integration) error {
	cond := Exists()
	err := r.s.Transact(ctx,
		TxDelete(intKey(in.TenantID, in.ID), &cond),
		refDelta(in.TenantID, in.RMMConnectionID, -1),
		refDelta(in.TenantID, in.PSAConnectionID, -1),
		TxDelete(webhookPointerKey(in.ID), nil),
	)
	if err != nil {
		return fmt.Errorf("delete integration %s: %w", in.ID, err)
	}
	return nil
}

// TenantOfIntegration returns the tenant owning an integration, from the
// integration's webhook pointer (WEBHOOK#<id>/WEBHOOK): the webhook route
// has no API key, only the integration id. NotFound for an unknown id.
func (r Connections) TenantOfIntegration(ctx context.Context, integrationID string) (string, error) {
	var it webhookPointer
	if err := r.s.Get(ctx, webhookPointerKey(integrationID), &it); err != nil {
		return "", fmt.Errorf("find the tenant of integration %s: %w", integrationID, namedNotFound(err, "integration", integrationID))
	}
	return it.TenantID, nil
}

// notFoundOnConflict turns the Conflict of an "attribute_exists" condition
// into the NotFound it means for updates of a missing item.
func notFoundOnConflict(err error, what, id string) error {
	if apperr.Is(err, apperr.Conflict) {
		return apperr.Wrap(apperr.NotFound, err, "no %s %s", what, id)
	}
	return err
}

// namedNotFound gives a NotFound a client-safe message naming what is missing.
func namedNotFound(err error, what, id string) error {
	if apperr.Is(err, apperr.NotFound) {
		return apperr.Wrap(apperr.NotFound, err, "no %s %s", what, id)
	}
	return err
}
