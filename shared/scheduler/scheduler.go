// Package scheduler is the scheduler function's periodic work: the import
// sweep (ImportSweep, imports.go: stalled import jobs reconciled from their
// item records), and reverse provisioning: every integration with
// provisionRmmOrgs on gets an RMM organization, and its mapping, for each
// PSA account created since the last run (account.Service.ProvisionRMM,
// which follows the account decision in reverse: it adopts the organization
// auto-match finds for the account's name instead of creating a second one,
// and creates nothing when several organizations could be the account).
//
// A run visits the integrations on the store's work list, a few at a time.
// For each it claims the integration's run with a lease, so two runs never
// provision one integration at once (an organization is never created
// twice by overlapping runs); re-reads the integration; lists the PSA
// accounts created in the window (lastRunAt − Overlap, now] — the first
// window starts at the integration's creation less the overlap, so
// switching the setting on does not provision every historical account —
// skips accounts already mapped, and provisions the rest. The watermark
// then advances to the run's start with a conditional write (the
// watermark unchanged, the lease still ours). A transient failure, or the
// invocation running out of time, leaves the watermark where it was: the
// next run lists the window again and skips what is mapped by now.
//
// One integration's failure never stops the others; a run is an error only
// when integrations failed and none succeeded, so the Lambda's retries and
// error metrics see an outage but not one tenant's bad credentials.
package scheduler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// Actor is who the audit trail names for mappings the scheduler writes.
const Actor = "scheduler"

// Defaults of Options.
const (
	// DefaultOverlap re-lists the end of the previous window: the PSA's
	// creation dates are its own clock (to the second), and a record can
	// become visible to a listing a little after its date.
	DefaultOverlap = 10 * time.Minute
	// DefaultLease holds an integration's run when the context has no
	// deadline; with one (a Lambda invocation) the lease ends with it.
	DefaultLease = 5 * time.Minute
	// DefaultReserve is the time left before the deadline at which a run
	// stops starting new accounts.
	DefaultReserve = 20 * time.Second
	// DefaultConcurrency is how many integrations a run visits at once.
	DefaultConcurrency = 4
)

// Store keeps the work list and each integration's watermark and run lease
// (dynamostore.Schedules).
type Store interface {
	// IntegrationsToProvision lists the integrations, of every tenant,
	// with provisionRmmOrgs on.
	IntegrationsToProvision(ctx context.Context) ([]connection.Integration, error)
	// ClaimProvisionRun takes the integration's run for owner until
	// leaseUntil unless another run's lease is live at now (Conflict), and
	// returns the watermark (zero before the first complete run).
	ClaimProvisionRun(ctx context.Context, tenantID, integrationID, owner string, now, leaseUntil time.Time) (time.Time, error)
	// FinishProvisionRun releases owner's run and, with next set,
	// advances the watermark from prev to next; Conflict when owner lost
	// the run or the watermark is no longer prev.
	FinishProvisionRun(ctx context.Context, tenantID, integrationID, owner string, prev, next time.Time) error
}

// Mappings reads mappings (account.Store's read side).
type Mappings interface {
	MappingsByAccount(ctx context.Context, sc account.Scope, accountID string) ([]account.Mapping, error)
	GetMapping(ctx context.Context, sc account.Scope, orgID string) (account.Mapping, error)
}

// Provisioner creates an account's RMM organization and its mapping, with
// its audit event (account.Service).
type Provisioner interface {
	ProvisionRMM(ctx context.Context, sc account.Scope, r account.RMM, p account.PSA, accountID string) (account.Provisioned, error)
}

// Clients are an integration's vendor clients as a run uses them.
type Clients struct {
	// Integration as read when the clients were opened: fresher than the
	// work list, which is an eventually consistent index.
	Integration connection.Integration
	RMM         account.RMM
	PSA         account.PSA
	// Recent is nil when the PSA cannot list accounts by creation date;
	// the integration is then skipped.
	Recent psa.RecentAccounts
}

// Opener opens an integration's clients.
type Opener func(ctx context.Context, tenantID, integrationID string) (Clients, error)

// Options tune a Scheduler; zero values take the defaults.
type Options struct {
	Now         func() time.Time
	Overlap     time.Duration
	Lease       time.Duration
	Reserve     time.Duration
	Concurrency int
	Logger      *slog.Logger
}

// Scheduler runs reverse provisioning.
type Scheduler struct {
	store Store
	maps  Mappings
	prov  Provisioner
	open  Opener
	o     Options
}

// New returns a Scheduler.
func New(store Store, maps Mappings, prov Provisioner, open Opener, o Options) *Scheduler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Overlap <= 0 {
		o.Overlap = DefaultOverlap
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.Reserve <= 0 {
		o.Reserve = DefaultReserve
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Scheduler{store: store, maps: maps, prov: prov, open: open, o: o}
}

// Outcomes of one integration in a run.
const (
	// OutcomeDone: the window was handled and the watermark advanced (or
	// another run advanced it first).
	OutcomeDone = "done"
	// OutcomeBusy: another run holds the integration.
	OutcomeBusy = "busy"
	// OutcomeOff: provisionRmmOrgs was switched off (or the integration
	// deleted) since the work list was read.
	OutcomeOff = "off"
	// OutcomeUnsupported: the PSA cannot list accounts by creation date,
	// or cannot provision.
	OutcomeUnsupported = "unsupported"
	// OutcomePartial: the invocation's time ran out; the watermark stays.
	OutcomePartial = "partial"
	// OutcomeFailed: an error stopped the integration, or an account
	// failed transiently; the watermark stays.
	OutcomeFailed = "failed"
)

// IntegrationReport is what a run did for one integration.
type IntegrationReport struct {
	TenantID      string
	IntegrationID string
	Outcome       string
	// Since is the start of the window listed (zero if none was).
	Since time.Time
	// Listed accounts were created in the window; each was provisioned,
	// skipped (mapped already, several organizations could be it, or the
	// organization matching its name belongs to another account) or
	// failed.
	Listed, Provisioned, Skipped, Failed int
	// Err is the first error, for the log.
	Err error
}

// Report is what one run did.
type Report struct {
	Integrations []IntegrationReport
}

// Count returns how many integrations ended with the outcome.
func (r Report) Count(outcome string) int {
	n := 0
	for _, ir := range r.Integrations {
		if ir.Outcome == outcome {
			n++
		}
	}
	return n
}

// Provisioned returns the number of organizations provisioned in the run.
func (r Report) Provisioned() int {
	n := 0
	for _, ir := range r.Integrations {
		n += ir.Provisioned
	}
	return n
}

// Handle is the scheduled (EventBridge) entry point: one run, summarized
// in one log line.
func (s *Scheduler) Handle(ctx context.Context, ev events.EventBridgeEvent) error {
	ctx = ratelimit.WithLane(ctx, ratelimit.LaneImport) // background work: after alerts and the Sync button
	rep, err := s.Run(ctx)
	attrs := []any{"eventId", ev.ID, "scheduledAt", ev.Time, "integrations", len(rep.Integrations),
		"done", rep.Count(OutcomeDone), "busy", rep.Count(OutcomeBusy), "partial", rep.Count(OutcomePartial),
		"failed", rep.Count(OutcomeFailed), "unsupported", rep.Count(OutcomeUnsupported), "provisioned", rep.Provisioned()}
	if err != nil {
		s.o.Logger.ErrorContext(ctx, "reverse provisioning run failed", append(attrs, "error", err.Error())...)
		return err
	}
	s.o.Logger.InfoContext(ctx, "reverse provisioning run", attrs...)
	return nil
}

// Run provisions every integration on the work list. It returns an error
// when the work list cannot be read, or when integrations failed and none
// was done.
func (s *Scheduler) Run(ctx context.Context) (Report, error) {
	igs, err := s.store.IntegrationsToProvision(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("read the reverse provisioning work list: %w", err)
	}
	rep := Report{Integrations: make([]IntegrationReport, len(igs))}
	sem := make(chan struct{}, s.o.Concurrency)
	var wg sync.WaitGroup
	for i, ig := range igs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			rep.Integrations[i] = s.integration(ctx, ig)
		}()
	}
	wg.Wait()
	var errs []error
	for _, ir := range rep.Integrations {
		if ir.Outcome == OutcomeFailed {
			errs = append(errs, fmt.Errorf("integration %s of tenant %s: %w", ir.IntegrationID, ir.TenantID, ir.Err))
		}
	}
	if len(errs) > 0 && rep.Count(OutcomeDone)+rep.Count(OutcomePartial) == 0 {
		return rep, errors.Join(errs...)
	}
	return rep, nil
}

// integration runs one integration: claim, open, list, provision, finish.
func (s *Scheduler) integration(ctx context.Context, ig connection.Integration) IntegrationReport {
	ir := IntegrationReport{TenantID: ig.TenantID, IntegrationID: ig.ID}
	log := s.o.Logger.With("tenantId", ig.TenantID, "integrationId", ig.ID)
	owner := newOwner()
	start := s.o.Now().UTC().Truncate(time.Millisecond)
	last, err := s.store.ClaimProvisionRun(ctx, ig.TenantID, ig.ID, owner, start, s.leaseUntil(ctx, start))
	if apperr.Is(err, apperr.Conflict) {
		ir.Outcome = OutcomeBusy
		log.InfoContext(ctx, "reverse provisioning: another run holds the integration")
		return ir
	}
	if err != nil {
		ir.Outcome, ir.Err = OutcomeFailed, err
		log.ErrorContext(ctx, "reverse provisioning: claim the run", "error", err.Error())
		return ir
	}
	// finish releases the run, advancing the watermark to start when the
	// window was handled in full.
	finish := func(advance bool) {
		next := time.Time{}
		if advance {
			next = start
		}
		err := s.store.FinishProvisionRun(context.WithoutCancel(ctx), ig.TenantID, ig.ID, owner, last, next)
		switch {
		case apperr.Is(err, apperr.Conflict):
			// Our lease ran out and another run took over: it owns the
			// watermark now.
			log.WarnContext(ctx, "reverse provisioning: the run was taken over; watermark left to the other run")
		case err != nil:
			log.ErrorContext(ctx, "reverse provisioning: finish the run", "error", err.Error())
			if ir.Err == nil {
				ir.Outcome, ir.Err = OutcomeFailed, err
			}
		}
	}

	cl, err := s.open(ctx, ig.TenantID, ig.ID)
	switch {
	case apperr.Is(err, apperr.NotFound):
		ir.Outcome = OutcomeOff
		finish(false)
		return ir
	case err != nil:
		ir.Outcome, ir.Err = OutcomeFailed, fmt.Errorf("open the integration's clients: %w", err)
		log.ErrorContext(ctx, "reverse provisioning: open clients", "error", err.Error())
		finish(false)
		return ir
	case !cl.Integration.Settings.ProvisionRmmOrgs:
		ir.Outcome = OutcomeOff
		finish(false)
		return ir
	case cl.Recent == nil || cl.PSA == nil || cl.RMM == nil:
		ir.Outcome = OutcomeUnsupported
		log.InfoContext(ctx, "reverse provisioning: the PSA cannot list new accounts; integration skipped")
		finish(false)
		return ir
	}

	ir.Since = s.windowStart(cl.Integration, last, start)
	accts, err := cl.Recent.AccountsCreatedSince(ctx, ir.Since)
	if err != nil {
		ir.Outcome, ir.Err = OutcomeFailed, fmt.Errorf("list accounts created since %s: %w", ir.Since.Format(time.RFC3339), err)
		log.ErrorContext(ctx, "reverse provisioning: list new accounts", "since", ir.Since, "error", err.Error())
		finish(false)
		return ir
	}
	ir.Listed = len(accts)
	sc := account.Scope{TenantID: ig.TenantID, IntegrationID: ig.ID, Actor: Actor}
	w := &window{s: s, sc: sc, cl: cl, log: log, ir: &ir}
	complete := true
	for _, a := range accts {
		if s.outOfTime(ctx) {
			complete = false
			break
		}
		w.account(ctx, a)
	}
	switch {
	case ir.Err != nil:
		ir.Outcome = OutcomeFailed
		finish(false)
	case !complete:
		ir.Outcome = OutcomePartial
		log.WarnContext(ctx, "reverse provisioning: out of time; the next run continues", "listed", ir.Listed,
			"provisioned", ir.Provisioned, "skipped", ir.Skipped)
		finish(false)
	default:
		ir.Outcome = OutcomeDone
		finish(true)
	}
	if ir.Listed > 0 {
		log.InfoContext(ctx, "reverse provisioning: integration", "outcome", ir.Outcome, "since", ir.Since,
			"listed", ir.Listed, "provisioned", ir.Provisioned, "skipped", ir.Skipped, "failed", ir.Failed)
	}
	return ir
}

// windowStart is where the listing starts: the watermark, or for a first
// run the integration's creation (an integration without one: now), less
// the overlap. The first window is bounded too: switching provisioning on
// must not provision every historical account. It overlaps for the same
// reason later ones do: the PSA dates records by its own clock, to the
// second (an account entered in the integration's second is not after
// it).
func (s *Scheduler) windowStart(ig connection.Integration, last, start time.Time) time.Time {
	base := start
	switch {
	case !last.IsZero():
		base = last
	case !ig.CreatedAt.IsZero():
		base = ig.CreatedAt.UTC()
	}
	return base.Add(-s.o.Overlap)
}

// leaseUntil ends the lease with the invocation (a run cannot outlive its
// deadline), or after Options.Lease without one.
func (s *Scheduler) leaseUntil(ctx context.Context, start time.Time) time.Time {
	if dl, ok := ctx.Deadline(); ok {
		return start.Add(time.Until(dl) + time.Second)
	}
	return start.Add(s.o.Lease)
}

func (s *Scheduler) outOfTime(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < s.o.Reserve
}

// window provisions the accounts of one integration's window.
type window struct {
	s   *Scheduler
	sc  account.Scope
	cl  Clients
	log *slog.Logger
	ir  *IntegrationReport
	// orgs is the RMM's organizations, read once when first needed and
	// kept up to date with what the window provisions.
	orgs   []rmm.Organization
	loaded bool
}

// account provisions one listed account unless it is mapped already,
// several organizations could be it, or the organization matching its name
// belongs to another account.
func (w *window) account(ctx context.Context, a psa.Account) {
	log := w.log.With("accountId", a.ID)
	fail := func(err error) {
		w.ir.Failed++
		if !apperr.KindOf(err).Transient() {
			// A permanent refusal (the RMM rejects the name, the account
			// is gone): retrying every five minutes would not help.
			log.ErrorContext(ctx, "reverse provisioning: account failed; not retried", "error", err.Error())
			return
		}
		log.WarnContext(ctx, "reverse provisioning: account failed; the next run retries", "error", err.Error())
		if w.ir.Err == nil {
			w.ir.Err = fmt.Errorf("account %s: %w", a.ID, err)
		}
	}
	maps, err := w.s.maps.MappingsByAccount(ctx, w.sc, a.ID)
	if err != nil {
		fail(fmt.Errorf("look up mappings: %w", err))
		return
	}
	for _, m := range maps {
		if m.State == account.StateMapped {
			w.ir.Skipped++
			return
		}
	}
	reason, err := w.takenOrganization(ctx, a)
	if err != nil {
		fail(err)
		return
	}
	if reason != "" {
		w.ir.Skipped++
		log.WarnContext(ctx, "reverse provisioning: account skipped; map it by hand", "reason", reason)
		return
	}
	p, err := w.s.prov.ProvisionRMM(ctx, w.sc, w.cl.RMM, w.cl.PSA, a.ID)
	switch {
	case apperr.Is(err, apperr.Conflict):
		// Mapped meanwhile, by a person or an import: done.
		w.ir.Skipped++
	case err != nil:
		fail(err)
	default:
		w.ir.Provisioned++
		w.orgs = append(w.orgs, rmm.Organization{ID: p.OrganizationID, Name: a.Name})
		log.InfoContext(ctx, "reverse provisioning: organization provisioned", "organizationId", p.OrganizationID, "sites", len(p.Sites))
	}
}

// takenOrganization explains why the automatic path leaves account a
// alone, "" when it provisions it. ProvisionRMM follows the account
// decision in reverse (account.DecideOrganization): it adopts the
// organization auto-match finds for the account's name, and creates one
// when none matches. When several organizations could be the account, or
// the one found is mapped to a different account (a duplicate company in
// the PSA), nothing is provisioned and the reason names them — a person
// can still map or provision the account on demand. An organization being
// mapped right now is a transient Conflict.
func (w *window) takenOrganization(ctx context.Context, a psa.Account) (string, error) {
	if !w.loaded {
		orgs, err := w.cl.RMM.ListOrganizations(ctx)
		if err != nil {
			return "", fmt.Errorf("list RMM organizations: %w", err)
		}
		w.orgs, w.loaded = orgs, true
	}
	d := account.DecideOrganization(a, false, account.MatchOrganizations(a.Name, w.orgs))
	switch d.Action {
	case account.ActionReview:
		return d.Reason, nil
	case account.ActionLink:
	default:
		return "", nil
	}
	orgID := d.Target.Account.ID
	m, err := w.s.maps.GetMapping(ctx, w.sc, orgID)
	switch {
	case apperr.Is(err, apperr.NotFound):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("read mapping of organization %s: %w", orgID, err)
	case m.State != account.StateMapped:
		return "", apperr.New(apperr.Conflict, "organization %s is being mapped", orgID)
	case m.AccountID != a.ID:
		return fmt.Sprintf("organization %s (%s), which auto-match finds for the account, is mapped to account %s", orgID, d.Target.Account.Name, m.AccountID), nil
	}
	return "", nil
}

func newOwner() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
