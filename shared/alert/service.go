package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/lease"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// AssetRef is where a device's asset lives in the PSA.
type AssetRef struct {
	AssetID    string
	AccountID  string
	LocationID string
}

// Assets reads the asset links of devices (shared/asset through an
// adapter in alertworkerfn).
type Assets interface {
	// LinkedAsset returns the device's asset link; NotFound when the
	// device was never synced.
	LinkedAsset(ctx context.Context, sc tenancy.Scope, deviceID string) (AssetRef, error)
}

// Accounts reads the organization mappings (shared/account through an
// adapter in alertworkerfn).
type Accounts interface {
	// GetMapping returns the organization's mapping (NotFound if unmapped).
	GetMapping(ctx context.Context, sc tenancy.Scope, orgID string) (account.Mapping, error)
}

// RMM is what the alert lifecycle asks of the RMM: a device's
// organization, and the vendor's activity payloads parsed.
type RMM interface {
	rmm.DeviceGetter
	rmm.WebhookParser
}

// AlertResolver is an optional role of the RMM: an RMM whose webhook body
// is only a pointer (Datto RMM posts a template the MSP writes, with
// bracketed variables it may leave unfilled) reads its own record of the
// alert, and the worker routes by that (authoritative device, site,
// organization, priority) instead of by the body. The webhook's state and
// event id are kept. An error of kind NotFound (the RMM no longer has the
// alert) leaves the body's fields as they are; any other error fails the
// record, which comes back from the queue.
type AlertResolver interface {
	ResolveAlert(ctx context.Context, a rmm.Alert) (rmm.Alert, error)
}

// PSA is what the alert lifecycle asks of the PSA: ticket writes. A PSA
// that also implements psa.TicketRefFinder has its tickets looked up by
// our reference before one is created; one that implements TicketReopener
// reopens a closed ticket inside the reopen window.
type PSA interface {
	psa.TicketWriter
}

// Sync gives an alert's device its asset and its organization its PSA
// account, with the same integration's clients (shared/asset and
// shared/account, bound to the clients by the alert-worker's wiring).
type Sync interface {
	// EnsureAsset syncs the device now, creating its PSA asset and link if
	// it has none. An empty AssetID means the device could not be synced
	// (unmapped organization, ambiguous serial number): the ticket is then
	// opened without an asset.
	EnsureAsset(ctx context.Context, sc tenancy.Scope, deviceID string) (AssetRef, error)
	// EnsureAccount gives an unmapped organization the account the
	// account decision says (account.Service.EnsureMapped): linked to a
	// confident auto-match, or created exactly once (with the
	// integration's account defaults) when nothing matches and the
	// integration auto-creates accounts. When the decision gives it none
	// (several accounts could match, or creating is off) the error is an
	// *account.NoAccountError (errors.Is account.ErrNoAccount) saying why.
	EnsureAccount(ctx context.Context, sc tenancy.Scope, orgID string) (account.Mapping, error)
}

// Clients are one integration as its alerts need it: its settings, its
// RMM and PSA clients as far as the lifecycle uses them, and the asset
// and account sync bound to the same clients.
type Clients struct {
	Integration connection.Integration
	RMM         RMM
	PSA         PSA
	Sync        Sync
}

// Options tune the service.
type Options struct {
	Now func() time.Time
	// Lease is how long a ticket-creation claim is held (default 90 s,
	// longer than the worker's 60 s timeout).
	Lease time.Duration
	// SummaryMax caps ticket summaries (default 100 characters, the
	// smallest vendor limit, ConnectWise's; clients truncate further if
	// their PSA needs it).
	SummaryMax int
	Logger     *slog.Logger
	// Flood counts tickets for the alert policy's flood guard; nil: the
	// link Store, when it implements FloodGuard (dynamostore.Alerts does).
	Flood FloodGuard
}

// Service runs alert series' ticket lifecycles and lists them.
type Service struct {
	links    Store
	assets   Assets
	accounts Accounts
	refresh  AssetQueue
	o        Options
}

// NewService returns the service. Listing needs only links; applying
// events needs every dependency.
func NewService(links Store, assets Assets, accounts Accounts, refresh AssetQueue, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Lease == 0 {
		o.Lease = 90 * time.Second
	}
	if o.SummaryMax == 0 {
		o.SummaryMax = 100
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if fg, ok := links.(FloodGuard); ok && o.Flood == nil {
		o.Flood = fg
	}
	return &Service{links: links, assets: assets, accounts: accounts, refresh: refresh, o: o}
}

func (s *Service) now() time.Time { return s.o.Now().UTC().Truncate(time.Millisecond) }

// List returns a page of an integration's alert series.
func (s *Service) List(ctx context.Context, sc tenancy.Scope, q ListQuery) ([]Link, string, error) {
	switch q.State {
	case "", StateOpen, StateClosed, StateUnroutable, StateFiltered:
	default:
		return nil, "", apperr.InvalidFields(apperr.FieldError{Field: "state", Message: "must be open, closed, unroutable or filtered"})
	}
	return s.links.ListLinks(ctx, sc, q)
}

// Outcome is what applying one event did.
type Outcome string

// The outcomes.
const (
	Created    Outcome = "created"    // a ticket was opened
	Adopted    Outcome = "adopted"    // a ticket a crashed worker opened was found by reference
	Noted      Outcome = "noted"      // a note was added (repeat, touched reset, trigger on an open ticket)
	Closed     Outcome = "closed"     // the untouched ticket was closed
	Reopened   Outcome = "reopened"   // a trigger inside the reopen window reopened the ticket
	Unrouted   Outcome = "unrouted"   // no account to open a ticket under; recorded as unroutable with the reason
	Recorded   Outcome = "recorded"   // state recorded, no ticket work (a reset of a series without ticket)
	Duplicate  Outcome = "duplicate"  // the event was already applied
	Stale      Outcome = "stale"      // the event is older than the newest event applied to the series
	NotAnAlert Outcome = "not_alert"  // the activity is not a trigger or reset
	Superseded Outcome = "superseded" // a reset of a series already closed
	Filtered   Outcome = "filtered"   // the alert policy filtered the trigger; recorded with the rule, no ticket
	Summarized Outcome = "summarized" // over the flood guard's limit: noted on the hour's summary ticket
)

// Result is how one event was applied.
type Result struct {
	Outcome  Outcome
	TicketID string
	Reason   string
}

// Apply applies one alert event to its series (see ApplyRun).
func (s *Service) Apply(ctx context.Context, sc tenancy.Scope, c Clients, a rmm.Alert) (Result, error) {
	res, err := s.ApplyRun(ctx, sc, c, []rmm.Alert{a})
	if err != nil {
		return Result{}, err
	}
	return res[0], nil
}

// ApplyRun applies events of one series, in order, reading the series'
// link once and writing it once (plus a claim when a ticket is opened), so
// that a batch of a storm costs two database requests, not two per event.
// An event without a time takes the current time.
//
//   - A first trigger opens one ticket (claim, look up by reference, create,
//     record); a series whose organization cannot be routed (see route) is
//     recorded as unroutable with the reason, which is a result, not an
//     error, and its next trigger tries again.
//   - A trigger of an open series is a repeat: a note with the occurrence
//     count, never a second ticket.
//   - A reset closes the ticket when nobody touched it, otherwise notes
//     that the condition cleared.
//   - A trigger after a reset notes the ticket if it is still open, reopens
//     it (or, if the PSA cannot reopen, notes it) inside the integration's
//     reopen window, and opens a new ticket after it.
//   - Events apply in event-time order: one applied before, or older than
//     the newest event applied (a trigger delivered after its reset, a
//     late copy of a repeat), changes nothing.
//
// It returns one result per event applied. When an event fails, the ones
// before it are recorded and the error says why that one was not; the rest
// are not tried. A ticket write is always recorded after it happened, so a
// crash in between repeats the write (a note twice) rather than losing it.
// Once the link is written, an asset refresh of the device is enqueued if a
// ticket was written.
func (s *Service) ApplyRun(ctx context.Context, sc tenancy.Scope, c Clients, events []rmm.Alert) ([]Result, error) {
	if len(events) == 0 {
		return nil, nil
	}
	series := events[0].SeriesID
	if series == "" {
		return nil, apperr.New(apperr.Invalid, "the alert has no series id")
	}
	l, err := s.links.GetLink(ctx, sc, series)
	switch {
	case apperr.Is(err, apperr.NotFound):
		l = Link{SeriesID: series}
	case err != nil:
		return nil, fmt.Errorf("read alert series %s: %w", series, err)
	}
	r := &run{s: s, sc: sc, c: c, l: l, stored: l.Version}
	var results []Result
	var applyErr error
	for _, a := range events {
		if a.SeriesID != series {
			applyErr = apperr.New(apperr.Internal, "a run of series %s holds an event of series %s", series, a.SeriesID)
			break
		}
		if a.OccurredAt.IsZero() {
			a.OccurredAt = s.now()
		}
		a.OccurredAt = a.OccurredAt.UTC().Truncate(time.Millisecond)
		res, err := r.apply(ctx, a)
		if err != nil {
			applyErr = err
			break
		}
		results = append(results, res)
	}
	if err := r.flush(ctx); err != nil {
		return nil, err
	}
	if r.ticketWritten && r.l.DeviceID != "" && s.refresh != nil {
		m := queuemsg.AssetRefresh{TenantID: sc.TenantID, IntegrationID: sc.IntegrationID, DeviceID: r.l.DeviceID, Reason: "alert"}
		if err := s.refresh.EnqueueRefresh(ctx, m); err != nil {
			// The ticket is written and recorded; a lost refresh only
			// leaves the asset as it was until the next sync.
			s.o.Logger.WarnContext(ctx, "could not enqueue the asset refresh of an alert", "seriesId", series,
				"deviceId", r.l.DeviceID, "error", err)
		}
	}
	return results, applyErr
}

// run is the state of one series while a run of its events is applied:
// the link as the events leave it, and the version stored in the table.
type run struct {
	s  *Service
	sc tenancy.Scope
	c  Clients
	l  Link
	// stored is the link's version in the table; dirty says l differs.
	stored        int64
	dirty         bool
	ticketWritten bool
}

// flush writes the link if it changed, over the stored version, clearing
// any claim.
func (r *run) flush(ctx context.Context) error {
	if !r.dirty {
		return nil
	}
	next := r.l
	next.LeaseOwner, next.LeaseUntil = "", time.Time{}
	next.Version = r.stored + 1
	if err := r.put(ctx, next); err != nil {
		return fmt.Errorf("record alert series %s: %w", next.SeriesID, err)
	}
	r.l, r.stored, r.dirty = next, next.Version, false
	return nil
}

// put writes l. A Conflict whose stored link is l itself is success: the
// SDK retried a write whose answer was lost.
func (r *run) put(ctx context.Context, l Link) error {
	err := r.s.links.PutLink(ctx, r.sc, l)
	if !apperr.Is(err, apperr.Conflict) {
		return err
	}
	got, gerr := r.s.links.GetLink(ctx, r.sc, l.SeriesID)
	if gerr == nil && got.Version == l.Version && got.LeaseOwner == l.LeaseOwner && slices.Equal(got.RecentEvents, l.RecentEvents) {
		return nil
	}
	return err
}

// set makes next the run's link, recording event a.
func (r *run) set(next Link, a rmm.Alert, ticketWrite bool) {
	next.remember(a)
	r.l, r.dirty = next, true
	r.ticketWritten = r.ticketWritten || ticketWrite
}

func (r *run) apply(ctx context.Context, a rmm.Alert) (Result, error) {
	l := r.l
	if l.Seen(a.ActivityID) {
		return Result{Outcome: Duplicate, TicketID: l.TicketID}, nil
	}
	if l.LeaseOwner != "" && l.LeaseUntil.After(r.s.now()) {
		return Result{}, apperr.New(apperr.Conflict, "a ticket is being opened for alert series %s; try again shortly", a.SeriesID)
	}
	if a.OccurredAt.Before(l.LastEventAt) {
		// Events apply in event-time order: an older one arrived late (a
		// retried delivery, or a copy of an event applied before). Nothing
		// to write: a copy of it is just as stale.
		return Result{Outcome: Stale, TicketID: l.TicketID, Reason: "the event is older than the last event applied to the series"}, nil
	}
	switch a.State {
	case rmm.AlertTriggered:
		return r.trigger(ctx, a)
	case rmm.AlertReset:
		return r.reset(ctx, a)
	}
	return Result{Outcome: NotAnAlert}, nil
}

// observe copies the event's device and display fields onto the link.
func observe(l *Link, a rmm.Alert) {
	if a.DeviceID != "" {
		l.DeviceID = a.DeviceID
	}
	if a.DeviceName != "" {
		l.DeviceName = a.DeviceName
	}
	if a.OrganizationID != "" {
		l.OrganizationID = a.OrganizationID
	}
	if subj := subjectOf(a); subj != "" {
		l.Subject = subj
	}
}

// count records one more occurrence (a trigger) of the series.
func count(l *Link, a rmm.Alert) {
	l.Occurrences++
	if l.FirstSeenAt.IsZero() || a.OccurredAt.Before(l.FirstSeenAt) {
		l.FirstSeenAt = a.OccurredAt
	}
	seen(l, a)
	l.Severity = a.Severity
}

// seen records the event (a trigger or a reset) as the series' last
// sighting.
func seen(l *Link, a rmm.Alert) {
	if a.OccurredAt.After(l.LastSeenAt) {
		l.LastSeenAt = a.OccurredAt
	}
}

func (r *run) trigger(ctx context.Context, a rmm.Alert) (Result, error) {
	switch {
	case r.l.TicketID == "":
		return r.open(ctx, a, max(r.l.Generation, 1))
	case r.l.State == StateOpen:
		return r.repeat(ctx, a)
	}
	return r.retrigger(ctx, a)
}

// repeat notes one more occurrence of an open series on its ticket.
func (r *run) repeat(ctx context.Context, a rmm.Alert) (Result, error) {
	l := r.l
	next := l
	observe(&next, a)
	count(&next, a)
	err := r.c.PSA.AddTicketNote(ctx, l.TicketID, psa.Note{Text: repeatNote(a, next.Occurrences), Internal: true})
	if apperr.Is(err, apperr.NotFound) {
		// The ticket was deleted in the PSA: open a new one.
		return r.open(ctx, a, l.Generation+1)
	}
	if err != nil {
		return Result{}, fmt.Errorf("note occurrence %d on ticket %s: %w", next.Occurrences, l.TicketID, err)
	}
	r.set(next, a, true)
	return Result{Outcome: Noted, TicketID: l.TicketID}, nil
}

// retrigger handles a trigger of a series whose last episode was reset.
func (r *run) retrigger(ctx context.Context, a rmm.Alert) (Result, error) {
	l := r.l
	t, err := r.c.PSA.GetTicket(ctx, l.TicketID)
	if apperr.Is(err, apperr.NotFound) {
		return r.open(ctx, a, l.Generation+1)
	}
	if err != nil {
		return Result{}, fmt.Errorf("read ticket %s of alert series %s: %w", l.TicketID, l.SeriesID, err)
	}
	window := time.Duration(r.c.Integration.Settings.ReopenWindowMinutes) * time.Minute
	inWindow := window > 0 && a.OccurredAt.Sub(l.ClosedAt) <= window
	if t.Closed && !inWindow {
		return r.open(ctx, a, l.Generation+1)
	}
	next := l
	observe(&next, a)
	count(&next, a)
	next.State, next.OpenedAt, next.TicketClosed, next.Unrouted = StateOpen, a.OccurredAt, false, ""
	outcome := Noted
	if t.Closed && vendorspec.Has(r.c.PSA, vendorspec.TicketsReopen) {
		// A PSA without tickets.reopen gets a note asking a person to.
		ro, err := vendorspec.Require[psa.TicketReopener](r.c.PSA, vendorspec.TicketsReopen, "reopening a ticket")
		if err != nil {
			return Result{}, err
		}
		if err := ro.ReopenTicket(ctx, l.TicketID); err != nil {
			return Result{}, fmt.Errorf("reopen ticket %s: %w", l.TicketID, err)
		}
		outcome = Reopened
	}
	note := retriggerNote(a, next.Occurrences, outcome == Reopened, t.Closed && outcome != Reopened)
	if err := r.c.PSA.AddTicketNote(ctx, l.TicketID, psa.Note{Text: note, Internal: true}); err != nil {
		// Not recorded: the retry finds the ticket reopened and notes it.
		return Result{}, fmt.Errorf("note the new trigger on ticket %s: %w", l.TicketID, err)
	}
	r.set(next, a, true)
	return Result{Outcome: outcome, TicketID: l.TicketID}, nil
}

func (r *run) reset(ctx context.Context, a rmm.Alert) (Result, error) {
	l := r.l
	switch {
	case l.State == StateFiltered:
		// The policy filtered the series: there is no ticket of its own
		// to close (never the flood guard's summary ticket). It stays
		// listed as filtered, with its rule.
		next := l
		observe(&next, a)
		seen(&next, a)
		next.ClosedAt = a.OccurredAt
		r.set(next, a, false)
		return Result{Outcome: Recorded, Reason: "the series was filtered by the alert policy (" + l.Filter.Rule + "); no ticket to close"}, nil
	case l.TicketID == "" || l.State == "":
		// A reset of a series with no ticket: it was unrouted, or its
		// trigger never arrived (or arrives later, and is then stale).
		next := l
		observe(&next, a)
		next.State, next.ClosedAt, next.Unrouted = StateClosed, a.OccurredAt, ""
		if next.Occurrences > 0 {
			seen(&next, a)
		}
		r.set(next, a, false)
		return Result{Outcome: Recorded, Reason: "the series has no ticket"}, nil
	case l.State == StateClosed:
		r.set(l, a, false)
		return Result{Outcome: Superseded, TicketID: l.TicketID, Reason: "the series is already closed"}, nil
	}
	next := l
	observe(&next, a)
	seen(&next, a)
	next.State, next.ClosedAt = StateClosed, a.OccurredAt
	touched, err := r.c.PSA.TicketTouched(ctx, l.TicketID)
	if apperr.Is(err, apperr.NotFound) {
		r.set(next, a, false)
		return Result{Outcome: Recorded, TicketID: l.TicketID, Reason: "the ticket no longer exists"}, nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("check whether ticket %s was worked on: %w", l.TicketID, err)
	}
	outcome := Noted
	if touched {
		if err := r.c.PSA.AddTicketNote(ctx, l.TicketID, psa.Note{Text: clearedNote(a, false), Internal: true}); err != nil {
			return Result{}, fmt.Errorf("note the reset on ticket %s: %w", l.TicketID, err)
		}
	} else {
		if err := r.c.PSA.CloseTicket(ctx, l.TicketID, clearedNote(a, true)); err != nil {
			return Result{}, fmt.Errorf("close ticket %s: %w", l.TicketID, err)
		}
		next.TicketClosed = true
		outcome = Closed
	}
	r.set(next, a, true)
	return Result{Outcome: outcome, TicketID: l.TicketID}, nil
}

// open opens (or adopts) generation gen's ticket for the series: claim
// (written at once, so that no other worker opens one meanwhile), route,
// look up by reference, create; the run records the ticket.
func (r *run) open(ctx context.Context, a rmm.Alert, gen int) (Result, error) {
	s := r.s
	policy := r.c.Integration.Settings.AlertPolicy
	facts, err := s.facts(ctx, r.c, r.l, a)
	if err != nil {
		return Result{}, err
	}
	if f, filtered := Screen(policy, a, facts); filtered {
		// Before the claim and the routing: a filtered alert writes
		// nothing to the PSA, not even an account or an asset.
		return r.filtered(ctx, a, gen, f, ""), nil
	}
	// The claim is the run's state so far plus the lease.
	claim := r.l
	claim.LeaseOwner, claim.LeaseUntil, claim.Version = lease.NewOwner(), s.now().Add(s.o.Lease), r.stored+1
	if err := r.put(ctx, claim); err != nil {
		return Result{}, fmt.Errorf("claim alert series %s: %w", claim.SeriesID, err)
	}
	r.stored, r.dirty = claim.Version, true // the lease is cleared by the next write

	next := r.l
	observe(&next, a)
	count(&next, a)
	if !next.State.active() {
		next.OpenedAt = a.OccurredAt
	}
	next.State = StateOpen
	next.Generation, next.TicketID, next.AccountID, next.TicketClosed, next.Unrouted = gen, "", "", false, ""

	tgt, err := s.route(ctx, r.sc, r.c, a)
	if err != nil {
		return Result{}, err
	}
	if tgt.Unrouted != "" {
		next.State, next.Unrouted = StateUnroutable, tgt.Unrouted
		r.set(next, a, false)
		s.o.Logger.WarnContext(ctx, "alert series is unroutable: recorded without a ticket", "seriesId", next.SeriesID,
			"deviceId", next.DeviceID, "organizationId", next.OrganizationID, "reason", tgt.Unrouted)
		return Result{Outcome: Unrouted, Reason: tgt.Unrouted}, nil
	}
	tgt.OrganizationID = facts.OrganizationID
	if policy.MaxTicketsPerHour > 0 && s.o.Flood != nil {
		bucket := floodBucket(facts.OrganizationID, a.OccurredAt)
		ok, err := s.o.Flood.TakeTicketSlot(ctx, r.sc, bucket, next.SeriesID, policy.MaxTicketsPerHour)
		if err != nil {
			return Result{}, fmt.Errorf("count the tickets of alert series %s against the flood guard: %w", next.SeriesID, err)
		}
		if !ok {
			return r.summarize(ctx, a, gen, tgt, bucket)
		}
	}
	ref := next.ExternalRef()
	t, adopted, err := s.findTicket(ctx, r.c, ref)
	if err != nil {
		return Result{}, err
	}
	outcome := Adopted
	if !adopted {
		t, err = r.c.PSA.CreateTicket(ctx, s.newTicket(r.c, tgt, a, ref))
		if err != nil {
			return Result{}, fmt.Errorf("create the ticket of alert series %s: %w", next.SeriesID, err)
		}
		outcome = Created
	}
	next.TicketID, next.AccountID = t.ID, tgt.AccountID
	if next.AccountID == "" {
		next.AccountID = t.AccountID
	}
	r.set(next, a, true)
	return Result{Outcome: outcome, TicketID: t.ID}, nil
}

// findTicket looks the PSA up for a ticket carrying ref, when the
// connection can (tickets.findByRef); it adopts the oldest.
func (s *Service) findTicket(ctx context.Context, c Clients, ref string) (psa.Ticket, bool, error) {
	if !vendorspec.Has(c.PSA, vendorspec.TicketsFindByRef) {
		return psa.Ticket{}, false, nil
	}
	f, err := vendorspec.Require[psa.TicketRefFinder](c.PSA, vendorspec.TicketsFindByRef, "adopting a ticket by reference")
	if err != nil {
		return psa.Ticket{}, false, err
	}
	ts, err := f.FindTicketsByExternalRef(ctx, ref)
	if err != nil {
		return psa.Ticket{}, false, fmt.Errorf("look up a ticket by reference %s: %w", ref, err)
	}
	if len(ts) == 0 {
		return psa.Ticket{}, false, nil
	}
	return lease.Oldest(ts, func(t psa.Ticket) string { return t.ID }), true, nil
}

// target is where a ticket goes.
type target struct {
	AccountID, LocationID, AssetID string
	// OrganizationID is the alert's organization as the policy knows it
	// (its overrides of the ticket defaults and priorities apply).
	OrganizationID string
	// Unrouted, when set, says why there is no account.
	Unrouted string
}

// route finds the account, location and asset of the alert's device: the
// device's asset link; else its organization's mapping — for an unmapped
// organization the account decision's (Accounts.EnsureAccount: a confident
// match linked, or an account created when the integration auto-creates
// accounts) — and the asset, synced now; else the integration's catch-all
// account; else unroutable, with the reason (several accounts could match,
// naming them; nothing matches and creating is off). A failure that
// retrying cannot cure (see unroutable) is a route with a reason; only
// transient failures are errors.
func (s *Service) route(ctx context.Context, sc tenancy.Scope, c Clients, a rmm.Alert) (target, error) {
	if a.DeviceID != "" {
		ref, err := s.assets.LinkedAsset(ctx, sc, a.DeviceID)
		switch {
		case err == nil && ref.AssetID != "" && ref.AccountID != "":
			return target{AccountID: ref.AccountID, LocationID: ref.LocationID, AssetID: ref.AssetID}, nil
		case err != nil && !apperr.Is(err, apperr.NotFound):
			return target{}, fmt.Errorf("read the asset link of device %s: %w", a.DeviceID, err)
		}
	}
	orgID, siteID := a.OrganizationID, a.SiteID
	if orgID == "" && a.DeviceID != "" {
		d, err := c.RMM.GetDevice(ctx, a.DeviceID)
		if err == nil {
			orgID, siteID = d.OrganizationID, d.SiteID
		} else if _, never := unroutable(err); !never {
			return target{}, fmt.Errorf("read device %s for its organization: %w", a.DeviceID, err)
		}
	}
	settings := c.Integration.Settings
	var m account.Mapping
	unmapped := "" // why the organization has no account
	if orgID != "" {
		var err error
		m, err = s.accounts.GetMapping(ctx, sc, orgID)
		switch {
		case err == nil && m.State == account.StateClaimed:
			return target{}, apperr.New(apperr.Conflict, "organization %s is being mapped; try again shortly", orgID)
		case err == nil && m.State != account.StateMapped:
			err = apperr.New(apperr.NotFound, "organization %s is not mapped (%s)", orgID, m.State)
		case err != nil && !apperr.Is(err, apperr.NotFound):
			return target{}, fmt.Errorf("read the mapping of organization %s: %w", orgID, err)
		}
		if err != nil {
			// The account decision: link a confident match, create when
			// allowed; never create for an ambiguous organization.
			m, err = c.Sync.EnsureAccount(ctx, sc, orgID)
			var none *account.NoAccountError
			switch {
			case err == nil:
			case errors.As(err, &none):
				unmapped = none.Error()
			case apperr.Is(err, apperr.NotFound):
				unmapped = "organization " + orgID + " is not mapped, and the RMM does not know it"
			default:
				reason, never := unroutable(err)
				if !never {
					return target{}, fmt.Errorf("give organization %s its account: %w", orgID, err)
				}
				unmapped = "organization " + orgID + " cannot get a PSA account: " + reason
				s.o.Logger.WarnContext(ctx, "no PSA account for an alert's organization", "organizationId", orgID, "error", err)
			}
		}
	}
	if orgID == "" || unmapped != "" {
		if settings.CatchAllAccountID != "" {
			return target{AccountID: settings.CatchAllAccountID}, nil
		}
		if orgID == "" {
			unmapped = "the device's organization is unknown"
		}
		return target{Unrouted: unmapped + "; the integration has no catch-all account"}, nil
	}
	tgt := target{AccountID: m.AccountID, LocationID: m.Sites[siteID]}
	if a.DeviceID == "" {
		return tgt, nil
	}
	ref, err := c.Sync.EnsureAsset(ctx, sc, a.DeviceID)
	switch {
	case err == nil && ref.AssetID != "":
		tgt.AssetID = ref.AssetID
		if ref.LocationID != "" {
			tgt.LocationID = ref.LocationID
		}
	case err == nil:
		s.o.Logger.InfoContext(ctx, "alert ticket opened without an asset: the device was not synced", "deviceId", a.DeviceID)
	case apperr.KindOf(err).Transient():
		return target{}, fmt.Errorf("sync device %s before opening its ticket: %w", a.DeviceID, err)
	default:
		s.o.Logger.WarnContext(ctx, "alert ticket opened without an asset", "deviceId", a.DeviceID, "error", err)
	}
	return tgt, nil
}
