package dynamostore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// Mappings stores organization mappings at T#<tenant>#INT#<integration> /
// ORG#<orgId>, indexed on GSI1 by PSA account
// (T#<tenant>#INT#<integration>#ACCT#<accountId>), and the audit trail at
// T#<tenant>#AUDIT / <time>#<id> (kept 90 days).
type Mappings struct{ s *Store }

var _ account.Store = Mappings{}

// NewMappings returns the mappings repository over s.
func NewMappings(s *Store) Mappings { return Mappings{s: s} }

// AuditRetention is how long audit events are kept.
const AuditRetention = 90 * 24 * time.Hour

type mappingItem struct {
	PK               string            `dynamodbav:"pk"`
	SK               string            `dynamodbav:"sk"`
	GSI1PK           string            `dynamodbav:"gsi1pk,omitempty"`
	GSI1SK           string            `dynamodbav:"gsi1sk,omitempty"`
	OrganizationID   string            `dynamodbav:"organizationId"`
	OrganizationName string            `dynamodbav:"organizationName"`
	AccountID        string            `dynamodbav:"accountId,omitempty"`
	AccountName      string            `dynamodbav:"accountName,omitempty"`
	Mode             string            `dynamodbav:"mode,omitempty"`
	Sites            map[string]string `dynamodbav:"sites"`
	State            string            `dynamodbav:"state"`
	LeaseOwner       string            `dynamodbav:"leaseOwner,omitempty"`
	LeaseUntilMs     int64             `dynamodbav:"leaseUntilMs,omitempty"`
	UpdatedAt        time.Time         `dynamodbav:"updatedAt"`
}

type auditItem struct {
	PK     string           `dynamodbav:"pk"`
	SK     string           `dynamodbav:"sk"`
	At     time.Time        `dynamodbav:"at"`
	Actor  string           `dynamodbav:"actor"`
	Action string           `dynamodbav:"action"`
	Target string           `dynamodbav:"target"`
	Before *account.Mapping `dynamodbav:"before,omitempty"`
	After  *account.Mapping `dynamodbav:"after,omitempty"`
	TTL    int64            `dynamodbav:"ttl"`
}

// IntegrationPK is the partition of an integration's records.
func IntegrationPK(tenantID, integrationID string) string {
	return "T#" + tenantID + "#INT#" + integrationID
}

func mappingKey(sc tenancy.Scope, orgID string) Key {
	return Key{PK: IntegrationPK(sc.TenantID, sc.IntegrationID), SK: "ORG#" + orgID}
}

func accountIndexPK(sc tenancy.Scope, accountID string) string {
	return IntegrationPK(sc.TenantID, sc.IntegrationID) + "#ACCT#" + accountID
}

func toMappingItem(sc tenancy.Scope, m account.Mapping) mappingItem {
	k := mappingKey(sc, m.OrganizationID)
	it := mappingItem{PK: k.PK, SK: k.SK, OrganizationID: m.OrganizationID, OrganizationName: m.OrganizationName,
		AccountID: m.AccountID, AccountName: m.AccountName, Mode: m.Mode, Sites: m.Sites, State: m.State,
		LeaseOwner: m.LeaseOwner, UpdatedAt: m.UpdatedAt}
	if it.Sites == nil {
		it.Sites = map[string]string{}
	}
	if !m.LeaseUntil.IsZero() {
		it.LeaseUntilMs = m.LeaseUntil.UnixMilli()
	}
	if m.AccountID != "" {
		it.GSI1PK, it.GSI1SK = accountIndexPK(sc, m.AccountID), "ORG#"+m.OrganizationID
	}
	return it
}

func (it mappingItem) mapping(sc tenancy.Scope) account.Mapping {
	m := account.Mapping{TenantID: sc.TenantID, IntegrationID: sc.IntegrationID, OrganizationID: it.OrganizationID,
		OrganizationName: it.OrganizationName, AccountID: it.AccountID, AccountName: it.AccountName, Mode: it.Mode,
		Sites: it.Sites, State: it.State, LeaseOwner: it.LeaseOwner, UpdatedAt: it.UpdatedAt}
	if m.Sites == nil {
		m.Sites = map[string]string{}
	}
	if it.LeaseUntilMs > 0 {
		m.LeaseUntil = time.UnixMilli(it.LeaseUntilMs).UTC()
	}
	return m
}

// GetMapping implements account.Store.
func (r Mappings) GetMapping(ctx context.Context, sc tenancy.Scope, orgID string) (account.Mapping, error) {
	var it mappingItem
	if err := r.s.Get(ctx, mappingKey(sc, orgID), &it); err != nil {
		return account.Mapping{}, fmt.Errorf("get mapping of organization %s: %w", orgID, namedNotFound(err, "mapping for organization", orgID))
	}
	return it.mapping(sc), nil
}

// ListMappings implements account.Store.
func (r Mappings) ListMappings(ctx context.Context, sc tenancy.Scope) ([]account.Mapping, error) {
	var items []mappingItem
	if err := r.s.QueryAll(ctx, Query{PK: IntegrationPK(sc.TenantID, sc.IntegrationID), SKPrefix: "ORG#"}, &items); err != nil {
		return nil, fmt.Errorf("list mappings: %w", err)
	}
	out := make([]account.Mapping, 0, len(items))
	for _, it := range items {
		out = append(out, it.mapping(sc))
	}
	return out, nil
}

// MappingsByAccount implements account.Store.
func (r Mappings) MappingsByAccount(ctx context.Context, sc tenancy.Scope, accountID string) ([]account.Mapping, error) {
	var items []mappingItem
	if err := r.s.QueryAll(ctx, Query{PK: accountIndexPK(sc, accountID), Index: IndexGSI1}, &items); err != nil {
		return nil, fmt.Errorf("list mappings of account %s: %w", accountID, err)
	}
	out := make([]account.Mapping, 0, len(items))
	for _, it := range items {
		out = append(out, it.mapping(sc))
	}
	return out, nil
}

// Claim implements account.Store: a conditional put that succeeds only
// when there is no mapping or only an expired claim.
func (r Mappings) Claim(ctx context.Context, sc tenancy.Scope, m account.Mapping, now time.Time) error {
	cond := NotExists().Or(expression.And(
		expression.Name("state").Equal(expression.Value(account.StateClaimed)),
		expression.Name("leaseUntilMs").LessThan(expression.Value(now.UnixMilli()))))
	if err := r.s.Put(ctx, toMappingItem(sc, m), &cond); err != nil {
		return fmt.Errorf("claim organization %s: %w", m.OrganizationID, err)
	}
	return nil
}

// PutMapping implements account.Store.
func (r Mappings) PutMapping(ctx context.Context, sc tenancy.Scope, m account.Mapping, owner string, e account.AuditEvent) error {
	var cond expression.ConditionBuilder
	if owner != "" {
		cond = expression.And(
			expression.Name("state").Equal(expression.Value(account.StateClaimed)),
			expression.Name("leaseOwner").Equal(expression.Value(owner)))
	} else {
		// A user's edit never overwrites a live create claim.
		cond = NotExists().Or(
			expression.Name("state").Equal(expression.Value(account.StateMapped)),
			expression.Name("leaseUntilMs").LessThan(expression.Value(m.UpdatedAt.UnixMilli())))
	}
	m.LeaseOwner, m.LeaseUntil = "", time.Time{}
	audit, err := auditOp(sc, e)
	if err != nil {
		return err
	}
	if err := r.s.Transact(ctx, TxPut(toMappingItem(sc, m), &cond), audit); err != nil {
		return fmt.Errorf("put mapping of organization %s: %w", m.OrganizationID, err)
	}
	return nil
}

// DeleteMapping implements account.Store.
func (r Mappings) DeleteMapping(ctx context.Context, sc tenancy.Scope, orgID string, e account.AuditEvent) error {
	cond := expression.Name("state").Equal(expression.Value(account.StateMapped))
	audit, err := auditOp(sc, e)
	if err != nil {
		return err
	}
	if err := r.s.Transact(ctx, TxDelete(mappingKey(sc, orgID), &cond), audit); err != nil {
		return fmt.Errorf("delete mapping of organization %s: %w", orgID, notFoundOnConflict(err, "mapping for organization", orgID))
	}
	return nil
}

func auditOp(sc tenancy.Scope, e account.AuditEvent) (TxOp, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return TxOp{}, fmt.Errorf("audit id: %w", err)
	}
	it := auditItem{PK: "T#" + sc.TenantID + "#AUDIT", SK: e.At.UTC().Format(auditTimeLayout) + "#" + hex.EncodeToString(b),
		At: e.At, Actor: e.Actor, Action: e.Action, Target: "integration/" + sc.IntegrationID + "/" + e.Target,
		Before: e.Before, After: e.After, TTL: e.At.Add(AuditRetention).Unix()}
	return TxPutNew(it), nil
}

// auditTimeLayout is the audit sort key's time: fixed width, so that the
// keys sort as the times do (RFC3339Nano drops trailing zeros, and
// "…10.3Z" sorts after "…10.31Z").
const auditTimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// AuditEvents returns a tenant's audit events, newest first (for tests and
// support; no route exposes them yet).
func (r Mappings) AuditEvents(ctx context.Context, tenantID string, limit int32) ([]account.AuditEvent, error) {
	var items []auditItem
	if _, err := r.s.Query(ctx, Query{PK: "T#" + tenantID + "#AUDIT", Limit: limit, Descending: true}, &items); err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	out := make([]account.AuditEvent, 0, len(items))
	for _, it := range items {
		out = append(out, account.AuditEvent{At: it.At, Actor: it.Actor, Action: it.Action, Target: it.Target, Before: it.Before, After: it.After})
	}
	return out, nil
}
