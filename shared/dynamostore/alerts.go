package dynamostore

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// Alerts stores alert series links at T#<tenant>#INT#<integration> /
// ALERT#<seriesId> and webhook delivery records at the same partition /
// DELIVERY#<deliveryId> (with a ttl).
type Alerts struct{ s *Store }

var (
	_ alert.Store      = Alerts{}
	_ alert.Deliveries = Alerts{}
)

// NewAlerts returns the alerts repository over s.
func NewAlerts(s *Store) Alerts { return Alerts{s: s} }

// Paging of ListLinks: a filtered listing reads pages of at least
// alertScanPage items and at most alertScanPages pages per call before it
// answers with a cursor.
const (
	alertScanPage  = 250
	alertScanPages = 10
)

type alertItem struct {
	PK             string   `dynamodbav:"pk"`
	SK             string   `dynamodbav:"sk"`
	SeriesID       string   `dynamodbav:"seriesId"`
	DeviceID       string   `dynamodbav:"deviceId,omitempty"`
	DeviceName     string   `dynamodbav:"deviceName,omitempty"`
	OrganizationID string   `dynamodbav:"organizationId,omitempty"`
	State          string   `dynamodbav:"state,omitempty"`
	Severity       string   `dynamodbav:"severity,omitempty"`
	Subject        string   `dynamodbav:"subject,omitempty"`
	Occurrences    int      `dynamodbav:"occurrences"`
	FirstSeenAtMs  int64    `dynamodbav:"firstSeenAtMs,omitempty"`
	LastSeenAtMs   int64    `dynamodbav:"lastSeenAtMs,omitempty"`
	OpenedAtMs     int64    `dynamodbav:"openedAtMs,omitempty"`
	ClosedAtMs     int64    `dynamodbav:"closedAtMs,omitempty"`
	LastEventAtMs  int64    `dynamodbav:"lastEventAtMs,omitempty"`
	TicketID       string   `dynamodbav:"ticketId,omitempty"`
	AccountID      string   `dynamodbav:"accountId,omitempty"`
	TicketClosed   bool     `dynamodbav:"ticketClosed,omitempty"`
	Generation     int      `dynamodbav:"generation,omitempty"`
	Unrouted       string   `dynamodbav:"unrouted,omitempty"`
	RecentEvents   []string `dynamodbav:"recentEvents,omitempty"`
	LeaseOwner     string   `dynamodbav:"leaseOwner,omitempty"`
	LeaseUntilMs   int64    `dynamodbav:"leaseUntilMs,omitempty"`
	Version        int64    `dynamodbav:"version"`
}

func alertKey(sc account.Scope, seriesID string) Key {
	return Key{PK: IntegrationPK(sc.TenantID, sc.IntegrationID), SK: "ALERT#" + seriesID}
}

func deliveryKey(sc account.Scope, deliveryID string) Key {
	return Key{PK: IntegrationPK(sc.TenantID, sc.IntegrationID), SK: "DELIVERY#" + deliveryID}
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMs(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func toAlertItem(sc account.Scope, l alert.Link) alertItem {
	k := alertKey(sc, l.SeriesID)
	return alertItem{PK: k.PK, SK: k.SK, SeriesID: l.SeriesID, DeviceID: l.DeviceID, DeviceName: l.DeviceName,
		OrganizationID: l.OrganizationID, State: string(l.State), Severity: string(l.Severity), Subject: l.Subject,
		Occurrences: l.Occurrences, FirstSeenAtMs: ms(l.FirstSeenAt), LastSeenAtMs: ms(l.LastSeenAt),
		OpenedAtMs: ms(l.OpenedAt), ClosedAtMs: ms(l.ClosedAt), LastEventAtMs: ms(l.LastEventAt), TicketID: l.TicketID, AccountID: l.AccountID,
		TicketClosed: l.TicketClosed, Generation: l.Generation, Unrouted: l.Unrouted, RecentEvents: l.RecentEvents,
		LeaseOwner: l.LeaseOwner, LeaseUntilMs: ms(l.LeaseUntil), Version: l.Version}
}

func (it alertItem) link() alert.Link {
	return alert.Link{SeriesID: it.SeriesID, DeviceID: it.DeviceID, DeviceName: it.DeviceName,
		OrganizationID: it.OrganizationID, State: alert.State(it.State), Severity: rmm.Severity(it.Severity),
		Subject: it.Subject, Occurrences: it.Occurrences, FirstSeenAt: fromMs(it.FirstSeenAtMs),
		LastSeenAt: fromMs(it.LastSeenAtMs), OpenedAt: fromMs(it.OpenedAtMs), ClosedAt: fromMs(it.ClosedAtMs), LastEventAt: fromMs(it.LastEventAtMs),
		TicketID: it.TicketID, AccountID: it.AccountID, TicketClosed: it.TicketClosed, Generation: it.Generation,
		Unrouted: it.Unrouted, RecentEvents: it.RecentEvents, LeaseOwner: it.LeaseOwner,
		LeaseUntil: fromMs(it.LeaseUntilMs), Version: it.Version}
}

// GetLink implements alert.Store.
func (r Alerts) GetLink(ctx context.Context, sc account.Scope, seriesID string) (alert.Link, error) {
	var it alertItem
	if err := r.s.Get(ctx, alertKey(sc, seriesID), &it); err != nil {
		return alert.Link{}, fmt.Errorf("get alert series %s: %w", seriesID, namedNotFound(err, "alert series", seriesID))
	}
	return it.link(), nil
}

// PutLink implements alert.Store: a put conditioned on the stored version
// being l.Version-1 (on no item when l.Version is 1).
func (r Alerts) PutLink(ctx context.Context, sc account.Scope, l alert.Link) error {
	if l.Version < 1 {
		return fmt.Errorf("put alert series %s: %w", l.SeriesID, apperr.New(apperr.Internal, "version %d is not a write version", l.Version))
	}
	cond := NotExists()
	if l.Version > 1 {
		cond = expression.Name("version").Equal(expression.Value(l.Version - 1))
	}
	if err := r.s.Put(ctx, toAlertItem(sc, l), &cond); err != nil {
		return fmt.Errorf("put alert series %s: %w", l.SeriesID, err)
	}
	return nil
}

// ListLinks implements alert.Store.
func (r Alerts) ListLinks(ctx context.Context, sc account.Scope, q alert.ListQuery) ([]alert.Link, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	filter := expression.Name("occurrences").GreaterThanEqual(expression.Value(1))
	if q.State != "" {
		filter = filter.And(expression.Name("state").Equal(expression.Value(string(q.State))))
	}
	query := Query{PK: IntegrationPK(sc.TenantID, sc.IntegrationID), SKPrefix: "ALERT#", Limit: int32(max(limit, alertScanPage)),
		Cursor: q.Cursor, Filter: &filter}
	var (
		raw  []map[string]types.AttributeValue
		next string
	)
scan:
	for range alertScanPages {
		items, cursor, err := r.s.queryPage(ctx, query)
		if err != nil {
			return nil, "", fmt.Errorf("list alert series: %w", err)
		}
		next = cursor
		for i, it := range items {
			raw = append(raw, it)
			if len(raw) == limit {
				if i < len(items)-1 || next != "" {
					next, err = encodeCursor(map[string]types.AttributeValue{AttrPK: it[AttrPK], AttrSK: it[AttrSK]})
					if err != nil {
						return nil, "", fmt.Errorf("list alert series: %w", err)
					}
				}
				break scan
			}
		}
		if next == "" {
			break
		}
		query.Cursor = next
	}
	var items []alertItem
	if err := attributevalue.UnmarshalListOfMaps(raw, &items); err != nil {
		return nil, "", fmt.Errorf("list alert series: %w", apperr.Wrap(apperr.Internal, err, "decode items"))
	}
	out := make([]alert.Link, 0, len(items))
	for _, it := range items {
		out = append(out, it.link())
	}
	return out, next, nil
}

// RecordDelivery implements alert.Deliveries with one UpdateItem: it sets
// firstAtMs and ttl only where they are absent, counts the delivery, and
// returns the stored firstAtMs and count.
func (r Alerts) RecordDelivery(ctx context.Context, sc account.Scope, deliveryID string, now time.Time, keep time.Duration) (time.Time, int, error) {
	key := deliveryKey(sc, deliveryID)
	fail := func(err error) (time.Time, int, error) {
		return time.Time{}, 0, fmt.Errorf("record delivery %s in %s %s: %w", deliveryID, r.s.table, key, err)
	}
	upd := expression.Set(expression.Name("firstAtMs"), expression.IfNotExists(expression.Name("firstAtMs"), expression.Value(now.UnixMilli()))).
		Set(expression.Name(AttrTTL), expression.IfNotExists(expression.Name(AttrTTL), expression.Value(now.Add(keep).Unix()))).
		Set(expression.Name("deliveryId"), expression.Value(deliveryID)).
		Add(expression.Name("deliveries"), expression.Value(1))
	ex, err := expression.NewBuilder().WithUpdate(upd).Build()
	if err != nil {
		return fail(apperr.Wrap(apperr.Internal, err, "build update"))
	}
	r.s.ops.Add(1)
	out, err := r.s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(r.s.table),
		Key:                       key.av(),
		UpdateExpression:          ex.Update(),
		ExpressionAttributeNames:  ex.Names(),
		ExpressionAttributeValues: ex.Values(),
		ReturnValues:              types.ReturnValueAllNew,
	})
	if err != nil {
		return fail(classify(err))
	}
	var rec struct {
		FirstAtMs  int64 `dynamodbav:"firstAtMs"`
		Deliveries int   `dynamodbav:"deliveries"`
	}
	if err := attributevalue.UnmarshalMap(out.Attributes, &rec); err != nil || rec.FirstAtMs == 0 || rec.Deliveries < 1 {
		return fail(apperr.Wrap(apperr.Internal, err, "the update returned no delivery record"))
	}
	return time.UnixMilli(rec.FirstAtMs).UTC(), rec.Deliveries, nil
}

// ForgetDelivery implements alert.Deliveries: a delete conditioned on the
// record's firstAtMs.
func (r Alerts) ForgetDelivery(ctx context.Context, sc account.Scope, deliveryID string, firstAt time.Time) error {
	cond := expression.Name("firstAtMs").Equal(expression.Value(firstAt.UnixMilli()))
	err := r.s.Delete(ctx, deliveryKey(sc, deliveryID), &cond)
	if err != nil && !apperr.Is(err, apperr.Conflict) {
		return fmt.Errorf("forget delivery %s: %w", deliveryID, err)
	}
	return nil
}

// webhookPointer is WEBHOOK#<integrationId> / WEBHOOK → tenant: how the
// webhook, which knows only the integration id, finds the integration.
// Connections writes and deletes it in the integration's own transactions.
type webhookPointer struct {
	PK       string `dynamodbav:"pk"`
	SK       string `dynamodbav:"sk"`
	TenantID string `dynamodbav:"tenantId"`
}

func webhookPointerKey(integrationID string) Key {
	return Key{PK: "WEBHOOK#" + integrationID, SK: "WEBHOOK"}
}

func toWebhookPointer(in connection.Integration) webhookPointer {
	k := webhookPointerKey(in.ID)
	return webhookPointer{PK: k.PK, SK: k.SK, TenantID: in.TenantID}
}
