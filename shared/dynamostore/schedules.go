package dynamostore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"github.com/rmmbridge/rmmbridge/shared/connection"
)

// Schedules stores what the scheduler function needs: its cross-tenant
// work list of integrations with reverse provisioning on, and each such
// integration's provisioning watermark and run lease.
//
// The work list is a sparse GSI1 partition (ProvisionIndexPK): an
// integration item carries gsi1pk SCHEDULE#PROVISION (gsi1sk
// T#<tenant>#INT#<id>) only while Settings.ProvisionRmmOrgs is on, so the
// scheduler queries exactly those integrations without scanning the table.
// It is the one partition not under a tenant: "every key starts with the
// tenant" holds for the items' own keys; this index partition is the
// scheduler's work list across tenants.
//
// The watermark is T#<tenant>#INT#<id> / SCHED#PROVISION: lastRunAt (the
// start of the last complete run), and while a run is in progress its
// leaseOwner and leaseUntilMs.
type Schedules struct{ s *Store }

// NewSchedules returns the scheduler's repository over s.
func NewSchedules(s *Store) Schedules { return Schedules{s: s} }

// ProvisionIndexPK is the GSI1 partition listing the integrations with
// reverse provisioning on.
const ProvisionIndexPK = "SCHEDULE#PROVISION"

// provisionIndexKeys are an integration item's GSI1 keys: the work list
// entry while reverse provisioning is on, none otherwise.
func provisionIndexKeys(in connection.Integration) (pk, sk string) {
	if !in.Settings.ProvisionRmmOrgs {
		return "", ""
	}
	return ProvisionIndexPK, IntegrationPK(in.TenantID, in.ID)
}

// IntegrationsToProvision returns every integration, of every tenant, with
// reverse provisioning on, ordered by tenant and id. GSI1 is eventually
// consistent: an integration switched on or off a moment ago may be listed
// as before, so callers re-read an integration before acting on it.
func (r Schedules) IntegrationsToProvision(ctx context.Context) ([]connection.Integration, error) {
	var items []intItem
	if err := r.s.QueryAll(ctx, Query{PK: ProvisionIndexPK, Index: IndexGSI1}, &items); err != nil {
		return nil, fmt.Errorf("list integrations to provision: %w", err)
	}
	out := make([]connection.Integration, 0, len(items))
	for _, it := range items {
		out = append(out, it.integration(strings.TrimPrefix(it.PK, "T#")))
	}
	return out, nil
}

type watermarkItem struct {
	PK           string `dynamodbav:"pk"`
	SK           string `dynamodbav:"sk"`
	LastRunAt    string `dynamodbav:"lastRunAt,omitempty"`
	LeaseOwner   string `dynamodbav:"leaseOwner,omitempty"`
	LeaseUntilMs int64  `dynamodbav:"leaseUntilMs,omitempty"`
}

func watermarkKey(tenantID, integrationID string) Key {
	return Key{PK: IntegrationPK(tenantID, integrationID), SK: "SCHED#PROVISION"}
}

// watermarkTime is how lastRunAt is written: UTC, millisecond precision,
// so that the value read back compares equal in the advance condition.
func watermarkTime(t time.Time) string {
	return t.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano)
}

// ClaimProvisionRun takes the integration's provisioning run for owner
// until leaseUntil when no run holds an unexpired lease at now, and returns
// the watermark: the lastRunAt of the last complete run, zero before the
// first. Another run's live lease is apperr Conflict.
func (r Schedules) ClaimProvisionRun(ctx context.Context, tenantID, integrationID, owner string, now, leaseUntil time.Time) (time.Time, error) {
	upd := expression.Set(expression.Name("leaseOwner"), expression.Value(owner)).
		Set(expression.Name("leaseUntilMs"), expression.Value(leaseUntil.UnixMilli()))
	cond := expression.Or(
		expression.AttributeNotExists(expression.Name("leaseUntilMs")),
		expression.Name("leaseUntilMs").LessThan(expression.Value(now.UnixMilli())))
	var it watermarkItem
	if err := r.s.Update(ctx, watermarkKey(tenantID, integrationID), upd, &cond, &it); err != nil {
		return time.Time{}, fmt.Errorf("claim the provisioning run of integration %s: %w", integrationID, err)
	}
	if it.LastRunAt == "" {
		return time.Time{}, nil
	}
	last, err := time.Parse(time.RFC3339Nano, it.LastRunAt)
	if err != nil {
		return time.Time{}, fmt.Errorf("provisioning watermark of integration %s: %w", integrationID, err)
	}
	return last, nil
}

// FinishProvisionRun ends owner's run and releases its lease. With next
// set it also advances the watermark from prev (zero: none yet) to next.
// Both happen only while owner still holds the run and the watermark is
// still prev, so of two overlapping runs only one advances; otherwise it
// is apperr Conflict and nothing changes.
func (r Schedules) FinishProvisionRun(ctx context.Context, tenantID, integrationID, owner string, prev, next time.Time) error {
	upd := expression.Remove(expression.Name("leaseOwner")).Remove(expression.Name("leaseUntilMs"))
	if !next.IsZero() {
		upd = upd.Set(expression.Name("lastRunAt"), expression.Value(watermarkTime(next)))
	}
	unchanged := expression.AttributeNotExists(expression.Name("lastRunAt"))
	if !prev.IsZero() {
		unchanged = expression.Name("lastRunAt").Equal(expression.Value(watermarkTime(prev)))
	}
	cond := expression.And(expression.Name("leaseOwner").Equal(expression.Value(owner)), unchanged)
	if err := r.s.Update(ctx, watermarkKey(tenantID, integrationID), upd, &cond, nil); err != nil {
		return fmt.Errorf("finish the provisioning run of integration %s: %w", integrationID, err)
	}
	return nil
}
