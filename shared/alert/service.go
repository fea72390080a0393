package alert

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// AssetRef is where a device's asset lives in the PSA.
type AssetRef struct {
	AssetID    string
	AccountID  string
	LocationID string
}

// Assets finds, and creates when needed, the PSA asset of a device
// (shared/asset through an adapter in wire).
type Assets interface {
	// LinkedAsset returns the device's asset link; NotFound when the
	// device was never synced.
	LinkedAsset(ctx context.Context, sc account.Scope, deviceID string) (AssetRef, error)
	// EnsureAsset syncs the device now, creating its PSA asset and link if
	// it has none. An empty AssetID means the device could not be synced
	// (unmapped organization, ambiguous serial number): the ticket is then
	// opened without an asset.
	EnsureAsset(ctx context.Context, sc account.Scope, c providers.Clients, deviceID string) (AssetRef, error)
}

// Accounts routes an organization's devices to a PSA account
// (shared/account through an adapter in wire).
type Accounts interface {
	// GetMapping returns the organization's mapping (NotFound if unmapped).
	GetMapping(ctx context.Context, sc account.Scope, orgID string) (account.Mapping, error)
	// EnsureAccount creates the organization's PSA account exactly once
	// (with the integration's account defaults) and returns its mapping.
	EnsureAccount(ctx context.Context, sc account.Scope, c providers.Clients, orgID string) (account.Mapping, error)
}

// TicketReopener is implemented by PSA clients that can reopen a closed
// ticket; without it a trigger inside the reopen window only adds a note
// to the closed ticket.
type TicketReopener interface {
	ReopenTicket(ctx context.Context, id string) error
}

// DeviceLinker is implemented by RMM clients that can link to a device in
// the RMM's console; the link goes into the ticket description.
type DeviceLinker interface {
	DeviceURL(deviceID string) string
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
	return &Service{links: links, assets: assets, accounts: accounts, refresh: refresh, o: o}
}

func (s *Service) now() time.Time { return s.o.Now().UTC().Truncate(time.Millisecond) }

// List returns a page of an integration's alert series.
func (s *Service) List(ctx context.Context, sc account.Scope, q ListQuery) ([]Link, string, error) {
	switch q.State {
	case "", StateOpen, StateClosed:
	default:
		return nil, "", apperr.InvalidFields(apperr.FieldError{Field: "state", Message: "must be open or closed"})
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
	Unrouted   Outcome = "unrouted"   // no account to open a ticket under; recorded with the reason
	Recorded   Outcome = "recorded"   // state recorded, no ticket work (a reset of a series without ticket)
	Duplicate  Outcome = "duplicate"  // the event was already applied
	Stale      Outcome = "stale"      // the event is older than the series' last state change
	NotAnAlert Outcome = "not_alert"  // the activity is not a trigger or reset
	Superseded Outcome = "superseded" // a reset of a series already closed
)

// Result is how one event was applied.
type Result struct {
	Outcome  Outcome
	TicketID string
	Reason   string
}

// Apply applies one alert event to its series. receivedAt stands in for
// the event time when the alert has none.
//
//   - A first trigger opens one ticket (claim, look up by reference, create,
//     record); a series whose organization cannot be routed is recorded as
//     unrouted, and its next trigger tries again.
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
// Every ticket write enqueues an asset refresh of the device.
func (s *Service) Apply(ctx context.Context, sc account.Scope, c providers.Clients, a rmm.Alert, receivedAt time.Time) (Result, error) {
	if a.SeriesID == "" {
		return Result{}, apperr.New(apperr.Invalid, "the alert has no series id")
	}
	if a.OccurredAt.IsZero() {
		a.OccurredAt = receivedAt
	}
	if a.OccurredAt.IsZero() {
		a.OccurredAt = s.now()
	}
	a.OccurredAt = a.OccurredAt.UTC().Truncate(time.Millisecond)
	l, err := s.links.GetLink(ctx, sc, a.SeriesID)
	switch {
	case apperr.Is(err, apperr.NotFound):
		l = Link{SeriesID: a.SeriesID}
	case err != nil:
		return Result{}, fmt.Errorf("read alert series %s: %w", a.SeriesID, err)
	}
	if l.Seen(a.ActivityID) {
		return Result{Outcome: Duplicate, TicketID: l.TicketID}, nil
	}
	if l.LeaseOwner != "" && l.LeaseUntil.After(s.now()) {
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
		return s.trigger(ctx, sc, c, l, a)
	case rmm.AlertReset:
		return s.reset(ctx, sc, c, l, a)
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
	if a.OccurredAt.After(l.LastSeenAt) {
		l.LastSeenAt = a.OccurredAt
	}
	l.Severity = a.Severity
}

func (s *Service) trigger(ctx context.Context, sc account.Scope, c providers.Clients, l Link, a rmm.Alert) (Result, error) {
	switch {
	case l.TicketID == "":
		gen := max(l.Generation, 1)
		return s.open(ctx, sc, c, l, a, gen)
	case l.State == StateOpen:
		return s.repeat(ctx, sc, c, l, a)
	}
	return s.retrigger(ctx, sc, c, l, a)
}

// repeat notes one more occurrence of an open series on its ticket.
func (s *Service) repeat(ctx context.Context, sc account.Scope, c providers.Clients, l Link, a rmm.Alert) (Result, error) {
	next := l
	observe(&next, a)
	count(&next, a)
	err := c.PSA.AddTicketNote(ctx, l.TicketID, psa.Note{Text: repeatNote(a, next.Occurrences), Internal: true})
	if apperr.Is(err, apperr.NotFound) {
		// The ticket was deleted in the PSA: open a new one.
		return s.open(ctx, sc, c, l, a, l.Generation+1)
	}
	if err != nil {
		return Result{}, fmt.Errorf("note occurrence %d on ticket %s: %w", next.Occurrences, l.TicketID, err)
	}
	return s.finish(ctx, sc, l, next, a, Noted)
}

// retrigger handles a trigger of a series whose last episode was reset.
func (s *Service) retrigger(ctx context.Context, sc account.Scope, c providers.Clients, l Link, a rmm.Alert) (Result, error) {
	t, err := c.PSA.GetTicket(ctx, l.TicketID)
	if apperr.Is(err, apperr.NotFound) {
		return s.open(ctx, sc, c, l, a, l.Generation+1)
	}
	if err != nil {
		return Result{}, fmt.Errorf("read ticket %s of alert series %s: %w", l.TicketID, l.SeriesID, err)
	}
	window := time.Duration(c.Integration.Settings.ReopenWindowMinutes) * time.Minute
	inWindow := window > 0 && a.OccurredAt.Sub(l.ClosedAt) <= window
	if t.Closed && !inWindow {
		return s.open(ctx, sc, c, l, a, l.Generation+1)
	}
	next := reopened(l, a)
	outcome := Noted
	if t.Closed {
		if ro, ok := c.PSA.(TicketReopener); ok {
			if err := ro.ReopenTicket(ctx, l.TicketID); err != nil {
				return Result{}, fmt.Errorf("reopen ticket %s: %w", l.TicketID, err)
			}
			outcome = Reopened
		}
	}
	note := retriggerNote(a, next.Occurrences, outcome == Reopened, t.Closed && outcome != Reopened)
	if err := c.PSA.AddTicketNote(ctx, l.TicketID, psa.Note{Text: note, Internal: true}); err != nil {
		return Result{}, fmt.Errorf("note the new trigger on ticket %s: %w", l.TicketID, err)
	}
	return s.finish(ctx, sc, l, next, a, outcome)
}

// reopened is l opened again by trigger a on the same ticket.
func reopened(l Link, a rmm.Alert) Link {
	next := l
	observe(&next, a)
	count(&next, a)
	next.State, next.OpenedAt, next.TicketClosed, next.Unrouted = StateOpen, a.OccurredAt, false, ""
	return next
}

func (s *Service) reset(ctx context.Context, sc account.Scope, c providers.Clients, l Link, a rmm.Alert) (Result, error) {
	switch {
	case l.TicketID == "" || l.State == "":
		// A reset of a series with no ticket: it was unrouted, or its
		// trigger never arrived (or arrives later, and is then stale).
		next := l
		observe(&next, a)
		next.State, next.ClosedAt, next.Unrouted = StateClosed, a.OccurredAt, ""
		if a.OccurredAt.After(next.LastSeenAt) && next.Occurrences > 0 {
			next.LastSeenAt = a.OccurredAt
		}
		next.remember(a)
		return s.store(ctx, sc, l, next, Result{Outcome: Recorded, Reason: "the series has no ticket"})
	case l.State == StateClosed:
		next := l
		next.remember(a)
		return s.store(ctx, sc, l, next, Result{Outcome: Superseded, TicketID: l.TicketID, Reason: "the series is already closed"})
	}
	next := l
	observe(&next, a)
	next.State, next.ClosedAt = StateClosed, a.OccurredAt
	touched, err := c.PSA.TicketTouched(ctx, l.TicketID)
	if apperr.Is(err, apperr.NotFound) {
		next.remember(a)
		return s.store(ctx, sc, l, next, Result{Outcome: Recorded, TicketID: l.TicketID, Reason: "the ticket no longer exists"})
	}
	if err != nil {
		return Result{}, fmt.Errorf("check whether ticket %s was worked on: %w", l.TicketID, err)
	}
	outcome := Noted
	if touched {
		if err := c.PSA.AddTicketNote(ctx, l.TicketID, psa.Note{Text: clearedNote(a, false), Internal: true}); err != nil {
			return Result{}, fmt.Errorf("note the reset on ticket %s: %w", l.TicketID, err)
		}
	} else {
		if err := c.PSA.CloseTicket(ctx, l.TicketID, clearedNote(a, true)); err != nil {
			return Result{}, fmt.Errorf("close ticket %s: %w", l.TicketID, err)
		}
		next.TicketClosed = true
		outcome = Closed
	}
	return s.finish(ctx, sc, l, next, a, outcome)
}

// open opens (or adopts) generation gen's ticket for the series: claim,
// route, look up by reference, create, record.
func (s *Service) open(ctx context.Context, sc account.Scope, c providers.Clients, l Link, a rmm.Alert, gen int) (Result, error) {
	claim := l
	claim.LeaseOwner, claim.LeaseUntil, claim.Version = newOwner(), s.now().Add(s.o.Lease), l.Version+1
	if err := s.links.PutLink(ctx, sc, claim); err != nil {
		return Result{}, fmt.Errorf("claim alert series %s: %w", l.SeriesID, err)
	}
	next := l
	observe(&next, a)
	count(&next, a)
	if next.State != StateOpen {
		next.State, next.OpenedAt = StateOpen, a.OccurredAt
	}
	next.Generation, next.TicketID, next.AccountID, next.TicketClosed, next.Unrouted = gen, "", "", false, ""

	tgt, err := s.route(ctx, sc, c, a)
	if err != nil {
		return Result{}, err
	}
	if tgt.Unrouted != "" {
		next.Unrouted = tgt.Unrouted
		next.remember(a)
		return s.store(ctx, sc, claim, next, Result{Outcome: Unrouted, Reason: tgt.Unrouted})
	}
	ref := next.ExternalRef()
	t, adopted, err := s.findTicket(ctx, c, ref)
	if err != nil {
		return Result{}, err
	}
	outcome := Adopted
	if !adopted {
		t, err = c.PSA.CreateTicket(ctx, s.newTicket(c, tgt, a, ref))
		if err != nil {
			return Result{}, fmt.Errorf("create the ticket of alert series %s: %w", l.SeriesID, err)
		}
		outcome = Created
	}
	next.TicketID, next.AccountID = t.ID, tgt.AccountID
	if next.AccountID == "" {
		next.AccountID = t.AccountID
	}
	return s.finish(ctx, sc, claim, next, a, outcome)
}

// findTicket looks the PSA up for a ticket carrying ref, when the client
// can; it adopts the oldest.
func (s *Service) findTicket(ctx context.Context, c providers.Clients, ref string) (psa.Ticket, bool, error) {
	f, ok := c.PSA.(psa.TicketRefFinder)
	if !ok {
		return psa.Ticket{}, false, nil
	}
	ts, err := f.FindTicketsByExternalRef(ctx, ref)
	if apperr.Is(err, apperr.NotImplemented) {
		return psa.Ticket{}, false, nil
	}
	if err != nil {
		return psa.Ticket{}, false, fmt.Errorf("look up a ticket by reference %s: %w", ref, err)
	}
	if len(ts) == 0 {
		return psa.Ticket{}, false, nil
	}
	best := ts[0]
	for _, t := range ts[1:] {
		if len(t.ID) < len(best.ID) || (len(t.ID) == len(best.ID) && t.ID < best.ID) {
			best = t
		}
	}
	return best, true, nil
}

// finish records the event on the link (written over prev) and asks for
// an asset refresh, the ticket having been written.
func (s *Service) finish(ctx context.Context, sc account.Scope, prev, next Link, a rmm.Alert, o Outcome) (Result, error) {
	next.remember(a)
	if a.OccurredAt.After(next.LastSeenAt) {
		next.LastSeenAt = a.OccurredAt
	}
	res, err := s.store(ctx, sc, prev, next, Result{Outcome: o, TicketID: next.TicketID})
	if err != nil {
		return res, err
	}
	if next.DeviceID != "" && s.refresh != nil {
		m := importjob.AssetMessage{TenantID: sc.TenantID, IntegrationID: sc.IntegrationID, DeviceID: next.DeviceID, Reason: "alert"}
		if err := s.refresh.EnqueueRefresh(ctx, m); err != nil {
			// The ticket is written and recorded; a lost refresh only
			// leaves the asset as it was until the next sync.
			s.o.Logger.WarnContext(ctx, "could not enqueue the asset refresh of an alert", "seriesId", next.SeriesID,
				"deviceId", next.DeviceID, "error", err)
		}
	}
	return res, nil
}

// store writes next over prev (conditioned on prev's version) and clears
// any claim.
func (s *Service) store(ctx context.Context, sc account.Scope, prev, next Link, res Result) (Result, error) {
	next.LeaseOwner, next.LeaseUntil = "", time.Time{}
	next.Version = prev.Version + 1
	if err := s.links.PutLink(ctx, sc, next); err != nil {
		return Result{}, fmt.Errorf("record alert series %s: %w", next.SeriesID, err)
	}
	return res, nil
}

// target is where a ticket goes.
type target struct {
	AccountID, LocationID, AssetID string
	// Unrouted, when set, says why there is no account.
	Unrouted string
}

// route finds the account, location and asset of the alert's device: the
// device's asset link; else its organization's mapping (creating the
// account when the integration auto-creates accounts) and the asset,
// synced now; else the integration's catch-all account; else unrouted.
func (s *Service) route(ctx context.Context, sc account.Scope, c providers.Clients, a rmm.Alert) (target, error) {
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
		switch {
		case err == nil:
			orgID, siteID = d.OrganizationID, d.SiteID
		case !apperr.Is(err, apperr.NotFound):
			return target{}, fmt.Errorf("read device %s for its organization: %w", a.DeviceID, err)
		}
	}
	settings := c.Integration.Settings
	var m account.Mapping
	var err error
	if orgID != "" {
		m, err = s.accounts.GetMapping(ctx, sc, orgID)
		switch {
		case err == nil && m.State != account.StateMapped:
			return target{}, apperr.New(apperr.Conflict, "organization %s is being mapped; try again shortly", orgID)
		case apperr.Is(err, apperr.NotFound) && settings.AutoCreateAccounts:
			m, err = s.accounts.EnsureAccount(ctx, sc, c, orgID)
			if err != nil {
				return target{}, fmt.Errorf("create the account of organization %s: %w", orgID, err)
			}
		case err != nil && !apperr.Is(err, apperr.NotFound):
			return target{}, fmt.Errorf("read the mapping of organization %s: %w", orgID, err)
		}
	}
	if orgID == "" || err != nil {
		if settings.CatchAllAccountID != "" {
			return target{AccountID: settings.CatchAllAccountID}, nil
		}
		what := "the device's organization is unknown"
		if orgID != "" {
			what = "organization " + orgID + " is not mapped"
		}
		return target{Unrouted: what + ", and the integration neither creates accounts nor has a catch-all account"}, nil
	}
	tgt := target{AccountID: m.AccountID, LocationID: m.Sites[siteID]}
	if a.DeviceID == "" {
		return tgt, nil
	}
	ref, err := s.assets.EnsureAsset(ctx, sc, c, a.DeviceID)
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

func newOwner() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
