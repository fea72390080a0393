package dynamostore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

var alertScope = tenancy.Scope{TenantID: "t_a", IntegrationID: "i_1"}

func TestAlertLinkVersions(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	r := NewAlerts(s)
	at := time.Date(2026, 11, 21, 8, 0, 0, 123e6, time.UTC)
	l := alert.Link{SeriesID: "s-1", DeviceID: "1001", DeviceName: "ACME-WS-1", OrganizationID: "12", State: alert.StateOpen,
		Severity: rmm.SeverityMajor, Subject: "Memory high", Occurrences: 2, FirstSeenAt: at, LastSeenAt: at.Add(time.Minute),
		OpenedAt: at, LastEventAt: at.Add(time.Minute), TicketID: "77", AccountID: "5", Generation: 1, RecentEvents: []string{"a1", "a2"}, Version: 1}

	if _, err := r.GetLink(ctx, alertScope, "s-1"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("GetLink before any write = %v, want NotFound", err)
	}
	steps := []struct {
		name    string
		version int64
		want    apperr.Kind // -1: success
	}{
		{"first write needs no item", 1, -1},
		{"first write again conflicts", 1, apperr.Conflict},
		{"next version", 2, -1},
		{"stale version conflicts", 2, apperr.Conflict},
		{"skipping a version conflicts", 4, apperr.Conflict},
		{"version zero is a bug", 0, apperr.Internal},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			l.Version = st.version
			err := r.PutLink(ctx, alertScope, l)
			switch {
			case st.want == -1 && err != nil:
				t.Fatalf("PutLink v%d: %v", st.version, err)
			case st.want != -1 && !apperr.Is(err, st.want):
				t.Fatalf("PutLink v%d = %v, want %s", st.version, err, st.want)
			}
		})
	}
	got, err := r.GetLink(ctx, alertScope, "s-1")
	if err != nil {
		t.Fatal(err)
	}
	want := l
	want.Version = 2
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GetLink (-want +got):\n%s", diff)
	}
	other := tenancy.Scope{TenantID: "t_b", IntegrationID: "i_1"}
	if _, err := r.GetLink(ctx, other, "s-1"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("GetLink of another tenant = %v, want NotFound", err)
	}
}

func TestAlertLinkClaimFields(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	r := NewAlerts(s)
	until := time.Date(2026, 11, 21, 8, 1, 30, 0, time.UTC)
	claim := alert.Link{SeriesID: "s-2", LeaseOwner: "abc", LeaseUntil: until, Version: 1}
	if err := r.PutLink(ctx, alertScope, claim); err != nil {
		t.Fatal(err)
	}
	got, err := r.GetLink(ctx, alertScope, "s-2")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(claim, got); diff != "" {
		t.Errorf("claim round trip (-want +got):\n%s", diff)
	}
}

func TestListAlertLinks(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	r := NewAlerts(s)
	at := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	var open, closed, unroutable []string
	for i := range 9 {
		id := fmt.Sprintf("s-%02d", i)
		l := alert.Link{SeriesID: id, DeviceID: "d", State: alert.StateOpen, Occurrences: 1, FirstSeenAt: at, LastSeenAt: at, Version: 1}
		switch {
		case i%3 == 0:
			l.State = alert.StateClosed
			closed = append(closed, id)
		case i == 4 || i == 8:
			l.State, l.Unrouted = alert.StateUnroutable, "organization 13 is not mapped"
			unroutable = append(unroutable, id)
		default:
			l.TicketID = "77"
			open = append(open, id)
		}
		if err := r.PutLink(ctx, alertScope, l); err != nil {
			t.Fatal(err)
		}
	}
	// An unrouted series written before the unroutable state existed
	// (state open with a reason) is listed, and read, as unroutable.
	legacy := toAlertItem(alertScope, alert.Link{SeriesID: "s-09", DeviceID: "d", State: alert.StateOpen, Occurrences: 1,
		FirstSeenAt: at, LastSeenAt: at, Unrouted: "organization 13 is not mapped", Version: 1})
	if err := s.Put(ctx, legacy, nil); err != nil {
		t.Fatal(err)
	}
	unroutable = append(unroutable, "s-09")
	if l, err := r.GetLink(ctx, alertScope, "s-09"); err != nil || l.State != alert.StateUnroutable {
		t.Errorf("legacy unrouted link = %s, %v; want unroutable", l.State, err)
	}
	// A reset that arrived without its trigger: recorded, never listed.
	if err := r.PutLink(ctx, alertScope, alert.Link{SeriesID: "s-99", State: alert.StateClosed, Version: 1}); err != nil {
		t.Fatal(err)
	}
	// Another integration's series stay out.
	if err := r.PutLink(ctx, tenancy.Scope{TenantID: "t_a", IntegrationID: "i_2"}, alert.Link{SeriesID: "s-x", State: alert.StateOpen, Occurrences: 1, Version: 1}); err != nil {
		t.Fatal(err)
	}
	all := []string{"s-00", "s-01", "s-02", "s-03", "s-04", "s-05", "s-06", "s-07", "s-08", "s-09"}
	tests := []struct {
		name  string
		state alert.State
		limit int
		want  []string
	}{
		{"both states", "", 0, all},
		{"open", alert.StateOpen, 0, open},
		{"closed", alert.StateClosed, 0, closed},
		{"open in pages of two", alert.StateOpen, 2, open},
		{"unroutable", alert.StateUnroutable, 0, unroutable},
		{"unroutable in pages of one", alert.StateUnroutable, 1, unroutable},
		{"everything in pages of three", "", 3, all},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > 10 {
					t.Fatal("paging does not end")
				}
				links, next, err := r.ListLinks(ctx, alertScope, alert.ListQuery{State: tc.state, Limit: tc.limit, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				if tc.limit > 0 && len(links) > tc.limit {
					t.Fatalf("page of %d links, limit %d", len(links), tc.limit)
				}
				for _, l := range links {
					got = append(got, l.SeriesID)
				}
				if next == "" {
					break
				}
				cursor = next
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("series (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeliveries(t *testing.T) {
	ctx := context.Background()
	s, client := newTestStore(t)
	r := NewAlerts(s)
	t0 := time.Date(2026, 11, 21, 8, 0, 0, 250e6, time.UTC)
	keep := 4 * 24 * time.Hour
	received := alert.Delivery{FirstAt: t0}

	first, fresh, err := r.RecordDelivery(ctx, alertScope, "a-4460312", t0, keep)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(received, first); diff != "" || !fresh {
		t.Errorf("first record (-want +got):\n%s\nfresh %v, want true", diff, fresh)
	}
	// Same millisecond, as two racing deliveries can be: still a repeat,
	// and one request (the failed condition returns the record).
	before := s.Ops()
	again, fresh, err := r.RecordDelivery(ctx, alertScope, "a-4460312", t0, keep)
	if n := s.Ops() - before; n != 1 {
		t.Errorf("a repeated delivery cost %d requests, want 1", n)
	}
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(received, again); diff != "" || fresh {
		t.Errorf("second record (-want +got):\n%s\nfresh %v, want false", diff, fresh)
	}
	// Queued: every later delivery of the id says so.
	for range 2 { // marking is idempotent
		if err := r.MarkQueued(ctx, alertScope, "a-4460312", t0.Add(time.Second)); err != nil {
			t.Fatalf("MarkQueued: %v", err)
		}
	}
	later, fresh, err := r.RecordDelivery(ctx, alertScope, "a-4460312", t0.Add(time.Hour), keep)
	if diff := cmp.Diff(alert.Delivery{FirstAt: t0, Queued: true}, later); diff != "" || fresh || err != nil {
		t.Errorf("record an hour later (-want +got):\n%s\nfresh %v, %v", diff, fresh, err)
	}
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table()), Key: deliveryKey(alertScope, "a-4460312").av()})
	if err != nil {
		t.Fatal(err)
	}
	ttl, _ := out.Item[AttrTTL].(*types.AttributeValueMemberN)
	if ttl == nil || ttl.Value != fmt.Sprint(t0.Add(keep).Unix()) {
		t.Errorf("ttl = %v, want %d (the first record's, not extended)", out.Item[AttrTTL], t0.Add(keep).Unix())
	}
	if id, _ := out.Item["deliveryId"].(*types.AttributeValueMemberS); id == nil || id.Value != "a-4460312" {
		t.Errorf("the record names delivery %v", out.Item["deliveryId"])
	}
	if st, _ := out.Item["state"].(*types.AttributeValueMemberS); st == nil || st.Value != "queued" {
		t.Errorf("the record's state is %v, want queued", out.Item["state"])
	}

	// Marking a delivery never recorded (or expired) creates nothing.
	if err := r.MarkQueued(ctx, alertScope, "never-recorded", t0); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("MarkQueued of a missing record = %v, want NotFound", err)
	}
	if out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table()), Key: deliveryKey(alertScope, "never-recorded").av()}); err != nil || len(out.Item) != 0 {
		t.Errorf("MarkQueued of a missing record wrote %v (%v)", out.Item, err)
	}
	// Another tenant's delivery of the same id is its own.
	if d, fresh, err := r.RecordDelivery(ctx, tenancy.Scope{TenantID: "t_b", IntegrationID: "i_1"}, "a-4460312", t0, keep); err != nil || !fresh || d.Queued {
		t.Errorf("another tenant's delivery = %+v, fresh %v, %v; want a fresh, unqueued record", d, fresh, err)
	}
	// A record written before delivery states existed was kept only for
	// queued deliveries.
	legacy := deliveryItem{PK: deliveryKey(alertScope, "a-old").PK, SK: deliveryKey(alertScope, "a-old").SK, DeliveryID: "a-old",
		FirstAtMs: t0.UnixMilli(), TTL: t0.Add(keep).Unix(), Token: "x"}
	if err := s.Put(ctx, legacy, nil); err != nil {
		t.Fatal(err)
	}
	if d, fresh, err := r.RecordDelivery(ctx, alertScope, "a-old", t0.Add(time.Minute), keep); err != nil || fresh || !d.Queued {
		t.Errorf("a legacy record = %+v, fresh %v, %v; want queued", d, fresh, err)
	}
}

func TestWebhookPointer(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	r := NewConnections(s)
	for _, tenantID := range []string{"t_a", "t_b"} {
		for _, c := range []connection.Connection{testConn("c_rmm", "rmm"), testConn("c_psa", "psa")} {
			c.TenantID = tenantID
			if err := r.PutConnection(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
	}
	in := connection.Integration{ID: "i_hook", TenantID: "t_a", Name: "pair", RMMConnectionID: "c_rmm", PSAConnectionID: "c_psa"}
	if _, err := r.TenantOfIntegration(ctx, in.ID); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("TenantOfIntegration before create = %v, want NotFound", err)
	}
	if err := r.PutIntegration(ctx, in); err != nil {
		t.Fatal(err)
	}
	got, err := r.TenantOfIntegration(ctx, in.ID)
	if err != nil || got != "t_a" {
		t.Fatalf("TenantOfIntegration = %q, %v; want t_a", got, err)
	}
	// Another tenant cannot take the id: the pointer is unique.
	dup := in
	dup.TenantID = "t_b"
	if err := r.PutIntegration(ctx, dup); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("PutIntegration of a taken id in another tenant = %v, want Conflict", err)
	}
	if err := r.DeleteIntegration(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := r.TenantOfIntegration(ctx, in.ID); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("TenantOfIntegration after delete = %v, want NotFound", err)
	}
}

// lostAnswerPut writes every put twice, as the SDK does when the answer to
// a put that was written is lost and it retries.
type lostAnswerPut struct{ *dynamodb.Client }

func (c lostAnswerPut) PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	if _, err := c.Client.PutItem(ctx, in, optFns...); err != nil {
		return nil, err
	}
	return c.Client.PutItem(ctx, in, optFns...)
}

func TestRecordDeliveryRetriedPutIsFresh(t *testing.T) {
	ctx := context.Background()
	s, client := newTestStore(t)
	r := NewAlerts(New(lostAnswerPut{client}, s.Table()))
	t0 := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	first, fresh, err := r.RecordDelivery(ctx, alertScope, "w-msg_1", t0, time.Hour)
	if err != nil || !fresh || !first.FirstAt.Equal(t0) || first.Queued {
		t.Fatalf("RecordDelivery with a retried put = %v, %v, %v; want fresh at %v (a new delivery must not be dropped as a duplicate)", first, fresh, err, t0)
	}
	_, fresh, err = NewAlerts(s).RecordDelivery(ctx, alertScope, "w-msg_1", t0.Add(time.Second), time.Hour)
	if err != nil || fresh {
		t.Errorf("the next delivery = fresh %v, %v; want a duplicate", fresh, err)
	}
}
