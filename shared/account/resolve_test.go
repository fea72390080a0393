package account_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

var sc = tenancy.Scope{TenantID: "t1", IntegrationID: "i1", Actor: "test"}

// fixture: a mapped organization, one with a confident match (one site
// named like the account's location, one not), one with two candidates
// and one with none.
var (
	orgMapped  = rmm.Organization{ID: "1", Name: "Vandelay Industries", Sites: []rmm.Site{{ID: "s1", Name: "Main"}}}
	orgMatched = rmm.Organization{ID: "3", Name: "Globex", Sites: []rmm.Site{{ID: "s4", Name: "Main"}, {ID: "s5", Name: "Annex"}}}
	orgSeveral = rmm.Organization{ID: "4", Name: "Initech", Sites: []rmm.Site{{ID: "s6", Name: "Main"}}}
	orgNone    = rmm.Organization{ID: "5", Name: "Umbrella", Sites: []rmm.Site{{ID: "s7", Name: "Raccoon City"}}}
)

func fixture() (*memStore, *fakePSA) {
	p := newFakePSA(
		psa.Account{ID: "100", Name: "Vandelay Industries"},
		psa.Account{ID: "300", Name: "Globex LLC"},
		psa.Account{ID: "401", Name: "Initech Inc"},
		psa.Account{ID: "402", Name: "Initech LLC"},
	)
	p.Fake().AddLocation(psa.Location{ID: "L300", AccountID: "300", Name: "Main"})
	st := newMemStore(account.Mapping{OrganizationID: "1", OrganizationName: orgMapped.Name, AccountID: "100",
		AccountName: "Vandelay Industries", Mode: account.ModeLinked, Sites: map[string]string{"s1": "L100"}})
	return st, p
}

func noSleep(context.Context, time.Duration) error { return nil }

// TestResolve carries out the account decision against an in-memory PSA
// and mapping store: what is mapped, what the PSA got, and what
// EnsureMapped (alert routing) answers, for each outcome with creating
// allowed and not.
func TestResolve(t *testing.T) {
	type want struct {
		Action     account.Action
		AccountID  string
		Mode       string
		Sites      map[string]string
		Created    []psa.NewAccount // accounts created in the PSA
		Locations  int              // locations created in the PSA
		NoAccount  bool             // EnsureMapped answers ErrNoAccount
		ReasonHas  string
		Candidates []string
	}
	tests := []struct {
		name    string
		org     rmm.Organization
		allow   bool
		arrange func(p *fakePSA)
		want    want
	}{
		{name: "mapped: the mapping, nothing written", org: orgMapped, allow: true,
			want: want{Action: account.ActionMapped, AccountID: "100", Mode: account.ModeLinked, Sites: map[string]string{"s1": "L100"}, ReasonHas: "already mapped"}},
		{name: "match_found: linked to the candidate, sites by name or new, no account created", org: orgMatched, allow: true,
			want: want{Action: account.ActionLink, AccountID: "300", Mode: account.ModeLinked, Sites: map[string]string{"s4": "L300", "s5": "L901"},
				Locations: 1, ReasonHas: "Globex LLC (300)", Candidates: []string{"300"}}},
		{name: "match_found, creating not allowed: linked all the same", org: orgMatched,
			want: want{Action: account.ActionLink, AccountID: "300", Mode: account.ModeLinked, Sites: map[string]string{"s4": "L300", "s5": "L901"},
				Locations: 1, ReasonHas: "Globex LLC (300)", Candidates: []string{"300"}}},
		{name: "multiple_matches: review, nothing written", org: orgSeveral, allow: true,
			want: want{Action: account.ActionReview, NoAccount: true, ReasonHas: "Initech Inc (401, score 1.00), Initech LLC (402, score 1.00)", Candidates: []string{"401", "402"}}},
		{name: "multiple_matches, creating not allowed: review", org: orgSeveral,
			want: want{Action: account.ActionReview, NoAccount: true, ReasonHas: "choose one with PUT /mappings/4", Candidates: []string{"401", "402"}}},
		{name: "no_match, creating allowed: one account carrying the reference", org: orgNone, allow: true,
			want: want{Action: account.ActionCreate, AccountID: "901", Mode: account.ModeCreated, Sites: map[string]string{"s7": "L902"},
				Created: []psa.NewAccount{{Name: "Umbrella", ExternalRef: "5", Status: psa.NamedRef{ID: "2"}, Type: psa.NamedRef{ID: "3"}}}, Locations: 1,
				ReasonHas: "an account named Umbrella is created", Candidates: []string{}}},
		{name: "account created before whose mapping was never written: adopted, not created again", org: orgNone, allow: true,
			arrange: func(p *fakePSA) {
				_, _ = p.CreateAccount(context.Background(), psa.NewAccount{Name: "Umbrella", ExternalRef: "5"})
			},
			want: want{Action: account.ActionAdopt, AccountID: "901", Mode: account.ModeCreated, Sites: map[string]string{"s7": "L902"},
				Created: []psa.NewAccount{{Name: "Umbrella", ExternalRef: "5"}}, Locations: 1, ReasonHas: "rmmbridge created it before"}},
		{name: "no_match, creating not allowed: skip, nothing written", org: orgNone,
			want: want{Action: account.ActionSkip, NoAccount: true, ReasonHas: "autoCreateAccounts is false", Candidates: []string{}}},
	}
	spec := account.NewAccountSpec{Status: "2", Type: "3"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			pol := account.Policy{Create: tc.allow, Setting: "autoCreateAccounts"}

			setup := func() (*memStore, *fakePSA) {
				st, p := fixture()
				if tc.arrange != nil {
					tc.arrange(p)
				}
				return st, p
			}
			// EnsureMapped first, on its own fixture.
			st, p := setup()
			svc := account.NewService(st, account.Options{Sleep: noSleep})
			m, err := svc.EnsureMapped(ctx, sc, p, tc.org, pol, spec)
			var na *account.NoAccountError
			switch {
			case tc.want.NoAccount && (!errors.Is(err, account.ErrNoAccount) || !errors.As(err, &na) || na.Decision.Action != tc.want.Action):
				t.Errorf("EnsureMapped = %+v, %v; want a NoAccountError with action %s", m, err, tc.want.Action)
			case !tc.want.NoAccount && (err != nil || m.AccountID != tc.want.AccountID):
				t.Errorf("EnsureMapped = %+v, %v; want account %s", m, err, tc.want.AccountID)
			}

			st, p = setup()
			svc = account.NewService(st, account.Options{Sleep: noSleep})
			writes := st.writeCount()
			res, err := svc.Resolve(ctx, sc, p, tc.org, pol, spec)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			created, locs := psaWrites(p)
			stored, _ := st.get(tc.org.ID)
			cands := []string{}
			for _, c := range res.Candidates {
				cands = append(cands, c.Account.ID)
			}
			got := want{Action: res.Action, AccountID: res.Mapping.AccountID, Mode: res.Mapping.Mode, Sites: res.Mapping.Sites,
				Created: created, Locations: locs, NoAccount: tc.want.NoAccount, ReasonHas: tc.want.ReasonHas, Candidates: cands}
			if tc.want.Candidates == nil {
				got.Candidates = nil
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Resolve (-want +got):\n%s", diff)
			}
			if !strings.Contains(res.Reason, tc.want.ReasonHas) {
				t.Errorf("reason %q does not contain %q", res.Reason, tc.want.ReasonHas)
			}
			switch {
			case tc.want.AccountID == "":
				if n := st.writeCount() - writes; n != 0 {
					t.Errorf("%d mapping writes for %s; want none", n, res.Action)
				}
				if _, ok := st.get(tc.org.ID); ok {
					t.Errorf("organization %s has a mapping record after %s", tc.org.ID, res.Action)
				}
			case stored.State != account.StateMapped || stored.AccountID != tc.want.AccountID:
				t.Errorf("stored mapping %+v; want final, account %s", stored, tc.want.AccountID)
			}
		})
	}
}

// TestResolveRaces: 20 callers resolving one organization at once — an
// asset import's redelivered message, alerts of its devices — give it one
// account and one set of locations: for no_match one account is created,
// for match_found the account is linked once and no account is created.
func TestResolveRaces(t *testing.T) {
	for _, tc := range []struct {
		org          rmm.Organization
		wantCreated  int
		wantAccount  string
		wantLocation int
	}{
		{org: orgNone, wantCreated: 1, wantAccount: "901", wantLocation: 1},
		{org: orgMatched, wantCreated: 0, wantAccount: "300", wantLocation: 1},
	} {
		t.Run(tc.org.Name, func(t *testing.T) {
			st, p := fixture()
			p.Fake().OnCall(func(method string) error {
				if method == "CreateAccount" {
					time.Sleep(20 * time.Millisecond) // widens the race window
				}
				return nil
			})
			svc := account.NewService(st, account.Options{Poll: 5 * time.Millisecond})
			var wg sync.WaitGroup
			accounts := make(chan string, 20)
			errs := make(chan error, 20)
			for range 20 {
				wg.Go(func() {
					m, err := svc.EnsureMapped(context.Background(), sc, p, tc.org, account.Policy{Create: true}, account.NewAccountSpec{})
					if err != nil {
						errs <- err
						return
					}
					accounts <- m.AccountID
				})
			}
			wg.Wait()
			close(accounts)
			close(errs)
			for err := range errs {
				t.Errorf("EnsureMapped: %v", err)
			}
			for id := range accounts {
				if id != tc.wantAccount {
					t.Errorf("a caller got account %s; want %s", id, tc.wantAccount)
				}
			}
			created, locs := psaWrites(p)
			if len(created) != tc.wantCreated || locs != tc.wantLocation {
				t.Errorf("PSA got %d accounts and %d locations; want %d and %d", len(created), locs, tc.wantCreated, tc.wantLocation)
			}
		})
	}
}

// TestResolveWaitsForAClaim: an organization another request is mapping
// is not matched and decided again: the caller waits for that mapping, and
// answers a transient Conflict if it does not come.
func TestResolveWaitsForAClaim(t *testing.T) {
	ctx := context.Background()
	st, p := fixture()
	now := time.Now()
	st.m["5"] = account.Mapping{OrganizationID: "5", State: account.StateClaimed, LeaseOwner: "other", LeaseUntil: now.Add(time.Minute)}
	polls := 0
	svc := account.NewService(st, account.Options{Wait: time.Second, Poll: 100 * time.Millisecond, Sleep: func(context.Context, time.Duration) error {
		polls++
		if polls == 3 {
			st.mu.Lock()
			st.m["5"] = account.Mapping{OrganizationID: "5", AccountID: "777", AccountName: "Umbrella Corp", State: account.StateMapped}
			st.mu.Unlock()
		}
		return nil
	}})
	res, err := svc.Resolve(ctx, sc, p, orgNone, account.Policy{Create: true}, account.NewAccountSpec{})
	if err != nil || res.Action != account.ActionMapped || res.Mapping.AccountID != "777" {
		t.Errorf("Resolve = %+v, %v; want the other request's mapping to account 777", res, err)
	}
	if created, _ := psaWrites(p); len(created) != 0 || p.Fake().Calls("SearchAccounts") != 0 {
		t.Errorf("while waiting: %d accounts created, %d searches; want none", len(created), p.Fake().Calls("SearchAccounts"))
	}

	st.m["4"] = account.Mapping{OrganizationID: "4", State: account.StateClaimed, LeaseOwner: "other", LeaseUntil: now.Add(time.Hour)}
	svc = account.NewService(st, account.Options{Wait: time.Second, Poll: 100 * time.Millisecond, Sleep: noSleep})
	_, err = svc.Resolve(ctx, sc, p, orgSeveral, account.Policy{Create: true}, account.NewAccountSpec{})
	if !apperr.Is(err, apperr.Conflict) || !apperr.KindOf(err).Transient() {
		t.Errorf("Resolve under a claim that stays = %v; want a transient Conflict", err)
	}
	if e, ok := apperr.As(err); !ok || e.RetryAfter != account.BusyRetryAfter {
		t.Errorf("Resolve under a claim that stays = %#v; want Retry-After %s (the caller may try again)", err, account.BusyRetryAfter)
	}
	// An expired claim (its worker died) does not hold the organization.
	st.m["4"] = account.Mapping{OrganizationID: "4", State: account.StateClaimed, LeaseOwner: "dead", LeaseUntil: now.Add(-time.Minute)}
	res, err = svc.Resolve(ctx, sc, p, orgSeveral, account.Policy{Create: true}, account.NewAccountSpec{})
	if err != nil || res.Action != account.ActionReview {
		t.Errorf("Resolve after an expired claim = %+v, %v; want review", res, err)
	}
}

// TestProvisionRMMFollowsTheDecision: on-demand reverse provisioning adopts
// the organization auto-match finds, refuses (Conflict naming them) when
// several could be the account, and creates one only when none matches.
func TestProvisionRMMFollowsTheDecision(t *testing.T) {
	tests := []struct {
		name     string
		orgs     []rmm.Organization
		wantOrg  string
		conflict string
		creates  []string
	}{
		{name: "similarly written organization adopted", orgs: []rmm.Organization{{ID: "1", Name: "ACME Inc"}, {ID: "2", Name: "Contoso"}}, wantOrg: "1"},
		{name: "two candidates: nothing created", orgs: []rmm.Organization{{ID: "1", Name: "ACME Inc"}, {ID: "2", Name: "Acme LLC"}},
			conflict: "ACME Inc (1, score 1.00), Acme LLC (2, score 1.00)"},
		{name: "no match: created", orgs: []rmm.Organization{{ID: "2", Name: "Contoso"}}, wantOrg: "701", creates: []string{"Acme, Inc."}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newMemStore()
			p := newFakePSA(psa.Account{ID: "500", Name: "Acme, Inc."})
			r := newFakeRMM(tc.orgs...)
			svc := account.NewService(st, account.Options{Sleep: noSleep})
			got, err := svc.ProvisionRMM(context.Background(), sc, r, p, "500")
			switch {
			case tc.conflict != "":
				if !apperr.Is(err, apperr.Conflict) || !strings.Contains(err.Error(), tc.conflict) {
					t.Errorf("ProvisionRMM = %+v, %v; want a Conflict naming %s", got, err, tc.conflict)
				}
			case err != nil || got.OrganizationID != tc.wantOrg:
				t.Errorf("ProvisionRMM = %+v, %v; want organization %s", got, err, tc.wantOrg)
			}
			if diff := cmp.Diff(tc.creates, createdOrgs(r)); diff != "" {
				t.Errorf("organizations created (-want +got):\n%s", diff)
			}
		})
	}
}
