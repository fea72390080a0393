package alert

import (
	"context"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/lease"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// The rules of the alert policy (connection.AlertPolicy), in the order
// they are tried: the first that matches filters the alert.
const (
	RuleOrganizationExcluded = "organizationExcluded"
	RuleMaintenance          = "maintenance"
	RuleMinSeverity          = "minSeverity"
	RuleExcludeTypes         = "excludeTypes"
	RuleIncludeTypes         = "includeTypes"
	// RuleFloodGuard is applied last, after routing: the organization had
	// its MaxTicketsPerHour new tickets this hour, and the alert went to
	// the hour's summary ticket instead.
	RuleFloodGuard = "floodGuard"
)

// Filter says which rule of the alert policy kept an alert series from
// getting its own ticket: the rule, the setting that holds it (an
// organization's override or the integration's default) and the setting's
// value when the alert was filtered.
type Filter struct {
	Rule    string `json:"rule"`
	Setting string `json:"setting"`
	Value   string `json:"value"`
}

// Facts are what the policy knows of an alert beyond the alert itself.
type Facts struct {
	// OrganizationID is the alert's organization ("" when unknown).
	OrganizationID string
	// Maintenance says whether the device is in maintenance mode; nil
	// when the RMM does not report it (the maintenance rule is then
	// inert).
	Maintenance *bool
}

const policyField = "settings.alertPolicy"

// Screen applies the alert policy's filtering rules to a trigger, in
// precedence order: the organization excluded by its override; the
// device in maintenance (when the rule is on and the RMM reports it); the
// minimum severity (the organization's override beats the integration's);
// the excluded types; the included types (an alert excluded and included
// is excluded). Types match the alert's condition code or name, without
// case. It returns the filter that applies, or false when the alert may
// become a ticket (the flood guard is decided later, after routing).
func Screen(p connection.AlertPolicy, a rmm.Alert, f Facts) (Filter, bool) {
	org, hasOrg := connection.OrgPolicy{}, false
	if f.OrganizationID != "" {
		org, hasOrg = p.Organizations[f.OrganizationID]
	}
	orgField := policyField + ".organizations." + f.OrganizationID
	if hasOrg && org.Exclude {
		return Filter{Rule: RuleOrganizationExcluded, Setting: orgField + ".exclude", Value: "true"}, true
	}
	if p.SkipMaintenance && f.Maintenance != nil && *f.Maintenance {
		return Filter{Rule: RuleMaintenance, Setting: policyField + ".skipMaintenance", Value: "true"}, true
	}
	minSev, minField := p.MinSeverity, policyField+".minSeverity"
	if hasOrg && org.MinSeverity != "" {
		minSev, minField = org.MinSeverity, orgField+".minSeverity"
	}
	sev := string(a.Severity)
	if sev == "" {
		sev = string(rmm.SeverityNone)
	}
	if minSev != "" && connection.SeverityRank(sev) < connection.SeverityRank(minSev) {
		return Filter{Rule: RuleMinSeverity, Setting: minField, Value: minSev}, true
	}
	if v, ok := matchType(p.ExcludeTypes, a); ok {
		return Filter{Rule: RuleExcludeTypes, Setting: policyField + ".excludeTypes", Value: v}, true
	}
	if len(p.IncludeTypes) > 0 {
		if _, ok := matchType(p.IncludeTypes, a); !ok {
			return Filter{Rule: RuleIncludeTypes, Setting: policyField + ".includeTypes", Value: strings.Join(p.IncludeTypes, ", ")}, true
		}
	}
	return Filter{}, false
}

// matchType returns the entry of list naming the alert's condition code
// or name.
func matchType(list []string, a rmm.Alert) (string, bool) {
	for _, t := range list {
		t = strings.TrimSpace(t)
		for _, v := range []string{a.Code, a.SourceName} {
			if v = strings.TrimSpace(v); v != "" && strings.EqualFold(v, t) {
				return t, true
			}
		}
	}
	return "", false
}

// ticketSettings are the integration's ticket defaults and priority map
// with the organization's overrides merged over them.
func ticketSettings(s connection.Settings, orgID string) (defaults, priorities map[string]string) {
	o, ok := s.AlertPolicy.Organizations[orgID]
	if orgID == "" || !ok || (len(o.TicketDefaults) == 0 && len(o.PriorityMap) == 0) {
		return s.TicketDefaults, s.PriorityMap
	}
	defaults, priorities = maps.Clone(s.TicketDefaults), maps.Clone(s.PriorityMap)
	if defaults == nil {
		defaults = map[string]string{}
	}
	if priorities == nil {
		priorities = map[string]string{}
	}
	maps.Copy(defaults, o.TicketDefaults)
	maps.Copy(priorities, o.PriorityMap)
	return defaults, priorities
}

// FloodSummary is the state of an organization's summary ticket for one
// hour.
type FloodSummary struct {
	// TicketID is the summary ticket, once it is opened.
	TicketID string
	// Claimed says the caller holds the claim to open it.
	Claimed bool
}

// FloodGuard counts the new tickets of each organization and hour, exactly
// across concurrent workers (dynamostore.Alerts, with conditional writes).
// A bucket is "<organization>#<hour>".
type FloodGuard interface {
	// TakeTicketSlot admits seriesID among the at most max series that get
	// their own ticket in the bucket; false when the bucket is full.
	// Asking again for an admitted series answers true (a retried event).
	TakeTicketSlot(ctx context.Context, sc tenancy.Scope, bucket, seriesID string, max int) (bool, error)
	// ClaimFloodSummary returns the bucket's summary ticket, or claims the
	// right to open it until until (Claimed) when it has none and nobody
	// else holds an unexpired claim; otherwise neither.
	ClaimFloodSummary(ctx context.Context, sc tenancy.Scope, bucket, owner string, now, until time.Time) (FloodSummary, error)
	// SetFloodSummaryTicket records the summary ticket opened by the
	// claim's owner.
	SetFloodSummaryTicket(ctx context.Context, sc tenancy.Scope, bucket, owner, ticketID string) error
}

// floodBucket is the flood guard's bucket of an alert: its organization
// ("-" when unknown) and the clock hour of its event time.
func floodBucket(orgID string, at time.Time) string {
	if orgID == "" {
		orgID = "-"
	}
	return orgID + "#" + at.UTC().Format("2006-01-02T15")
}

// floodRef is the external reference of a bucket's summary ticket.
func floodRef(bucket string) string { return "flood#" + bucket }

// facts finds what the policy needs beyond the alert: the organization
// (the alert's, the series', else the device's when a rule depends on it)
// and the device's maintenance mode (when the rule is on). A device the
// RMM does not know leaves both unknown; other failures are errors.
func (s *Service) facts(ctx context.Context, c Clients, l Link, a rmm.Alert) (Facts, error) {
	p := c.Integration.Settings.AlertPolicy
	f := Facts{OrganizationID: a.OrganizationID}
	if f.OrganizationID == "" {
		f.OrganizationID = l.OrganizationID
	}
	needOrg := f.OrganizationID == "" && (len(p.Organizations) > 0 || p.MaxTicketsPerHour > 0)
	if a.DeviceID == "" || (!needOrg && !p.SkipMaintenance) {
		return f, nil
	}
	d, err := c.RMM.GetDevice(ctx, a.DeviceID)
	if apperr.Is(err, apperr.NotFound) {
		return f, nil
	}
	if err != nil {
		return Facts{}, apperrWrap(err, "read device %s for the alert policy", a.DeviceID)
	}
	if f.OrganizationID == "" {
		f.OrganizationID = d.OrganizationID
	}
	f.Maintenance = d.Maintenance
	return f, nil
}

func apperrWrap(err error, format string, args ...any) error {
	return apperr.Wrap(apperr.KindOf(err), err, format, args...)
}

// floodTicket is the summary ticket of a bucket, opened by the first
// alert over the limit.
func (s *Service) floodTicket(c Clients, tgt target, a rmm.Alert, bucket, orgID string, max int) ticketDraft {
	org := orgID
	if org == "" {
		org = "unknown"
	}
	hour := a.OccurredAt.UTC().Truncate(time.Hour)
	summary := "[FLOOD] More than " + strconv.Itoa(max) + " alerts in an hour for RMM organization " + org
	desc := "rmmbridge's flood guard (settings.alertPolicy.maxTicketsPerHour = " + strconv.Itoa(max) + ") opened " +
		strconv.Itoa(max) + " tickets for RMM organization " + org + " in the hour from " + stamp(hour) +
		". The alerts beyond them are added to this ticket as notes, and recorded as filtered " +
		"(GET /v1/integrations/" + c.Integration.ID + "/alerts?state=filtered).\n\nFirst alert over the limit:\n\n" +
		Description(a, c.Integration.ID)
	return ticketDraft{summary: summary, description: desc, ref: floodRef(bucket)}
}

// summaryWaits and summaryWait bound how long a trigger over the flood
// guard's limit waits for another worker to open the summary ticket
// before it goes back to the queue.
const (
	summaryWaits = 20
	summaryWait  = 100 * time.Millisecond
)

// ticketDraft is the text of a ticket other than an alert's own.
type ticketDraft struct{ summary, description, ref string }

// floodNote is the note an alert over the limit adds to the summary
// ticket.
func floodNote(a rmm.Alert) string {
	s := "Alert over the hourly limit at " + stamp(a.OccurredAt) + ": " + Summary(a, 200)
	if a.SeriesID != "" {
		s += " (alert series " + a.SeriesID + ")."
	}
	return s + detail(a)
}

// filtered records a trigger the policy filtered: the series counts the
// occurrence and keeps its rule, with no ticket of its own (a series that
// had one before keeps its generation count, so that a later ticket is a
// new one). summaryTicket is the flood guard's ticket it was noted on.
func (r *run) filtered(ctx context.Context, a rmm.Alert, gen int, f Filter, summaryTicket string) Result {
	next := r.l
	observe(&next, a)
	count(&next, a)
	if !next.State.active() {
		next.OpenedAt = a.OccurredAt
	}
	next.State, next.Filter, next.SummaryTicketID = StateFiltered, f, summaryTicket
	next.Generation, next.TicketID, next.AccountID, next.TicketClosed, next.Unrouted = gen, "", "", false, ""
	r.set(next, a, summaryTicket != "")
	r.s.o.Logger.InfoContext(ctx, "alert filtered by the alert policy: recorded without a ticket", "seriesId", next.SeriesID,
		"rule", f.Rule, "setting", f.Setting, "value", f.Value, "summaryTicketId", summaryTicket)
	if summaryTicket != "" {
		return Result{Outcome: Summarized, TicketID: summaryTicket, Reason: f.Rule + " (" + f.Setting + " = " + f.Value + ")"}
	}
	return Result{Outcome: Filtered, Reason: f.Rule + " (" + f.Setting + " = " + f.Value + ")"}
}

// summarize handles a trigger over the flood guard's limit: a note on the
// bucket's summary ticket, which the first such trigger opens (claim,
// look up by reference, create, record: exactly one per bucket). While
// another worker holds the claim the answer is a Conflict, retried.
func (r *run) summarize(ctx context.Context, a rmm.Alert, gen int, tgt target, bucket string) (Result, error) {
	s := r.s
	max := r.c.Integration.Settings.AlertPolicy.MaxTicketsPerHour
	f := Filter{Rule: RuleFloodGuard, Setting: policyField + ".maxTicketsPerHour", Value: strconv.Itoa(max)}
	owner := lease.NewOwner()
	var sum FloodSummary
	// Another worker opening the summary takes a second or two: wait for
	// it a little here rather than a visibility timeout in the queue.
	for try := 0; ; try++ {
		var err error
		sum, err = s.o.Flood.ClaimFloodSummary(ctx, r.sc, bucket, owner, s.now(), s.now().Add(s.o.Lease))
		if err != nil {
			return Result{}, fmt.Errorf("claim the flood summary ticket of %s: %w", bucket, err)
		}
		if sum.TicketID != "" || sum.Claimed || try == summaryWaits {
			break
		}
		select {
		case <-ctx.Done():
			return Result{}, apperr.Wrap(apperr.Unavailable, ctx.Err(), "wait for the flood summary ticket of %s", bucket)
		case <-time.After(summaryWait):
		}
	}
	switch {
	case sum.TicketID != "":
		if err := r.c.PSA.AddTicketNote(ctx, sum.TicketID, psa.Note{Text: floodNote(a), Internal: true}); err != nil {
			return Result{}, fmt.Errorf("note alert series %s on flood summary ticket %s: %w", a.SeriesID, sum.TicketID, err)
		}
		return r.filtered(ctx, a, gen, f, sum.TicketID), nil
	case !sum.Claimed:
		return Result{}, apperr.New(apperr.Conflict, "the flood summary ticket of %s is being opened; try again shortly", bucket)
	}
	d := s.floodTicket(r.c, tgt, a, bucket, tgt.OrganizationID, max)
	t, adopted, err := s.findTicket(ctx, r.c, d.ref)
	if err != nil {
		return Result{}, err
	}
	if !adopted {
		nt := s.newTicket(r.c, tgt, a, d.ref)
		nt.Summary, nt.Description = psa.Truncate(d.summary, s.o.SummaryMax), d.description
		if t, err = r.c.PSA.CreateTicket(ctx, nt); err != nil {
			return Result{}, fmt.Errorf("create the flood summary ticket of %s: %w", bucket, err)
		}
	}
	if err := s.o.Flood.SetFloodSummaryTicket(ctx, r.sc, bucket, owner, t.ID); err != nil {
		return Result{}, fmt.Errorf("record flood summary ticket %s of %s: %w", t.ID, bucket, err)
	}
	return r.filtered(ctx, a, gen, f, t.ID), nil
}
