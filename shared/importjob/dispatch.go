package importjob

import (
	"context"
	"fmt"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// RMM is what an import asks of the RMM: the organizations (and, for the
// account service, creating them) and their devices.
type RMM interface {
	account.RMM
	rmm.DeviceLister
}

// Clients are the integration and the vendor clients one organization of
// an import uses.
type Clients struct {
	Integration connection.Integration
	RMM         RMM
	// PSA is nil when the PSA cannot look accounts up by rmmbridge's
	// reference: accounts can then be neither created nor mapped safely.
	PSA account.PSA
	// NoPSA says why PSA is nil (the capability the connection lacks).
	NoPSA error
	// Snapshots reads an organization's devices with every attribute in
	// bulk (devices.snapshot); nil: the devices are listed and each asset
	// worker reads its device.
	Snapshots rmm.DeviceSnapshotLister
	// Assets lists an account's assets (assets.list), so each device gets
	// the index's answer; nil: each asset worker runs the lookup ladder.
	Assets psa.AssetLister
}

// Opener opens an integration's vendor clients (NotFound for an
// integration that no longer exists).
type Opener interface {
	Open(ctx context.Context, tenantID, integrationID string) (Clients, error)
}

// LinkReader says which devices already have their asset link
// (dynamostore.Assets: one BatchGetItem per 100 devices).
type LinkReader interface {
	LinkedDevices(ctx context.Context, sc tenancy.Scope, deviceIDs []string) (map[string]bool, error)
}

// DispatcherDeps are what the import-dispatch worker needs.
type DispatcherDeps struct {
	Store    Store
	Tracker  *Tracker
	Accounts *account.Service
	Opener   Opener
	Sender   Sender
	Queues   Queues
	Options  Options
	// Links, when set, spares the PSA the asset listing of an
	// organization whose devices are all linked already (a re-import):
	// only devices without a link need the index's answer.
	Links LinkReader
}

// Dispatcher is the import-dispatch worker: one ImportQueue message is one
// organization of a job (the import-dispatch function's SQS edge runs
// Dispatch over its batches).
//
// Both kinds follow the account decision (account.Decide): a mapped
// organization keeps its account, an unmapped one is linked to a confident
// auto-match, sent to review when several accounts could match, and given
// a new account (exactly once) only when nothing matches and the job
// creates missing accounts.
//
// In an organization import it maps the organization (PlanOrg) and records
// its item. In an asset import it gives an unmapped organization its
// account (account.Service.Resolve) — or, when the decision gives none,
// records every device as review (with the candidates) or skipped, with
// the reason — pages the organization's devices and sends one AssetMessage
// per device (group: the tenant), then counts the devices into the job
// once. A dry run writes nothing to the PSA or the mappings: it records one
// preview item per organization.
//
// Errors that retrying cannot fix for this organization (it vanished from
// the RMM, the vendor refused a record or the credentials) record the
// organization as failed at once. Other errors return the message to the
// queue; on its last receive (queuemsg.MaxReceives) the organization is
// recorded as failed with the reason before the message goes to the DLQ
// (queuemsg.Settler decides which). Messages that name no existing job
// are reported as failures without recording anything.
type Dispatcher struct {
	d DispatcherDeps
	o Options
}

// NewDispatcher returns the worker.
func NewDispatcher(d DispatcherDeps) *Dispatcher {
	o := d.Options.withDefaults()
	return &Dispatcher{d: d, o: o}
}

// orgRun is one organization being processed.
type orgRun struct {
	job     Job
	orgID   string
	rec     *OrgRecord // the organization's record as read first (asset imports)
	listed  bool       // the devices were listed (asset imports)
	devices []string   // their ids
}

// permanent marks err as given up (queuemsg.GiveUp) when its kind says
// retrying will not help (NotFound, Invalid, Unauthorized, NotImplemented,
// ...); what says what failed.
func permanent(err error, what string) error {
	if apperr.KindOf(err).Transient() {
		return fmt.Errorf("%s: %w", what, err)
	}
	return queuemsg.GiveUp(err, what)
}

// Dispatch processes one ImportQueue message: one organization of a job.
// A nil error acknowledges the message; an error sends it back to the
// queue.
func (d *Dispatcher) Dispatch(ctx context.Context, msg queuemsg.Message) error {
	m, err := DecodeOrgMessage([]byte(msg.Body))
	if err != nil {
		return fmt.Errorf("message %s: %w", msg.ID, err)
	}
	j, err := d.d.Store.GetJob(ctx, m.Ref())
	if err != nil {
		return fmt.Errorf("organization %s of job %s: %w", m.OrganizationID, m.JobID, err)
	}
	if j.Kind != m.Kind {
		return apperr.New(apperr.Malformed, "message %s says kind %s; job %s is %s", msg.ID, m.Kind, j.ID, j.Kind)
	}
	r := &orgRun{job: j, orgID: m.OrganizationID}
	err = d.process(ctx, r)
	log := d.o.Logger.With("tenantId", m.TenantID, "integrationId", m.IntegrationID, "jobId", m.JobID, "organizationId", m.OrganizationID)
	return queuemsg.Settler{Name: "import-dispatch", Log: log}.Settle(ctx, msg, err, func(ctx context.Context, reason string) error {
		if err := d.fail(ctx, r, reason); err != nil {
			return fmt.Errorf("record failure of organization %s: %w", r.orgID, err)
		}
		return nil
	})
}

// fail records the organization's failure: its item, or in an asset
// import its listed devices (then counted), or its organization item.
func (d *Dispatcher) fail(ctx context.Context, r *orgRun, reason string) error {
	ref := r.job.Ref()
	switch {
	case r.job.PerOrganizationItems():
		return d.d.Tracker.Record(ctx, ref.TenantID, ref.IntegrationID, ref.JobID, Item{Key: r.orgID, Status: Failed, Reason: reason})
	case r.listed:
		if err := d.d.Tracker.RecordAll(ctx, ref, r.devices, Failed, reason); err != nil {
			return err
		}
		return d.d.Tracker.CountOrg(ctx, ref, r.orgID, len(r.devices))
	}
	return d.d.Tracker.FailOrg(ctx, ref, r.orgID, reason)
}

func (d *Dispatcher) process(ctx context.Context, r *orgRun) error {
	ref := r.job.Ref()
	if r.job.Status == StatusQueued {
		if err := d.d.Tracker.Start(ctx, ref); err != nil {
			return err
		}
	}
	if r.job.Kind == KindAssets && !r.job.DryRun {
		rec, err := d.d.Store.GetOrg(ctx, ref, r.orgID)
		if err != nil {
			return fmt.Errorf("read organization %s of job %s: %w", r.orgID, ref.JobID, err)
		}
		if rec.State == OrgCounted {
			return nil // a redelivery: its devices went out and were counted
		}
		r.rec = &rec
	}
	cl, err := d.d.Opener.Open(ctx, ref.TenantID, ref.IntegrationID)
	if err != nil {
		return fmt.Errorf("open integration %s: %w", ref.IntegrationID, err)
	}
	switch {
	case r.job.Kind == KindOrganizations:
		return d.importOrg(ctx, r, cl)
	case r.job.DryRun:
		return d.previewAssets(ctx, r, cl)
	}
	return d.fanOut(ctx, r, cl)
}

func scopeOf(j Job) tenancy.Scope {
	actor := "import/" + j.ID
	if j.StartedBy != "" {
		actor += " by " + j.StartedBy
	}
	return tenancy.Scope{TenantID: j.TenantID, IntegrationID: j.IntegrationID, Actor: actor}
}

// mapping returns the organization's final mapping, nil when unmapped.
func (d *Dispatcher) mapping(ctx context.Context, sc tenancy.Scope, orgID string) (*account.Mapping, error) {
	m, err := d.d.Accounts.Get(ctx, sc, orgID)
	switch {
	case err == nil:
		return &m, nil
	case apperr.Is(err, apperr.NotFound):
		return nil, nil
	}
	return nil, fmt.Errorf("read mapping of organization %s: %w", orgID, err)
}

// psaOf returns the PSA as the account decision needs it, or a failure
// that retrying cannot cure, naming the capability the PSA lacks
// (accounts.findByRef).
func psaOf(cl Clients) (account.PSA, error) {
	if cl.PSA == nil {
		err := cl.NoPSA
		if err == nil {
			err = apperr.New(apperr.NotImplemented,
				"this PSA cannot look accounts up by rmmbridge's reference, so accounts cannot be created or mapped safely")
		}
		return nil, queuemsg.GiveUp(err, "")
	}
	return cl.PSA, nil
}

// facts are the account decision's facts about org: its mapping m, and
// for an unmapped organization the accounts carrying its reference and the
// auto-match of its name (account.LookUp).
func (d *Dispatcher) facts(ctx context.Context, cl Clients, org rmm.Organization, m *account.Mapping) (account.Facts, error) {
	if m != nil {
		return account.Facts{Mapping: m}, nil
	}
	p, err := psaOf(cl)
	if err != nil {
		return account.Facts{}, err
	}
	f, err := account.LookUp(ctx, p, org)
	if err != nil {
		return account.Facts{}, permanent(err, "search the PSA for the organization's account")
	}
	return f, nil
}

func newAccountSpec(cl Clients) account.NewAccountSpec {
	def := cl.Integration.Settings.AccountDefaults
	return account.NewAccountSpec{Status: def.Status, Type: def.Type}
}

func (d *Dispatcher) record(ctx context.Context, j Job, it Item) error {
	return d.d.Tracker.Record(ctx, j.TenantID, j.IntegrationID, j.ID, it)
}

// importOrg is one organization of an organization import.
func (d *Dispatcher) importOrg(ctx context.Context, r *orgRun, cl Clients) error {
	org, err := cl.RMM.GetOrganization(ctx, r.orgID)
	if err != nil {
		return permanent(err, "read the organization from the RMM")
	}
	sc := scopeOf(r.job)
	m, err := d.mapping(ctx, sc, org.ID)
	if err != nil {
		return err
	}
	f, err := d.facts(ctx, cl, org, m)
	if err != nil {
		return err
	}
	plan := PlanOrg(org, f, r.job.CreateMissingAccounts, r.job.DryRun)
	it := Item{Key: org.ID, Status: plan.Outcome, Reason: plan.Reason}
	if r.job.DryRun {
		it.Preview = &PreviewItem{Key: org.ID, Action: plan.Action, Name: org.Name, TargetID: plan.AccountID, Reason: plan.Reason}
		return d.record(ctx, r.job, it)
	}
	switch plan.Action {
	case ActionUpdate:
		p, err := psaOf(cl)
		if err != nil {
			return err
		}
		if _, err := d.d.Accounts.Map(ctx, sc, cl.RMM, p, org.ID, account.MapInput{AccountID: plan.AccountID}); err != nil {
			return permanent(err, "map the organization")
		}
	case ActionLink, ActionCreate:
		p, err := psaOf(cl)
		if err != nil {
			return err
		}
		got, err := d.d.Accounts.Apply(ctx, sc, p, org, plan.Decision, newAccountSpec(cl))
		if err != nil {
			return permanent(err, "map the organization")
		}
		switch {
		case plan.Action == ActionLink && got.AccountID != plan.AccountID:
			// Another request mapped the organization meanwhile.
			it.Status, it.Reason = Skipped, fmt.Sprintf("already mapped to %s (%s)", got.AccountName, got.AccountID)
		case plan.Action == ActionCreate:
			it.Reason = fmt.Sprintf("no matching PSA account; created account %s (%s)", got.AccountName, got.AccountID)
		}
	}
	return d.record(ctx, r.job, it)
}

// previewAssets is one organization of an asset dry run: the account
// decision the import would carry out (account.Decide, auto-match
// included), and what it would mean for the organization's devices.
func (d *Dispatcher) previewAssets(ctx context.Context, r *orgRun, cl Clients) error {
	org, err := cl.RMM.GetOrganization(ctx, r.orgID)
	if err != nil {
		return permanent(err, "read the organization from the RMM")
	}
	m, err := d.mapping(ctx, scopeOf(r.job), org.ID)
	if err != nil {
		return err
	}
	f, err := d.facts(ctx, cl, org, m)
	if err != nil {
		return err
	}
	dec := account.Decide(org, f, accountPolicy(r.job.CreateMissingAccounts))
	devs, err := rmm.AllDevices(ctx, cl.RMM, org.ID)
	if err != nil {
		return permanent(err, "list the organization's devices")
	}
	n := len(deviceIDs(devs))
	devices := fmt.Sprintf("%d %s", n, plural(n, "device", "devices"))
	pv := PreviewItem{Key: org.ID, Name: org.Name}
	switch dec.Action {
	case account.ActionMapped:
		pv.Action, pv.TargetID = ActionUpdate, m.AccountID
		pv.Reason = fmt.Sprintf("%s would be imported into account %s (%s)", devices, m.AccountName, m.AccountID)
	case account.ActionAdopt:
		c := dec.Target
		pv.Action, pv.TargetID = ActionLink, c.Account.ID
		pv.Reason = fmt.Sprintf("not mapped; would adopt PSA account %s (%s), which rmmbridge created for it before, and %s imported into it",
			c.Account.Name, c.Account.ID, devices)
	case account.ActionLink:
		c := dec.Target
		pv.Action, pv.TargetID = ActionLink, c.Account.ID
		pv.Reason = fmt.Sprintf("not mapped; would be linked to PSA account %s (%s), score %.2f, and %s imported into it",
			c.Account.Name, c.Account.ID, c.Score, devices)
	case account.ActionReview:
		pv.Action = ActionReview
		pv.Reason = fmt.Sprintf("not mapped: %s; its %s would be recorded for review and no account created", dec.Reason, devices)
	case account.ActionCreate:
		pv.Action = ActionCreate
		pv.Reason = fmt.Sprintf("not mapped and no matching PSA account; an account named %s would be created and %s imported into it", org.Name, devices)
	default:
		pv.Action = ActionSkip
		pv.Reason = fmt.Sprintf("not mapped: %s; %s would be skipped", dec.Reason, devices)
	}
	return d.record(ctx, r.job, Item{Key: org.ID, Status: actionOutcome[pv.Action], Reason: pv.Reason, Preview: &pv})
}

// fanOut is one organization of an asset import. An unmapped organization
// first gets the account the account decision gives it
// (account.Service.Resolve: linked to a confident match, or created when
// nothing matches and the job creates missing accounts); when it gets none
// (several accounts could match, or creating is off) every device is
// recorded — review or skipped — with the reason, and nothing is created.
func (d *Dispatcher) fanOut(ctx context.Context, r *orgRun, cl Clients) error {
	ref := r.job.Ref()
	sc := scopeOf(r.job)
	m, err := d.mapping(ctx, sc, r.orgID)
	if err != nil {
		return err
	}
	held, reason := Outcome(""), ""
	accountID := ""
	if m != nil {
		accountID = m.AccountID
	} else {
		org, err := cl.RMM.GetOrganization(ctx, r.orgID)
		if err != nil {
			return permanent(err, "read the organization from the RMM")
		}
		p, err := psaOf(cl)
		if err != nil {
			return err
		}
		// Exactly once however many workers race: the account service's
		// claim. Sites get their locations too.
		res, err := d.d.Accounts.Resolve(ctx, sc, p, org, accountPolicy(r.job.CreateMissingAccounts), newAccountSpec(cl))
		if err != nil {
			return permanent(err, "give the organization its PSA account")
		}
		switch res.Action {
		case account.ActionReview:
			held = Review
			reason = fmt.Sprintf("organization %s (%s) is not mapped: %s", org.ID, org.Name, res.Reason)
		case account.ActionSkip:
			held = Skipped
			reason = fmt.Sprintf("organization %s is not mapped to a PSA account: %s", org.ID, res.Reason)
		default:
			accountID = res.Mapping.AccountID
		}
	}
	var devs []rmm.Device
	if cl.Snapshots != nil && held == "" {
		devs, err = snapshotDevices(ctx, cl.Snapshots, r.orgID)
	} else {
		devs, err = rmm.AllDevices(ctx, cl.RMM, r.orgID)
	}
	if err != nil {
		return permanent(err, "list the organization's devices")
	}
	var (
		ix     *AssetIndex
		linked map[string]bool
	)
	if cl.Assets != nil && held == "" && accountID != "" && len(devs) > 0 {
		need := true
		if d.d.Links != nil {
			// A failed read only costs the PSA listing.
			if l, err := d.d.Links.LinkedDevices(ctx, sc, deviceIDs(devs)); err == nil {
				linked = l
				need = false
				for _, dv := range devs {
					need = need || !linked[dv.ID]
				}
			}
		}
		if need {
			if ix, err = ListAssetIndex(ctx, cl.Assets, accountID, d.o.Now()); err != nil {
				return permanent(err, "list the account's assets in the PSA")
			}
		}
	}
	r.listed, r.devices = true, deviceIDs(devs)
	if held != "" {
		if err := d.d.Tracker.RecordOrgDevices(ctx, ref, r.orgID, r.devices, held, reason); err != nil {
			return err
		}
	} else {
		msgs := make([]Message, 0, len(r.devices))
		seen := make(map[string]bool, len(devs))
		for _, dv := range devs {
			if dv.ID == "" || seen[dv.ID] {
				continue
			}
			seen[dv.ID] = true
			var match *queuemsg.AssetMatch
			if ix != nil && !linked[dv.ID] {
				mm := ix.Match(dv)
				mm.NoLink = linked != nil
				match = &mm
			}
			msgs = append(msgs, bulkAssetMessage(ref, dv, cl.Snapshots != nil, match))
		}
		if err := d.d.Sender.SendBatch(ctx, d.d.Queues.Asset, msgs); err != nil {
			return fmt.Errorf("queue the devices of organization %s: %w", r.orgID, err)
		}
	}
	// Counted last: a redelivered message of a counted organization is
	// not processed again, so everything above must be done first.
	if err := d.d.Tracker.countOrg(ctx, ref, r.orgID, len(r.devices), r.rec); err != nil {
		return err
	}
	d.o.Logger.InfoContext(ctx, "organization fanned out", "tenantId", ref.TenantID, "integrationId", ref.IntegrationID,
		"jobId", ref.JobID, "organizationId", r.orgID, "devices", len(r.devices), "held", string(held))
	return nil
}

// deviceIDs returns the devices' ids, each once, in order.
func deviceIDs(devs []rmm.Device) []string {
	seen := make(map[string]bool, len(devs))
	ids := make([]string, 0, len(devs))
	for _, dv := range devs {
		if dv.ID != "" && !seen[dv.ID] {
			seen[dv.ID] = true
			ids = append(ids, dv.ID)
		}
	}
	return ids
}
