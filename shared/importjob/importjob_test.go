package importjob_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/devtools/samtemplate"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/sqsbatch"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// harness wires the three parts of importjob over in-memory fakes.
type harness struct {
	store    *memStore
	mappings *memMappings
	rmm      *fakeRMM
	psa      *fakePSA
	sender   *fakeSender
	vis      *fakeVisibility
	tracker  *importjob.Tracker
	svc      *importjob.Service
	disp     *importjob.Dispatcher
}

func noSleep(context.Context, time.Duration) error { return nil }

func newHarness(t *testing.T, r *fakeRMM, p *fakePSA, maps ...account.Mapping) *harness {
	t.Helper()
	h := &harness{store: newMemStore(), mappings: newMemMappings(maps...), rmm: r, psa: p, sender: newFakeSender(), vis: &fakeVisibility{}}
	o := importjob.Options{Sleep: noSleep}
	h.tracker = importjob.NewTracker(h.store, o)
	h.svc = importjob.NewService(h.store, h.tracker, h.sender, queues, o)
	h.disp = importjob.NewDispatcher(importjob.DispatcherDeps{
		Store: h.store, Tracker: h.tracker,
		Accounts: account.NewService(h.mappings, account.Options{Sleep: noSleep}),
		Opener:   &fakeOpener{integrationID: integration, rmm: r, psa: p},
		Sender:   h.sender,
		Queues:   queues,
		Options:  o,
	})
	return h
}

// start creates a job and returns it with its queued OrgMessages.
func (h *harness) start(t *testing.T, in importjob.CreateInput) (importjob.Job, []importjob.Message) {
	t.Helper()
	j, err := h.svc.Create(context.Background(), tenant, integration, in, h.rmm)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return j, h.sender.take(importQ)
}

// dispatch runs the messages through the worker, one batch each (the
// template's BatchSize 1), and returns the failed message ids.
func (h *harness) dispatch(t *testing.T, receives int, msgs ...importjob.Message) []string {
	t.Helper()
	// The import-dispatch function's SQS edge over the dispatcher.
	handle := sqsbatch.Processor{Name: "import-dispatch", QueueURL: queues.Import, Vis: h.vis}.Handler(h.disp.Dispatch)
	var failed []string
	for _, m := range msgs {
		resp, err := handle(context.Background(), sqsEvent(t, receives, m))
		if err != nil {
			t.Fatalf("Handle: %v", err)
		}
		failed = append(failed, failedIDs(resp)...)
	}
	return failed
}

func ptr[T any](v T) *T { return &v }

func TestRecordTransitions(t *testing.T) {
	tests := []struct {
		name       string
		steps      []importjob.Outcome
		wantStatus importjob.Outcome
		wantCounts importjob.Counts
	}{
		{"first outcome counts", []importjob.Outcome{importjob.Created}, importjob.Created, importjob.Counts{Total: 2, Created: 1}},
		{"same outcome again is a no-op", []importjob.Outcome{importjob.Updated, importjob.Updated}, importjob.Updated, importjob.Counts{Total: 2, Updated: 1}},
		{"the first outcome stands", []importjob.Outcome{importjob.Created, importjob.Skipped}, importjob.Created, importjob.Counts{Total: 2, Created: 1}},
		{"failed moves to the retried outcome", []importjob.Outcome{importjob.Failed, importjob.Updated}, importjob.Updated, importjob.Counts{Total: 2, Updated: 1}},
		{"failed twice counts once", []importjob.Outcome{importjob.Failed, importjob.Failed}, importjob.Failed, importjob.Counts{Total: 2, Failed: 1}},
		{"review is final", []importjob.Outcome{importjob.Review, importjob.Linked}, importjob.Review, importjob.Counts{Total: 2, Review: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st := newMemStore()
			tr := importjob.NewTracker(st, importjob.Options{Sleep: noSleep})
			ref := importjob.Ref{TenantID: tenant, IntegrationID: integration, JobID: "j1"}
			if err := st.CreateJob(ctx, importjob.Job{ID: "j1", TenantID: tenant, IntegrationID: integration, Kind: importjob.KindOrganizations,
				Status: importjob.StatusRunning, Orgs: 2, Counts: importjob.Counts{Total: 2}}); err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.steps {
				if err := tr.Record(ctx, tenant, integration, "j1", importjob.Item{Key: "a", Status: s, Reason: string(s)}); err != nil {
					t.Fatalf("Record(%s): %v", s, err)
				}
			}
			if diff := cmp.Diff(tc.wantCounts, st.job(ref).Counts); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
			if got := st.statuses(ref)["a"]; got != tc.wantStatus {
				t.Errorf("item status = %s, want %s", got, tc.wantStatus)
			}
			if got := st.job(ref).Status; got != importjob.StatusRunning {
				t.Errorf("job status = %s, want running (one of two items recorded)", got)
			}
		})
	}
}

func TestRecordRefusals(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	tr := importjob.NewTracker(st, importjob.Options{Sleep: noSleep})
	if err := tr.Record(ctx, tenant, integration, "", importjob.Item{Key: "d1", Status: importjob.Updated}); err != nil {
		t.Errorf("Record without a job (an alert refresh) = %v, want nil", err)
	}
	if st.applies != 0 {
		t.Errorf("Record without a job wrote %d times", st.applies)
	}
	if err := tr.Record(ctx, tenant, integration, "missing", importjob.Item{Key: "d1", Status: importjob.Updated}); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("Record on an unknown job = %v, want NotFound", err)
	}
	for _, it := range []importjob.Item{{Key: "", Status: importjob.Created}, {Key: "d1", Status: importjob.Pending}, {Key: "d1", Status: "done"}} {
		if err := tr.Record(ctx, tenant, integration, "j", it); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("Record(%+v) = %v, want Invalid", it, err)
		}
	}
}

func TestRecordConcurrentCountsOnce(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	tr := importjob.NewTracker(st, importjob.Options{Sleep: noSleep})
	ref := importjob.Ref{TenantID: tenant, IntegrationID: integration, JobID: "j1"}
	if err := st.CreateJob(ctx, importjob.Job{ID: "j1", TenantID: tenant, IntegrationID: integration, Kind: importjob.KindAssets,
		Status: importjob.StatusRunning, Orgs: 1, OrgsDone: 1, Counts: importjob.Counts{Total: 1}}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if err := tr.Record(ctx, tenant, integration, "j1", importjob.Item{Key: "d1", Status: importjob.Created}); err != nil {
				t.Errorf("Record: %v", err)
			}
		})
	}
	wg.Wait()
	j := st.job(ref)
	if diff := cmp.Diff(importjob.Counts{Total: 1, Created: 1}, j.Counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if j.Status != importjob.StatusSucceeded || j.FinishedAt.IsZero() {
		t.Errorf("job = %s finished %v, want succeeded with a finish time", j.Status, j.FinishedAt)
	}
}

func TestFinalStatus(t *testing.T) {
	tests := []struct {
		name string
		c    importjob.Counts
		want importjob.Status
	}{
		{"all good", importjob.Counts{Total: 3, Created: 1, Updated: 1, Skipped: 1}, importjob.StatusSucceeded},
		{"empty", importjob.Counts{}, importjob.StatusSucceeded},
		{"one failed", importjob.Counts{Total: 3, Created: 2, Failed: 1}, importjob.StatusPartial},
		{"one to review", importjob.Counts{Total: 2, Linked: 1, Review: 1}, importjob.StatusPartial},
		{"all failed", importjob.Counts{Total: 2, Failed: 2}, importjob.StatusFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := importjob.FinalStatus(tc.c); got != tc.want {
				t.Errorf("FinalStatus(%+v) = %s, want %s", tc.c, got, tc.want)
			}
		})
	}
}

func TestJobFinished(t *testing.T) {
	tests := []struct {
		name string
		j    importjob.Job
		want bool
	}{
		{"organizations: items outstanding", importjob.Job{Kind: importjob.KindOrganizations, Orgs: 2, Counts: importjob.Counts{Total: 2, Linked: 1}}, false},
		{"organizations: all recorded", importjob.Job{Kind: importjob.KindOrganizations, Orgs: 2, Counts: importjob.Counts{Total: 2, Linked: 1, Failed: 1}}, true},
		{"assets: an organization not paged yet", importjob.Job{Kind: importjob.KindAssets, Orgs: 2, OrgsDone: 1, Counts: importjob.Counts{Total: 3, Created: 3}}, false},
		{"assets: devices recorded before their organization was counted", importjob.Job{Kind: importjob.KindAssets, Orgs: 2, OrgsDone: 1, Counts: importjob.Counts{Total: 3, Created: 5}}, false},
		{"assets: all counted and recorded", importjob.Job{Kind: importjob.KindAssets, Orgs: 2, OrgsDone: 2, Counts: importjob.Counts{Total: 5, Created: 4, Unchanged: 1}}, true},
		{"assets: an organization without devices", importjob.Job{Kind: importjob.KindAssets, Orgs: 1, OrgsDone: 1}, true},
		{"asset dry run: one item per organization", importjob.Job{Kind: importjob.KindAssets, DryRun: true, Orgs: 2, Counts: importjob.Counts{Total: 2, Created: 2}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.j.Finished(); got != tc.want {
				t.Errorf("Finished() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPlanOrg(t *testing.T) {
	org := rmm.Organization{ID: "7", Name: "Hooli", Sites: []rmm.Site{{ID: "s1", Name: "HQ"}, {ID: "s2", Name: "Lab"}}}
	mapped := func(sites map[string]string) *account.Mapping {
		return &account.Mapping{OrganizationID: "7", AccountID: "200", AccountName: "Hooli Inc", Sites: sites}
	}
	cand := func(id, name string, score float64) account.Candidate {
		return account.Candidate{Account: psa.Account{ID: id, Name: name}, Score: score}
	}
	tests := []struct {
		name          string
		m             *account.Mapping
		ours          []psa.Account
		match         account.MatchResult
		create, dry   bool
		wantAction    string
		wantOutcome   importjob.Outcome
		wantAccount   string
		wantNewSites  int
		reasonContain string
	}{
		{name: "mapped with every site", m: mapped(map[string]string{"s1": "l1", "s2": "l2"}),
			wantAction: importjob.ActionSkip, wantOutcome: importjob.Skipped, wantAccount: "200", reasonContain: "already mapped to Hooli Inc (200)"},
		{name: "mapped with a new site", m: mapped(map[string]string{"s1": "l1"}),
			wantAction: importjob.ActionUpdate, wantOutcome: importjob.Updated, wantAccount: "200", wantNewSites: 1, reasonContain: "1 new site added"},
		{name: "mapped with a new site, dry run", m: mapped(map[string]string{}), dry: true,
			wantAction: importjob.ActionUpdate, wantOutcome: importjob.Updated, wantAccount: "200", wantNewSites: 2, reasonContain: "2 new sites would be added"},
		{name: "confident match", match: account.MatchResult{Outcome: account.MatchFound, Candidates: []account.Candidate{cand("300", "Hooli LLC", 0.98)}},
			wantAction: importjob.ActionLink, wantOutcome: importjob.Linked, wantAccount: "300", reasonContain: "linked to PSA account Hooli LLC (300), score 0.98"},
		{name: "account rmmbridge created before: adopted, whatever the match", ours: []psa.Account{{ID: "950", Name: "Hooli"}},
			match:      account.MatchResult{Outcome: account.MultipleMatches, Candidates: []account.Candidate{cand("1", "Hooli East", 0.8), cand("2", "Hooli West", 0.79)}},
			wantAction: importjob.ActionLink, wantOutcome: importjob.Linked, wantAccount: "950", reasonContain: "adopted PSA account Hooli (950), which rmmbridge created for it before"},
		{name: "several matches go to review", match: account.MatchResult{Outcome: account.MultipleMatches, Candidates: []account.Candidate{cand("1", "Hooli East", 0.8), cand("2", "Hooli West", 0.79)}},
			wantAction: importjob.ActionReview, wantOutcome: importjob.Review, reasonContain: "Hooli East (1, score 0.80), Hooli West (2, score 0.79)"},
		{name: "no match, create", match: account.MatchResult{Outcome: account.NoMatch}, create: true,
			wantAction: importjob.ActionCreate, wantOutcome: importjob.Created, reasonContain: "created account Hooli"},
		{name: "no match, create, dry run", match: account.MatchResult{Outcome: account.NoMatch}, create: true, dry: true,
			wantAction: importjob.ActionCreate, wantOutcome: importjob.Created, reasonContain: "an account named Hooli would be created"},
		{name: "no match, no create", match: account.MatchResult{Outcome: account.NoMatch},
			wantAction: importjob.ActionSkip, wantOutcome: importjob.Skipped, reasonContain: "createMissingAccounts is false"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := importjob.PlanOrg(org, account.Facts{Mapping: tc.m, Ours: tc.ours, Match: tc.match}, tc.create, tc.dry)
			got := []any{p.Action, p.Outcome, p.AccountID, len(p.NewSites)}
			want := []any{tc.wantAction, tc.wantOutcome, tc.wantAccount, tc.wantNewSites}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			if !strings.Contains(p.Reason, tc.reasonContain) {
				t.Errorf("reason %q does not contain %q", p.Reason, tc.reasonContain)
			}
		})
	}
}

// orgFixture is an RMM and a PSA covering every outcome of an
// organization import.
func orgFixture() (*fakeRMM, *fakePSA, []account.Mapping) {
	r := newFakeRMM(rmmSetup{orgs: []rmm.Organization{
		{ID: "1", Name: "Vandelay Industries", Sites: []rmm.Site{{ID: "s1", Name: "Main"}}},          // mapped, complete
		{ID: "2", Name: "Hooli", Sites: []rmm.Site{{ID: "s2", Name: "HQ"}, {ID: "s3", Name: "Lab"}}}, // mapped, new site
		{ID: "3", Name: "Globex", Sites: []rmm.Site{{ID: "s4", Name: "Main"}}},                       // match found
		{ID: "4", Name: "Initech", Sites: []rmm.Site{}},                                              // two matches
		{ID: "5", Name: "Umbrella", Sites: []rmm.Site{{ID: "s5", Name: "Raccoon City"}}},             // no match
	}})
	p := newFakePSA(
		psa.Account{ID: "100", Name: "Vandelay Industries"},
		psa.Account{ID: "200", Name: "Hooli Inc"},
		psa.Account{ID: "300", Name: "Globex LLC"},
		psa.Account{ID: "401", Name: "Initech Inc"},
		psa.Account{ID: "402", Name: "Initech LLC"},
	)
	p.Fake().AddLocation(psa.Location{ID: "L1", AccountID: "200", Name: "HQ"})
	maps := []account.Mapping{
		{OrganizationID: "1", AccountID: "100", AccountName: "Vandelay Industries", Mode: account.ModeLinked, Sites: map[string]string{"s1": "L0"}},
		{OrganizationID: "2", AccountID: "200", AccountName: "Hooli Inc", Mode: account.ModeLinked, Sites: map[string]string{"s2": "L1"}},
	}
	return r, p, maps
}

func TestOrganizationImport(t *testing.T) {
	r, p, maps := orgFixture()
	h := newHarness(t, r, p, maps...)
	j, msgs := h.start(t, importjob.CreateInput{Kind: importjob.KindOrganizations})
	if len(msgs) != 5 {
		t.Fatalf("queued %d org messages, want 5", len(msgs))
	}
	for _, m := range msgs {
		if m.GroupID != tenant {
			t.Errorf("message group = %q, want the tenant", m.GroupID)
		}
	}
	if got := h.store.job(j.Ref()); got.Status != importjob.StatusQueued || got.Counts.Total != 5 {
		t.Errorf("new job = %s total %d, want queued with total 5", got.Status, got.Counts.Total)
	}
	if failed := h.dispatch(t, 1, msgs...); len(failed) != 0 {
		t.Fatalf("failed messages %v", failed)
	}
	got := h.store.job(j.Ref())
	wantCounts := importjob.Counts{Total: 5, Created: 1, Linked: 1, Updated: 1, Skipped: 1, Review: 1}
	if diff := cmp.Diff(wantCounts, got.Counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if got.Status != importjob.StatusPartial || got.StartedAt.IsZero() || got.FinishedAt.IsZero() {
		t.Errorf("job = %s started %v finished %v, want partial (one review) with both times", got.Status, got.StartedAt, got.FinishedAt)
	}
	wantStatuses := map[string]importjob.Outcome{"1": importjob.Skipped, "2": importjob.Updated, "3": importjob.Linked, "4": importjob.Review, "5": importjob.Created}
	if diff := cmp.Diff(wantStatuses, h.store.statuses(j.Ref())); diff != "" {
		t.Errorf("item statuses (-want +got):\n%s", diff)
	}
	// The mappings: Hooli gained its Lab site, Globex is linked, Umbrella
	// has a new account with a location for its site; Initech is untouched.
	ctx := context.Background()
	sc := tenancy.Scope{TenantID: tenant, IntegrationID: integration}
	hooli, _ := h.mappings.GetMapping(ctx, sc, "2")
	if len(hooli.Sites) != 2 || hooli.Sites["s2"] != "L1" {
		t.Errorf("Hooli sites = %v, want s2→L1 kept and s3 added", hooli.Sites)
	}
	if g, err := h.mappings.GetMapping(ctx, sc, "3"); err != nil || g.AccountID != "300" || g.Mode != account.ModeLinked {
		t.Errorf("Globex mapping = %+v, %v; want linked to 300", g, err)
	}
	if u, err := h.mappings.GetMapping(ctx, sc, "5"); err != nil || u.Mode != account.ModeCreated || u.Sites["s5"] == "" {
		t.Errorf("Umbrella mapping = %+v, %v; want a created account with its site mapped", u, err)
	}
	if _, err := h.mappings.GetMapping(ctx, sc, "4"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("Initech was mapped (%v); ambiguous matches must never be guessed", err)
	}
	review, _, err := h.svc.Items(ctx, j.Ref(), importjob.Review, 50, "")
	if err != nil || len(review) != 1 || !strings.Contains(review[0].Reason, "Initech Inc (401") || !strings.Contains(review[0].Reason, "Initech LLC (402") {
		t.Errorf("review items = %+v, %v; want Initech with both candidates", review, err)
	}

	// Redelivering every message changes nothing.
	writes := psaWrites(p)
	h.dispatch(t, 2, msgs...)
	if diff := cmp.Diff(wantCounts, h.store.job(j.Ref()).Counts); diff != "" {
		t.Errorf("counts after redelivery (-want +got):\n%s", diff)
	}
	if psaWrites(p) != writes {
		t.Errorf("redelivery wrote to the PSA %d times", psaWrites(p)-writes)
	}
}

func TestOrganizationImportWithoutCreating(t *testing.T) {
	r, p, maps := orgFixture()
	h := newHarness(t, r, p, maps...)
	j, msgs := h.start(t, importjob.CreateInput{Kind: importjob.KindOrganizations, OrganizationIDs: []string{"5", "5", "3"}, CreateMissingAccounts: ptr(false)})
	if len(msgs) != 2 {
		t.Fatalf("queued %d messages for [5 5 3], want 2", len(msgs))
	}
	h.dispatch(t, 1, msgs...)
	if diff := cmp.Diff(map[string]importjob.Outcome{"3": importjob.Linked, "5": importjob.Skipped}, h.store.statuses(j.Ref())); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if got := h.store.job(j.Ref()).Status; got != importjob.StatusSucceeded {
		t.Errorf("status = %s, want succeeded", got)
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	for _, kind := range []importjob.Kind{importjob.KindOrganizations, importjob.KindAssets} {
		t.Run(string(kind), func(t *testing.T) {
			r, p, maps := orgFixture()
			putDevices(r, devicesOf("1", 3), devicesOf("5", 12))
			h := newHarness(t, r, p, maps...)
			mapWrites := h.mappings.writeCount()
			j, msgs := h.start(t, importjob.CreateInput{Kind: kind, DryRun: true})
			if failed := h.dispatch(t, 1, msgs...); len(failed) != 0 {
				t.Fatalf("failed %v", failed)
			}
			if n := psaWrites(p); n != 0 {
				t.Errorf("dry run wrote to the PSA %d times", n)
			}
			if n := h.mappings.writeCount() - mapWrites; n != 0 {
				t.Errorf("dry run wrote %d mappings", n)
			}
			if n := len(h.sender.take(assetQ)); n != 0 {
				t.Errorf("dry run queued %d asset messages", n)
			}
			got, err := h.svc.Get(context.Background(), j.Ref())
			if err != nil {
				t.Fatal(err)
			}
			if got.Status == importjob.StatusQueued || got.Status == importjob.StatusRunning {
				t.Errorf("dry run status = %s, want finished", got.Status)
			}
			actions := map[string]string{}
			for _, pv := range got.Preview {
				actions[pv.Key] = pv.Action
			}
			want := map[string]string{"1": "skip", "2": "update", "3": "link", "4": "review", "5": "create"}
			if kind == importjob.KindAssets {
				// The asset import follows the same account decision:
				// Globex links to its match, Initech (two candidates) goes
				// to review, only Umbrella (no match) gets an account.
				want = map[string]string{"1": "update", "2": "update", "3": "link", "4": "review", "5": "create"}
			}
			if diff := cmp.Diff(want, actions); diff != "" {
				t.Errorf("preview actions (-want +got):\n%s", diff)
			}
			if kind == importjob.KindAssets {
				wantReason := map[string][]string{
					"3": {"would be linked to PSA account Globex LLC (300), score 1.00", "0 devices"},
					"4": {"Initech Inc (401, score 1.00), Initech LLC (402, score 1.00)", "recorded for review", "no account created"},
					"5": {"an account named Umbrella would be created", "12 devices"},
				}
				for _, pv := range got.Preview {
					for _, w := range wantReason[pv.Key] {
						if !strings.Contains(pv.Reason, w) {
							t.Errorf("preview of org %s = %q, want it to say %q", pv.Key, pv.Reason, w)
						}
					}
					if pv.Key == "3" && pv.TargetID != "300" {
						t.Errorf("preview of org 3 targets %q, want account 300", pv.TargetID)
					}
				}
			}
		})
	}
}

func TestAssetImportFansOut(t *testing.T) {
	r := newFakeRMM(rmmSetup{pageSize: 7, orgs: []rmm.Organization{
		{ID: "1", Name: "Vandelay", Sites: []rmm.Site{{ID: "s1", Name: "Main"}}},
		{ID: "2", Name: "Umbrella", Sites: []rmm.Site{{ID: "s2", Name: "Lab"}}},
		{ID: "3", Name: "Empty Co"},
	}, devices: map[string][]rmm.Device{"1": devicesOf("1", 23), "2": devicesOf("2", 4)}})
	p := newFakePSA(psa.Account{ID: "100", Name: "Vandelay"})
	h := newHarness(t, r, p, account.Mapping{OrganizationID: "1", AccountID: "100", AccountName: "Vandelay", Sites: map[string]string{"s1": "L0"}},
		account.Mapping{OrganizationID: "3", AccountID: "100", AccountName: "Vandelay"})
	j, msgs := h.start(t, importjob.CreateInput{Kind: importjob.KindAssets})
	if got := h.store.job(j.Ref()); got.Counts.Total != 0 || got.Orgs != 3 {
		t.Fatalf("new asset job total %d orgs %d, want 0 and 3", got.Counts.Total, got.Orgs)
	}
	if failed := h.dispatch(t, 1, msgs...); len(failed) != 0 {
		t.Fatalf("failed %v", failed)
	}
	sent := h.sender.take(assetQ)
	if len(sent) != 27 {
		t.Fatalf("sent %d asset messages, want 27", len(sent))
	}
	var devices []string
	for _, m := range sent {
		var am queuemsg.AssetRefresh
		if err := json.Unmarshal([]byte(m.Body), &am); err != nil {
			t.Fatal(err)
		}
		if m.GroupID != tenant || am.JobID != j.ID || am.Reason != "import" || am.TenantID != tenant || am.IntegrationID != integration {
			t.Errorf("asset message %+v group %q, want ids of this job, reason import, group %s", am, m.GroupID, tenant)
		}
		devices = append(devices, am.DeviceID)
	}
	got := h.store.job(j.Ref())
	if got.Counts.Total != 27 || got.OrgsDone != 3 || got.Status != importjob.StatusRunning {
		t.Errorf("after fan-out: total %d orgsDone %d status %s, want 27, 3, running", got.Counts.Total, got.OrgsDone, got.Status)
	}
	// Umbrella was unmapped: its account was created, once.
	if m, err := h.mappings.GetMapping(context.Background(), tenancy.Scope{}, "2"); err != nil || m.Mode != account.ModeCreated {
		t.Errorf("Umbrella mapping = %+v, %v; want a created account", m, err)
	}

	// Redelivered fan-out: no second count, no second send.
	h.dispatch(t, 2, msgs...)
	if n := len(h.sender.take(assetQ)); n != 0 {
		t.Errorf("redelivery sent %d more asset messages", n)
	}
	if n := h.store.job(j.Ref()).Counts.Total; n != 27 {
		t.Errorf("total after redelivery = %d, want 27", n)
	}

	// asset-refresh records each device; the job finishes with the last.
	ctx := context.Background()
	for i, id := range devices {
		o := importjob.Updated
		if i == 0 {
			o = importjob.Failed
		}
		if err := h.tracker.Record(ctx, tenant, integration, j.ID, importjob.Item{Key: id, Status: o, Reason: "x"}); err != nil {
			t.Fatal(err)
		}
		if i < len(devices)-1 && h.store.job(j.Ref()).Status.Final() {
			t.Fatalf("job finished after %d of %d devices", i+1, len(devices))
		}
	}
	if got := h.store.job(j.Ref()); got.Status != importjob.StatusPartial || got.Counts.Failed != 1 || got.Counts.Updated != 26 {
		t.Errorf("finished job = %s %+v, want partial with 1 failed, 26 updated", got.Status, got.Counts)
	}
}

// TestAssetImportFollowsTheAccountDecision: an asset import of unmapped
// organizations with createMissingAccounts gives each the account decision
// — a confident match is linked (no account created), two candidates send
// every device of the organization to review with a reason naming them
// (nothing created, nothing queued), and only the organization nothing
// matches gets a new account, once. Without createMissingAccounts the
// confident match is still linked and the unmatched organization skipped.
func TestAssetImportFollowsTheAccountDecision(t *testing.T) {
	for _, create := range []bool{true, false} {
		t.Run(fmt.Sprintf("createMissingAccounts=%v", create), func(t *testing.T) {
			r, p, _ := orgFixture()
			putDevices(r, devicesOf("3", 4), devicesOf("4", 6), devicesOf("5", 3))
			h := newHarness(t, r, p)
			accountsBefore := len(p.Fake().Accounts())
			j, msgs := h.start(t, importjob.CreateInput{Kind: importjob.KindAssets, OrganizationIDs: []string{"3", "4", "5"}, CreateMissingAccounts: ptr(create)})
			if failed := h.dispatch(t, 1, msgs...); len(failed) != 0 {
				t.Fatalf("failed %v", failed)
			}
			ctx := context.Background()
			sc := tenancy.Scope{TenantID: tenant, IntegrationID: integration}
			queued := map[string]bool{}
			for _, m := range h.sender.take(assetQ) {
				var am queuemsg.AssetRefresh
				if err := json.Unmarshal([]byte(m.Body), &am); err != nil {
					t.Fatal(err)
				}
				queued[am.DeviceID] = true
			}
			wantQueued := map[string]bool{"3-d000": true, "3-d001": true, "3-d002": true, "3-d003": true}
			wantCreated := 0
			if create {
				wantQueued["5-d000"], wantQueued["5-d001"], wantQueued["5-d002"] = true, true, true
				wantCreated = 1
			}
			if diff := cmp.Diff(wantQueued, queued); diff != "" {
				t.Errorf("devices queued for import (-want +got):\n%s", diff)
			}
			if n := len(p.Fake().Accounts()) - accountsBefore; n != wantCreated {
				t.Errorf("PSA accounts created = %d, want %d", n, wantCreated)
			}
			if g, err := h.mappings.GetMapping(ctx, sc, "3"); err != nil || g.AccountID != "300" || g.Mode != account.ModeLinked || g.Sites["s4"] == "" {
				t.Errorf("Globex mapping = %+v, %v; want linked to its match 300 with its site", g, err)
			}
			if _, err := h.mappings.GetMapping(ctx, sc, "4"); !apperr.Is(err, apperr.NotFound) {
				t.Errorf("Initech (two candidates) has a mapping (%v); want none", err)
			}
			u, err := h.mappings.GetMapping(ctx, sc, "5")
			if create && (err != nil || u.Mode != account.ModeCreated) {
				t.Errorf("Umbrella mapping = %+v, %v; want a created account", u, err)
			}
			if !create && !apperr.Is(err, apperr.NotFound) {
				t.Errorf("Umbrella mapping = %+v, %v; want none without createMissingAccounts", u, err)
			}
			review, _, err := h.svc.Items(ctx, j.Ref(), importjob.Review, 50, "")
			if err != nil || len(review) != 6 {
				t.Fatalf("review items = %d (%v); want Initech's 6 devices", len(review), err)
			}
			for _, it := range review {
				if !strings.HasPrefix(it.Key, "4-") || !strings.Contains(it.Reason, "organization 4 (Initech) is not mapped") ||
					!strings.Contains(it.Reason, "Initech Inc (401, score 1.00), Initech LLC (402, score 1.00)") {
					t.Errorf("review item %+v; want an Initech device with a reason naming both candidates", it)
				}
			}
			wantCounts := importjob.Counts{Total: 13, Review: 6}
			if !create {
				wantCounts.Skipped = 3
			}
			// The queued devices are pending until asset-refresh records them.
			got := h.store.job(j.Ref())
			if diff := cmp.Diff(wantCounts, got.Counts); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
			if !create {
				it, err := h.store.GetItem(ctx, j.Ref(), "5-d000")
				if err != nil || it.Status != importjob.Skipped || !strings.Contains(it.Reason, "no matching PSA account and createMissingAccounts is false") {
					t.Errorf("Umbrella device item = %+v, %v; want skipped with the reason", it, err)
				}
			}

			// Redelivery changes nothing.
			writes := psaWrites(p)
			h.dispatch(t, 2, msgs...)
			if n := len(h.sender.take(assetQ)); n != 0 || psaWrites(p) != writes {
				t.Errorf("redelivery queued %d devices and wrote %d PSA records; want none", n, psaWrites(p)-writes)
			}
		})
	}
}

func TestAssetImportSkipsUnmappedWithoutCreating(t *testing.T) {
	r := newFakeRMM(rmmSetup{orgs: []rmm.Organization{{ID: "2", Name: "Umbrella"}}, devices: map[string][]rmm.Device{"2": devicesOf("2", 150)}})
	p := newFakePSA()
	h := newHarness(t, r, p)
	j, msgs := h.start(t, importjob.CreateInput{Kind: importjob.KindAssets, CreateMissingAccounts: ptr(false)})
	h.dispatch(t, 1, msgs...)
	got := h.store.job(j.Ref())
	if diff := cmp.Diff(importjob.Counts{Total: 150, Skipped: 150}, got.Counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if got.Status != importjob.StatusSucceeded {
		t.Errorf("status = %s, want succeeded", got.Status)
	}
	if n := len(h.sender.take(assetQ)); n != 0 || psaWrites(p) != 0 {
		t.Errorf("sent %d asset messages and wrote %d PSA records, want none", n, psaWrites(p))
	}
	it, err := h.store.GetItem(context.Background(), j.Ref(), "2-d149")
	if err != nil || !strings.Contains(it.Reason, "not mapped") {
		t.Errorf("device item = %+v, %v; want skipped with the reason", it, err)
	}
	// 150 devices: two writes of MaxChangeItems, not 150.
	if h.store.applies > 3 {
		t.Errorf("%d writes to record 150 skipped devices", h.store.applies)
	}
}

func TestDispatchFailures(t *testing.T) {
	t.Run("transient error before the last receive records nothing", func(t *testing.T) {
		r := newFakeRMM(rmmSetup{orgs: []rmm.Organization{{ID: "1", Name: "A"}}, devicesErr: apperr.New(apperr.Unavailable, "RMM is down")})
		h := newHarness(t, r, newFakePSA(), account.Mapping{OrganizationID: "1", AccountID: "100"})
		j, msgs := h.start(t, importjob.CreateInput{Kind: importjob.KindAssets})
		if failed := h.dispatch(t, queuemsg.MaxReceives-1, msgs...); len(failed) != 1 {
			t.Errorf("failed = %v, want the message", failed)
		}
		if got := h.store.job(j.Ref()); !got.Counts.IsZero() || got.OrgsDone != 0 {
			t.Errorf("job counted %+v / orgsDone %d, want nothing yet", got.Counts, got.OrgsDone)
		}
	})
	t.Run("last receive counts the organization as failed", func(t *testing.T) {
		r := newFakeRMM(rmmSetup{orgs: []rmm.Organization{{ID: "1", Name: "A"}}, devicesErr: apperr.New(apperr.Unavailable, "RMM is down")})
		h := newHarness(t, r, newFakePSA(), account.Mapping{OrganizationID: "1", AccountID: "100"})
		j, msgs := h.start(t, importjob.CreateInput{Kind: importjob.KindAssets})
		if failed := h.dispatch(t, queuemsg.MaxReceives, msgs...); len(failed) != 1 {
			t.Errorf("failed = %v, want the message reported (it goes to the DLQ)", failed)
		}
		got := h.store.job(j.Ref())
		if diff := cmp.Diff(importjob.Counts{Total: 1, Failed: 1}, got.Counts); diff != "" {
			t.Errorf("counts (-want +got):\n%s", diff)
		}
		if got.Status != importjob.StatusFailed {
			t.Errorf("status = %s, want failed", got.Status)
		}
		items, _, _ := h.svc.Items(context.Background(), j.Ref(), importjob.Failed, 50, "")
		if len(items) != 1 || items[0].Key != "org:1" || !strings.Contains(items[0].Reason, "RMM is down") {
			t.Errorf("failed items = %+v, want org:1 with the reason", items)
		}
	})
	t.Run("last receive of an organization import", func(t *testing.T) {
		r, p, maps := orgFixture()
		h := newHarness(t, r, p, maps...)
		j, msgs := h.start(t, importjob.CreateInput{Kind: importjob.KindOrganizations, OrganizationIDs: []string{"3"}})
		h.disp = importjob.NewDispatcher(importjob.DispatcherDeps{Store: h.store, Tracker: h.tracker,
			Accounts: account.NewService(h.mappings, account.Options{}), Opener: &fakeOpener{integrationID: "other"},
			Sender: h.sender, Queues: queues})
		h.dispatch(t, queuemsg.MaxReceives, msgs...)
		it, err := h.store.GetItem(context.Background(), j.Ref(), "3")
		if err != nil || it.Status != importjob.Failed || !strings.Contains(it.Reason, "no integration i1") {
			t.Errorf("item = %+v, %v; want failed with the reason", it, err)
		}
	})
	t.Run("an organization gone from the RMM fails at once", func(t *testing.T) {
		r, p, maps := orgFixture()
		h := newHarness(t, r, p, maps...)
		j, msgs := h.start(t, importjob.CreateInput{Kind: importjob.KindOrganizations, OrganizationIDs: []string{"99"}})
		if failed := h.dispatch(t, 1, msgs...); len(failed) != 0 {
			t.Errorf("failed = %v, want the message acknowledged", failed)
		}
		if got := h.store.job(j.Ref()); got.Status != importjob.StatusFailed || got.Counts.Failed != 1 {
			t.Errorf("job = %s %+v, want failed", got.Status, got.Counts)
		}
	})
	t.Run("throttled vendor hands the message back with its delay", func(t *testing.T) {
		e := apperr.New(apperr.Throttled, "slow down")
		e.RetryAfter = 2 * time.Minute
		r := newFakeRMM(rmmSetup{orgs: []rmm.Organization{{ID: "1"}}, devicesErr: e})
		h := newHarness(t, r, newFakePSA(), account.Mapping{OrganizationID: "1", AccountID: "100"})
		j, msgs := h.start(t, importjob.CreateInput{Kind: importjob.KindAssets})
		if failed := h.dispatch(t, 1, msgs...); len(failed) != 1 {
			t.Errorf("failed = %v, want the message", failed)
		}
		if diff := cmp.Diff([]string{importQ + " rh-0 2m0s"}, h.vis.changes); diff != "" {
			t.Errorf("visibility changes (-want +got):\n%s", diff)
		}
		if got := h.store.job(j.Ref()); !got.Counts.IsZero() {
			t.Errorf("throttled message recorded %+v", got.Counts)
		}
	})
	t.Run("unknown job or malformed message records nothing", func(t *testing.T) {
		h := newHarness(t, newFakeRMM(rmmSetup{}), newFakePSA())
		bad := []importjob.Message{orgMsg(t, "j_missing", importjob.KindAssets, "12"), {Body: "{not json"}, {Body: `{"tenantId":"t1"}`}}
		for _, m := range bad {
			if failed := h.dispatch(t, queuemsg.MaxReceives, m); len(failed) != 1 {
				t.Errorf("%s: failed = %v, want it reported", m.Body, failed)
			}
		}
		if h.store.applies != 0 {
			t.Errorf("%d writes for messages without a job", h.store.applies)
		}
	})
}

func TestRetry(t *testing.T) {
	ctx := context.Background()
	r := newFakeRMM(rmmSetup{orgs: []rmm.Organization{{ID: "1", Name: "A"}, {ID: "2", Name: "B"}}, devices: map[string][]rmm.Device{"1": devicesOf("1", 3), "2": devicesOf("2", 2)}})
	h := newHarness(t, r, newFakePSA(), account.Mapping{OrganizationID: "1", AccountID: "100"}, account.Mapping{OrganizationID: "2", AccountID: "100"})
	j, msgs := h.start(t, importjob.CreateInput{Kind: importjob.KindAssets})
	ref := j.Ref()

	if _, _, err := h.svc.Retry(ctx, ref); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("Retry of a queued job = %v, want Conflict", err)
	}
	// Org 1 fans out; org 2's devices cannot be listed (last receive).
	h.dispatch(t, 1, msgs[0])
	r.Fake().Fail("ListDevices", -1, apperr.New(apperr.Unavailable, "RMM is down"))
	h.dispatch(t, queuemsg.MaxReceives, msgs[1])
	r.Fake().Fail("ListDevices", 0, nil)
	assets := h.sender.take(assetQ)
	for i, m := range assets {
		var am queuemsg.AssetRefresh
		_ = json.Unmarshal([]byte(m.Body), &am)
		o := importjob.Created
		if i == 0 {
			o = importjob.Failed
		}
		if err := h.tracker.Record(ctx, tenant, integration, j.ID, importjob.Item{Key: am.DeviceID, Status: o, Reason: "PSA refused"}); err != nil {
			t.Fatal(err)
		}
	}
	got := h.store.job(ref)
	if diff := cmp.Diff(importjob.Counts{Total: 4, Created: 2, Failed: 2}, got.Counts); diff != "" || got.Status != importjob.StatusPartial {
		t.Fatalf("before retry: %s, counts (-want +got):\n%s", got.Status, diff)
	}

	job, n, err := h.svc.Retry(ctx, ref)
	if err != nil || n != 2 || job.Status != importjob.StatusQueued {
		t.Fatalf("Retry = %s, %d, %v; want queued, 2 items", job.Status, n, err)
	}
	if got := h.store.job(ref); got.Status != importjob.StatusQueued || !got.FinishedAt.IsZero() || got.Counts.Failed != 0 {
		t.Errorf("after Retry: %s finished %v counts %+v, want queued, unfinished, failed 0", got.Status, got.FinishedAt, got.Counts)
	}
	retriedOrgs, retriedAssets := h.sender.take(importQ), h.sender.take(assetQ)
	if len(retriedOrgs) != 1 || !strings.Contains(retriedOrgs[0].Body, `"organizationId":"2"`) {
		t.Errorf("retried org messages = %v, want organization 2", retriedOrgs)
	}
	if len(retriedAssets) != 1 || !strings.Contains(retriedAssets[0].Body, `"reason":"retry"`) || !strings.Contains(retriedAssets[0].Body, `"deviceId":"1-d000"`) {
		t.Errorf("retried asset messages = %v, want device 1-d000 with reason retry", retriedAssets)
	}
	if _, _, err := h.svc.Retry(ctx, ref); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("second Retry = %v, want Conflict", err)
	}

	// The retried messages succeed: org 2's item makes way for its 2 devices.
	if err := h.tracker.Record(ctx, tenant, integration, j.ID, importjob.Item{Key: "1-d000", Status: importjob.Updated}); err != nil {
		t.Fatal(err)
	}
	if got := h.store.job(ref).Status; got != importjob.StatusRunning {
		t.Errorf("status once a retried device is recorded = %s, want running", got)
	}
	h.dispatch(t, 1, retriedOrgs...)
	for _, m := range h.sender.take(assetQ) {
		var am queuemsg.AssetRefresh
		_ = json.Unmarshal([]byte(m.Body), &am)
		if err := h.tracker.Record(ctx, tenant, integration, j.ID, importjob.Item{Key: am.DeviceID, Status: importjob.Created}); err != nil {
			t.Fatal(err)
		}
	}
	got = h.store.job(ref)
	if diff := cmp.Diff(importjob.Counts{Total: 5, Created: 4, Updated: 1}, got.Counts); diff != "" {
		t.Errorf("after retry counts (-want +got):\n%s", diff)
	}
	if got.Status != importjob.StatusSucceeded || got.FinishedAt.IsZero() {
		t.Errorf("after retry status = %s finished %v, want succeeded", got.Status, got.FinishedAt)
	}
	if _, err := h.store.GetItem(ctx, ref, "org:2"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("org:2 item still exists (%v)", err)
	}
	if _, _, err := h.svc.Retry(ctx, ref); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("Retry with no failed items = %v, want Conflict", err)
	}
}

func TestRetrySendFailureRestoresTheJob(t *testing.T) {
	ctx := context.Background()
	r, p, maps := orgFixture()
	h := newHarness(t, r, p, maps...)
	j, msgs := h.start(t, importjob.CreateInput{Kind: importjob.KindOrganizations, OrganizationIDs: []string{"3", "98", "99"}})
	h.dispatch(t, 1, msgs...)
	before := h.store.job(j.Ref())
	if before.Status != importjob.StatusPartial || before.Counts.Failed != 2 {
		t.Fatalf("job = %s %+v, want partial with 2 failed", before.Status, before.Counts)
	}
	h.sender.err = apperr.New(apperr.Unavailable, "queue down")
	if _, _, err := h.svc.Retry(ctx, j.Ref()); !apperr.Is(err, apperr.Unavailable) {
		t.Errorf("Retry = %v, want Unavailable", err)
	}
	after := h.store.job(j.Ref())
	if after.Status != importjob.StatusPartial || after.Counts != before.Counts || after.FinishedAt.IsZero() {
		t.Errorf("after failed retry: %s %+v finished %v, want %s %+v finished", after.Status, after.Counts, after.FinishedAt, before.Status, before.Counts)
	}
	if diff := cmp.Diff(map[string]importjob.Outcome{"3": importjob.Linked, "98": importjob.Failed, "99": importjob.Failed}, h.store.statuses(j.Ref())); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

func TestCreateValidation(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		in   importjob.CreateInput
		orgs []rmm.Organization
		want []string // fields, or "" for a non-field Invalid
	}{
		{"unknown kind", importjob.CreateInput{Kind: "users", OrganizationIDs: []string{"1"}}, nil, []string{"kind"}},
		{"missing kind", importjob.CreateInput{}, nil, []string{"kind"}},
		{"blank organization id", importjob.CreateInput{Kind: importjob.KindAssets, OrganizationIDs: []string{"1", " "}}, nil, []string{"organizationIds[1]"}},
		{"no organizations in the RMM", importjob.CreateInput{Kind: importjob.KindAssets}, nil, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, newFakeRMM(rmmSetup{orgs: tc.orgs}), newFakePSA())
			_, err := h.svc.Create(ctx, tenant, integration, tc.in, h.rmm)
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.Invalid {
				t.Fatalf("Create = %v, want Invalid", err)
			}
			fields := []string{}
			for _, f := range e.Fields {
				fields = append(fields, f.Field)
			}
			if diff := cmp.Diff(tc.want, fields); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
			if len(h.store.jobs) != 0 || h.sender.calls != 0 {
				t.Errorf("an invalid request wrote %d jobs and sent %d batches", len(h.store.jobs), h.sender.calls)
			}
		})
	}
}

func TestCreateSendFailureFailsTheJob(t *testing.T) {
	h := newHarness(t, newFakeRMM(rmmSetup{orgs: []rmm.Organization{{ID: "1"}}}), newFakePSA())
	h.sender.err = apperr.New(apperr.Unavailable, "queue down")
	_, err := h.svc.Create(context.Background(), tenant, integration, importjob.CreateInput{Kind: importjob.KindAssets}, h.rmm)
	if !apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("Create = %v, want Unavailable", err)
	}
	for _, j := range h.store.jobs {
		if j.Status != importjob.StatusFailed || j.FinishedAt.IsZero() {
			t.Errorf("job = %s, want failed and finished", j.Status)
		}
	}
}

func TestItemsPagesFailedThenReview(t *testing.T) {
	ctx := context.Background()
	st := newMemStore()
	tr := importjob.NewTracker(st, importjob.Options{})
	svc := importjob.NewService(st, tr, newFakeSender(), queues, importjob.Options{})
	ref := importjob.Ref{TenantID: tenant, IntegrationID: integration, JobID: "j1"}
	_ = st.CreateJob(ctx, importjob.Job{ID: "j1", TenantID: tenant, IntegrationID: integration, Kind: importjob.KindOrganizations, Status: importjob.StatusRunning, Counts: importjob.Counts{Total: 9}})
	for i, o := range []importjob.Outcome{importjob.Failed, importjob.Review, importjob.Failed, importjob.Created, importjob.Review, importjob.Failed} {
		if err := tr.Record(ctx, tenant, integration, "j1", importjob.Item{Key: fmt.Sprintf("k%d", i), Status: o}); err != nil {
			t.Fatal(err)
		}
	}
	var pages [][]string
	cursor := ""
	for range 10 {
		items, next, err := svc.Items(ctx, ref, "", 2, cursor)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, it := range items {
			keys = append(keys, it.Key+"="+string(it.Status))
		}
		pages = append(pages, keys)
		if next == "" {
			break
		}
		cursor = next
	}
	want := [][]string{{"k0=failed", "k2=failed"}, {"k5=failed", "k1=review"}, {"k4=review"}}
	if diff := cmp.Diff(want, pages); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}
	if _, _, err := svc.Items(ctx, ref, "created", 2, ""); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("Items(status=created) = %v, want Invalid", err)
	}
	if _, _, err := svc.Items(ctx, importjob.Ref{TenantID: tenant, IntegrationID: integration, JobID: "nope"}, "", 2, ""); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("Items of an unknown job = %v, want NotFound", err)
	}
}

func TestNewJobIDSortsByTime(t *testing.T) {
	base := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 50 {
		ids = append(ids, importjob.NewJobID(base.Add(time.Duration(i)*time.Millisecond)))
	}
	if !sort.StringsAreSorted(ids) {
		t.Errorf("ids are not in time order: %v", ids[:5])
	}
	if len(ids[0]) != 27 || ids[0][0] != 'j' || ids[0] == importjob.NewJobID(base) {
		t.Errorf("id %q: want 27 chars starting with j, random per call", ids[0])
	}
}

func TestDecodeOrgMessage(t *testing.T) {
	tests := []struct {
		name, body string
		wantErr    bool
	}{
		{"complete", `{"tenantId":"t","integrationId":"i","jobId":"j","kind":"assets","organizationId":"1"}`, false},
		{"not JSON", `nope`, true},
		{"missing ids", `{"tenantId":"t","kind":"assets"}`, true},
		{"unknown kind", `{"tenantId":"t","integrationId":"i","jobId":"j","kind":"users","organizationId":"1"}`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := importjob.DecodeOrgMessage([]byte(tc.body))
			if tc.wantErr != (err != nil) || (err != nil && !apperr.Is(err, apperr.Malformed)) {
				t.Errorf("DecodeOrgMessage = %v, want error %v (Malformed)", err, tc.wantErr)
			}
		})
	}
}

func TestMaxReceivesMatchesTemplate(t *testing.T) {
	tpl, err := samtemplate.ParseFile(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"ImportQueue", "AssetQueue"} {
		q, ok := tpl.Queue(id)
		if !ok || q.RedrivePolicy == nil {
			t.Fatalf("template has no %s with a redrive policy", id)
		}
		if q.RedrivePolicy.MaxReceiveCount != queuemsg.MaxReceives {
			t.Errorf("%s maxReceiveCount = %d, queuemsg.MaxReceives = %d", id, q.RedrivePolicy.MaxReceiveCount, queuemsg.MaxReceives)
		}
	}
}
