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
// four days, longer than any sender's retry horizon), the FIFO queue's
// deduplication id (five minutes) and the link's list of recently applied
// activity ids (a redelivered queue message is skipped). Ticket creation is
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

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// State is whether an alert series' condition is active.
type State string

// The series states: a trigger opens the series, a reset closes it.
const (
	StateOpen   State = "open"
	StateClosed State = "closed"
)

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
	// Unrouted explains why an open series has no ticket (its device's
	// organization is unmapped and the integration neither creates
	// accounts nor has a catch-all account).
	Unrouted string
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
	LastSeenAt  time.Time    `json:"lastSeenAt"`
	// Reason says why an open series has no ticket.
	Reason string `json:"reason,omitempty"`
}

// View returns the link as the API shows it.
func (l Link) View() View {
	sev := l.Severity
	if sev == "" {
		sev = rmm.SeverityNone
	}
	return View{SeriesID: l.SeriesID, DeviceID: l.DeviceID, TicketID: l.TicketID, State: l.State, Severity: sev,
		Occurrences: l.Occurrences, FirstSeenAt: l.FirstSeenAt, LastSeenAt: l.LastSeenAt, Reason: l.Unrouted}
}

// ListQuery selects a page of alert series.
type ListQuery struct {
	// State keeps only open or only closed series; "" keeps both.
	State  State
	Limit  int
	Cursor string
}

// Store persists alert links. Implementations classify errors with apperr:
// a missing link is NotFound, a lost version condition Conflict.
type Store interface {
	// GetLink reads a series' link with a strongly consistent read.
	GetLink(ctx context.Context, sc account.Scope, seriesID string) (Link, error)
	// PutLink writes l when the stored link is at version l.Version-1 (no
	// link at all when l.Version is 1); Conflict otherwise.
	PutLink(ctx context.Context, sc account.Scope, l Link) error
	// ListLinks returns a page of links with at least one occurrence, by
	// series id, and the cursor of the next page ("" on the last).
	ListLinks(ctx context.Context, sc account.Scope, q ListQuery) ([]Link, string, error)
}

// Deliveries records webhook deliveries for deduplication.
type Deliveries interface {
	// RecordDelivery records deliveryID as delivered at now (kept until
	// now+keep) unless it is recorded already. It returns when the id was
	// first recorded and whether this call recorded it (fresh).
	RecordDelivery(ctx context.Context, sc account.Scope, deliveryID string, now time.Time, keep time.Duration) (firstAt time.Time, fresh bool, err error)
	// ForgetDelivery deletes the record of a delivery first recorded at
	// firstAt (and no other), so that the sender's retry is processed.
	ForgetDelivery(ctx context.Context, sc account.Scope, deliveryID string, firstAt time.Time) error
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

// Queue sends to the AlertQueue (sqsqueue through an adapter in wire).
type Queue interface {
	Enqueue(ctx context.Context, m QueueMessage) error
}

// AssetQueue asks the asset-refresh worker to refresh a device.
type AssetQueue interface {
	EnqueueRefresh(ctx context.Context, m importjob.AssetMessage) error
}
