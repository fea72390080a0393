package dynamostore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// Alerts stores alert series links at T#<tenant>#INT#<integration> /
// ALERT#<seriesId> and webhook delivery records at the same partition /
// DELIVERY#<deliveryId> (with a ttl).
type Alerts struct{ s *Store }

var (
	_ alert.Store      = Alerts{}
	_ alert.Deliveries = Alerts{}
	_ alert.FloodGuard = Alerts{}
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
	FilterRule     string   `dynamodbav:"filterRule,omitempty"`
	FilterSetting  string   `dynamodbav:"filterSetting,omitempty"`
	FilterValue    string   `dynamodbav:"filterValue,omitempty"`
	SummaryTicket  string   `dynamodbav:"summaryTicketId,omitempty"`
	RecentEvents   []string `dynamodbav:"recentEvents,omitempty"`
	LeaseOwner     string   `dynamodbav:"leaseOwner,omitempty"`
	LeaseUntilMs   int64    `dynamodbav:"leaseUntilMs,omitempty"`
	Version        int64    `dynamodbav:"version"`
}

func alertKey(sc tenancy.Scope, seriesID string) Key {
	return Key{PK: IntegrationPK(sc.TenantID, sc.IntegrationID), SK: "ALERT#" + seriesID}
}

func deliveryKey(sc tenancy.Scope, deliveryID string) Key {
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

func toAlertItem(sc tenancy.Scope, l alert.Link) alertItem {
	k := alertKey(sc, l.SeriesID)
	return alertItem{PK: k.PK, SK: k.SK, SeriesID: l.SeriesID, DeviceID: l.DeviceID, DeviceName: l.DeviceName,
		OrganizationID: l.OrganizationID, State: string(l.State), Severity: string(l.Severity), Subject: l.Subject,
		Occurrences: l.Occurrences, FirstSeenAtMs: ms(l.FirstSeenAt), LastSeenAtMs: ms(l.LastSeenAt),
		OpenedAtMs: ms(l.OpenedAt), ClosedAtMs: ms(l.ClosedAt), LastEventAtMs: ms(l.LastEventAt), TicketID: l.TicketID, AccountID: l.AccountID,
		TicketClosed: l.TicketClosed, Generation: l.Generation, Unrouted: l.Unrouted, RecentEvents: l.RecentEvents,
		FilterRule: l.Filter.Rule, FilterSetting: l.Filter.Setting, FilterValue: l.Filter.Value, SummaryTicket: l.SummaryTicketID,
		LeaseOwner: l.LeaseOwner, LeaseUntilMs: ms(l.LeaseUntil), Version: l.Version}
}

func (it alertItem) link() alert.Link {
	state := alert.State(it.State)
	if state == alert.StateOpen && it.Unrouted != "" && it.TicketID == "" {
		// Written before the unroutable state existed.
		state = alert.StateUnroutable
	}
	return alert.Link{SeriesID: it.SeriesID, DeviceID: it.DeviceID, DeviceName: it.DeviceName,
		OrganizationID: it.OrganizationID, State: state, Severity: rmm.Severity(it.Severity),
		Subject: it.Subject, Occurrences: it.Occurrences, FirstSeenAt: fromMs(it.FirstSeenAtMs),
		LastSeenAt: fromMs(it.LastSeenAtMs), OpenedAt: fromMs(it.OpenedAtMs), ClosedAt: fromMs(it.ClosedAtMs), LastEventAt: fromMs(it.LastEventAtMs),
		TicketID: it.TicketID, AccountID: it.AccountID, TicketClosed: it.TicketClosed, Generation: it.Generation,
		Unrouted: it.Unrouted, RecentEvents: it.RecentEvents, LeaseOwner: it.LeaseOwner,
		Filter:          alert.Filter{Rule: it.FilterRule, Setting: it.FilterSetting, Value: it.FilterValue},
		SummaryTicketID: it.SummaryTicket,
		LeaseUntil:      fromMs(it.LeaseUntilMs), Version: it.Version}
}

// GetLink implements alert.Store.
func (r Alerts) GetLink(ctx context.Context, sc tenancy.Scope, seriesID string) (alert.Link, error) {
	var it alertItem
	if err := r.s.Get(ctx, alertKey(sc, seriesID), &it); err != nil {
		return alert.Link{}, fmt.Errorf("get alert series %s: %w", seriesID, namedNotFound(err, "alert series", seriesID))
	}
	return it.link(), nil
}

// PutLink implements alert.Store: a put conditioned on the stored version
// being l.Version-1 (on no item when l.Version is 1).
func (r Alerts) PutLink(ctx context.Context, sc tenancy.Scope, l alert.Link) error {
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
func (r Alerts) ListLinks(ctx context.Context, sc tenancy.Scope, q alert.ListQuery) ([]alert.Link, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	filter := expression.Name("occurrences").GreaterThanEqual(expression.Value(1))
	state := expression.Name("state")
	open := state.Equal(expression.Value(string(alert.StateOpen)))
	switch q.State {
	case "":
	case alert.StateOpen:
		// Series written before the unroutable state existed are open
		// with a reason; they are listed as unroutable (see link).
		filter = filter.And(open, expression.AttributeNotExists(expression.Name("unrouted")).
			Or(expression.AttributeExists(expression.Name("ticketId"))))
	case alert.StateUnroutable:
		filter = filter.And(state.Equal(expression.Value(string(alert.StateUnroutable))).
			Or(open.And(expression.AttributeExists(expression.Name("unrouted")), expression.AttributeNotExists(expression.Name("ticketId")))))
	default:
		filter = filter.And(state.Equal(expression.Value(string(q.State))))
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

// deliveryItem is the record of one webhook delivery: received, then
// queued once its message was sent. Token is random per RecordDelivery
// call: when the SDK retries a put whose first attempt was written (its
// answer lost), the retry's failed condition returns the call's own
// record, which the token tells from an earlier delivery's.
type deliveryItem struct {
	PK         string `dynamodbav:"pk"`
	SK         string `dynamodbav:"sk"`
	DeliveryID string `dynamodbav:"deliveryId"`
	FirstAtMs  int64  `dynamodbav:"firstAtMs"`
	TTL        int64  `dynamodbav:"ttl"`
	Token      string `dynamodbav:"token"`
	// State is deliveryReceived or deliveryQueued; a record without one
	// was written before states existed, only for queued deliveries.
	State      string `dynamodbav:"state,omitempty"`
	QueuedAtMs int64  `dynamodbav:"queuedAtMs,omitempty"`
}

// The delivery record states.
const (
	deliveryReceived = "received"
	deliveryQueued   = "queued"
)

func (it deliveryItem) delivery() alert.Delivery {
	return alert.Delivery{FirstAt: time.UnixMilli(it.FirstAtMs).UTC(), Queued: it.State != deliveryReceived}
}

// RecordDelivery implements alert.Deliveries with one conditional
// PutItem of a "received" record (a put costs DynamoDB no more than an
// update, and moto far less). When the record exists, the failed
// condition returns it (ReturnValuesOnConditionCheckFailure), so a
// duplicate costs one request too; a server that does not return it costs
// a GetItem more.
func (r Alerts) RecordDelivery(ctx context.Context, sc tenancy.Scope, deliveryID string, now time.Time, keep time.Duration) (alert.Delivery, bool, error) {
	key := deliveryKey(sc, deliveryID)
	fail := func(err error) (alert.Delivery, bool, error) {
		return alert.Delivery{}, false, fmt.Errorf("record delivery %s in %s %s: %w", deliveryID, r.s.table, key, err)
	}
	tok := make([]byte, 8)
	if _, err := rand.Read(tok); err != nil {
		return fail(apperr.Wrap(apperr.Internal, err, "random token"))
	}
	token := hex.EncodeToString(tok)
	item := deliveryItem{PK: key.PK, SK: key.SK, DeliveryID: deliveryID,
		FirstAtMs: now.UnixMilli(), TTL: now.Add(keep).Unix(), Token: token, State: deliveryReceived}
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return fail(apperr.Wrap(apperr.Internal, err, "encode item"))
	}
	r.s.ops.Add(1)
	_, err = r.s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(r.s.table),
		Item:                                av,
		ConditionExpression:                 aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames:            map[string]string{"#pk": AttrPK},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return item.delivery(), true, nil
	}
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return fail(classify(err))
	}
	var old deliveryItem
	if len(ccf.Item) > 0 {
		if err := attributevalue.UnmarshalMap(ccf.Item, &old); err != nil {
			return fail(apperr.Wrap(apperr.Internal, err, "decode item"))
		}
	} else if err := r.s.Get(ctx, key, &old); err != nil {
		return fail(err)
	}
	if old.FirstAtMs == 0 {
		return fail(apperr.New(apperr.Internal, "the delivery record has no firstAtMs"))
	}
	return old.delivery(), old.Token == token, nil
}

// MarkQueued implements alert.Deliveries: an update of the existing
// record (NotFound when there is none, e.g. expired), idempotent.
func (r Alerts) MarkQueued(ctx context.Context, sc tenancy.Scope, deliveryID string, at time.Time) error {
	upd := expression.Set(expression.Name("state"), expression.Value(deliveryQueued)).
		Set(expression.Name("queuedAtMs"), expression.Value(at.UnixMilli()))
	cond := Exists()
	err := r.s.Update(ctx, deliveryKey(sc, deliveryID), upd, &cond, nil)
	if apperr.Is(err, apperr.Conflict) {
		err = apperr.Wrap(apperr.NotFound, err, "delivery %s is not recorded", deliveryID)
	}
	if err != nil {
		return fmt.Errorf("mark delivery %s queued: %w", deliveryID, err)
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
