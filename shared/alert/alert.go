// Package alert turns RMM alert webhooks into PSA tickets: it authenticates
// and normalizes deliveries, deduplicates them, and runs each alert series'
// ticket lifecycle.
//
// The path of one alert event:
//
//  1. Webhook (the alert-webhook function) authenticates the delivery with
//     the integration's webhook secret (bearer, ?token= or a Standard
//     Webhooks signature), parses the vendor payload with the RMM's
//     WebhookParser, records the delivery id for deduplication and enqueues
//     the raw activity to the FIFO AlertQueue with the message group
//     "<integration>#<series>", so the trigger, repeats and reset of one
//     series are handled in order and different series in parallel. It
//     answers 202 only after the enqueue succeeded.
//  2. Worker (the alert-worker function) applies each event to the series'
//     Link (ALERT#<seriesId>): the first trigger opens one ticket, repeats
//     add a note with the occurrence count, a reset closes an untouched
//     ticket (or notes a touched one), a trigger after a close within the
//     reopen window reopens the same ticket.
//
// Deduplication has three layers: the delivery record (DELIVERY#<id>, kept
// four days, longer than any sender's retry horizon, which says whether
// the delivery's message was queued), the FIFO queue's deduplication id
// (five minutes) and the link's list of recently applied activity ids (a
// redelivered queue message is skipped). A delivery is recorded as
// received, then queued, then marked queued: a repeat of a delivery that
// was recorded but not marked queued (its webhook failed or died in
// between, or an answer was lost) is queued again, never dropped as a
// duplicate; the two dedup layers behind make the second copy harmless.
//
// An alert that can never become a ticket — its device and organization
// are unknown, or its organization cannot get a PSA account (not mapped
// and accounts are not auto-created, or the account decision refuses) —
// is recorded as an unroutable series with the reason, listed by
// GET /alerts?state=unroutable, and its queue message is finished; the
// next event of the series tries to route it again. Ticket creation is
// exactly-once per series episode: a claim with a lease on the link, a
// lookup of the PSA by our external reference (adopting a ticket a crashed
// worker created), then the create and the final link write.
package alert

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// State is whether an alert series' condition is active, and whether it
// could be routed to the PSA.
type State string

// The series states: a trigger opens the series (unroutable when it has
// no ticket because no PSA account can be found for it), a reset closes
// it.
const (
	StateOpen       State = "open"
	StateClosed     State = "closed"
	StateUnroutable State = "unroutable"
	// StateFiltered: the integration's alert policy kept the series from
	// getting its own ticket (see Link.Filter); its reset closes nothing.
	StateFiltered State = "filtered"
)

// active reports whether the series' condition is active (open, with or
// without a ticket).
func (s State) active() bool { return s == StateOpen || s == StateUnroutable }

// recentEvents is how many applied activity ids a link remembers.
const recentEvents = 16

// Link is what rmmbridge knows of one alert series: its condition state,
// its ticket and the events applied to it.
type Link struct {
	SeriesID       string
	DeviceID       string
	DeviceName     string
	OrganizationID string
	State          State
	Severity       rmm.Severity
	Subject        string
	// Occurrences counts the triggers (first and repeats) of the series.
	Occurrences int
	FirstSeenAt time.Time
	LastSeenAt  time.Time
	// OpenedAt and ClosedAt are the event times of the trigger that opened
	// the current episode and of the reset that closed it.
	OpenedAt time.Time
	ClosedAt time.Time
	// LastEventAt is the time of the newest event applied: an event older
	// than it arrived out of order (a retried delivery) and changes
	// nothing.
	LastEventAt time.Time
	// TicketID is the PSA ticket of the current (or last) episode.
	TicketID  string
	AccountID string
	// TicketClosed says rmmbridge closed the ticket on a reset (it was
	// untouched).
	TicketClosed bool
	// Generation counts the tickets opened for the series; the second and
	// later carry it in their external reference.
	Generation int
	// Unrouted explains why an unroutable series has no ticket (its
	// device's organization is unknown or unmapped, and no account can be
	// created for it, and the integration has no catch-all account).
	Unrouted string
	// Filter is the alert policy's rule that filtered a filtered series.
	Filter Filter
	// SummaryTicketID is the flood guard's summary ticket a filtered
	// series (rule floodGuard) was noted on.
	SummaryTicketID string
	// RecentEvents are the last applied activity ids, newest last.
	RecentEvents []string
	// LeaseOwner and LeaseUntil hold a ticket-creation claim.
	LeaseOwner string
	LeaseUntil time.Time
	// Version counts the link's writes; each write is conditioned on the
	// version it read.
	Version int64
}

// Seen reports whether the activity was already applied to the link.
func (l Link) Seen(activityID string) bool {
	return activityID != "" && slices.Contains(l.RecentEvents, activityID)
}

// remember records an applied event: its activity id (keeping the last
// recentEvents) and its time.
func (l *Link) remember(a rmm.Alert) {
	if a.OccurredAt.After(l.LastEventAt) {
		l.LastEventAt = a.OccurredAt
	}
	activityID := a.ActivityID
	if activityID == "" {
		return
	}
	l.RecentEvents = append(l.RecentEvents, activityID)
	if n := len(l.RecentEvents); n > recentEvents {
		l.RecentEvents = slices.Clone(l.RecentEvents[n-recentEvents:])
	}
}

// ExternalRef is the reference stored on the ticket of the link's current
// generation: the series id, then "<series>#<n>" for later episodes.
func (l Link) ExternalRef() string {
	if l.Generation <= 1 {
		return l.SeriesID
	}
	return l.SeriesID + "#" + strconv.Itoa(l.Generation)
}

// View is an alert series as GET /alerts answers it.
type View struct {
	SeriesID    string       `json:"seriesId"`
	DeviceID    string       `json:"deviceId"`
	TicketID    string       `json:"ticketId,omitempty"`
	State       State        `json:"state"`
	Severity    rmm.Severity `json:"severity"`
	Occurrences int          `json:"occurrences"`
	FirstSeenAt time.Time    `json:"firstSeenAt"`
	// LastSeenAt is the time of the series' last trigger or reset.
	LastSeenAt time.Time `json:"lastSeenAt"`
	// ClosedAt is the time of the reset that closed the series (closed
	// series only).
	ClosedAt time.Time `json:"closedAt,omitzero"`
	// Reason says why an unroutable series has no ticket.
	Reason string `json:"reason,omitempty"`
	// Filter is the rule of the alert policy that filtered a filtered
	// series, with the setting and its value.
	Filter *Filter `json:"filter,omitempty"`
	// SummaryTicketID is the flood guard's summary ticket the series was
	// noted on (rule floodGuard).
	SummaryTicketID string `json:"summaryTicketId,omitempty"`
}

// View returns the link as the API shows it.
func (l Link) View() View {
	sev := l.Severity
	if sev == "" {
		sev = rmm.SeverityNone
	}
	v := View{SeriesID: l.SeriesID, DeviceID: l.DeviceID, TicketID: l.TicketID, State: l.State, Severity: sev,
		Occurrences: l.Occurrences, FirstSeenAt: l.FirstSeenAt, LastSeenAt: l.LastSeenAt, Reason: l.Unrouted}
	if l.State == StateClosed {
		v.ClosedAt = l.ClosedAt
	}
	if l.State == StateFiltered && l.Filter.Rule != "" {
		f := l.Filter
		v.Filter, v.SummaryTicketID = &f, l.SummaryTicketID
	}
	return v
}

// ListQuery selects a page of alert series.
type ListQuery struct {
	// State keeps only the series in that state; "" keeps all.
	State  State
	Limit  int
	Cursor string
}

// Store persists alert links. Implementations classify errors with apperr:
// a missing link is NotFound, a lost version condition Conflict.
type Store interface {
	// GetLink reads a series' link with a strongly consistent read.
	GetLink(ctx context.Context, sc tenancy.Scope, seriesID string) (Link, error)
	// PutLink writes l when the stored link is at version l.Version-1 (no
	// link at all when l.Version is 1); Conflict otherwise.
	PutLink(ctx context.Context, sc tenancy.Scope, l Link) error
	// ListLinks returns a page of links with at least one occurrence, by
	// series id, and the cursor of the next page ("" on the last).
	ListLinks(ctx context.Context, sc tenancy.Scope, q ListQuery) ([]Link, string, error)
}

// Delivery is the record of one webhook delivery.
type Delivery struct {
	// FirstAt is when the delivery was first recorded.
	FirstAt time.Time
	// Queued says its message was sent to the AlertQueue (SQS accepted
	// it). A delivery recorded but not queued — its webhook failed or died
	// between the record and the send, or the send's answer was lost —
	// is queued by the next delivery of the same id.
	Queued bool
}

// Deliveries records webhook deliveries for deduplication. Implementations
// must tolerate ambiguous writes (applied, but answered with an error):
// the webhook's protocol (record, send, mark queued) is built so that any
// of its writes can be applied and still fail.
type Deliveries interface {
	// RecordDelivery records deliveryID as received at now, not queued
	// (kept until now+keep), unless it is recorded already. It returns
	// the record and whether this call created it (fresh).
	RecordDelivery(ctx context.Context, sc tenancy.Scope, deliveryID string, now time.Time, keep time.Duration) (d Delivery, fresh bool, err error)
	// MarkQueued records that the delivery's message was queued at at.
	MarkQueued(ctx context.Context, sc tenancy.Scope, deliveryID string, at time.Time) error
}

// Message is the AlertQueue message body: one delivery of one activity,
// as the RMM sent it. The worker parses Activity with the integration's
// RMM client.
type Message struct {
	TenantID      string `json:"tenantId"`
	IntegrationID string `json:"integrationId"`
	DeliveryID    string `json:"deliveryId"`
	// ReceivedAt is when the webhook accepted the delivery; it stands in
	// for the event time when the payload carries none.
	ReceivedAt time.Time       `json:"receivedAt,omitzero"`
	Activity   json.RawMessage `json:"activity"`
}

// QueueMessage is one message for the AlertQueue.
type QueueMessage struct {
	Body string
	// GroupID is "<integration>#<series>" (hashed when it would not fit
	// SQS's 128 characters).
	GroupID string
	// DedupID is "<integration>#<delivery>" (hashed likewise).
	DedupID string
}

// Queue sends to the AlertQueue (sqsqueue through an adapter in alertwebhookfn).
type Queue interface {
	Enqueue(ctx context.Context, m QueueMessage) error
}

// AssetQueue asks the asset-refresh worker to refresh a device.
type AssetQueue interface {
	EnqueueRefresh(ctx context.Context, m queuemsg.AssetRefresh) error
}
