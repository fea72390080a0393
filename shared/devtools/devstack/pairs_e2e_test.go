package devstack_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/devtools/apitest"
	"github.com/rmmbridge/rmmbridge/shared/devtools/devstack"
	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxspec"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/vendors/registry"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"

	atsandbox "github.com/rmmbridge/rmmbridge/shared/vendors/autotask/sandbox"
	cwsandbox "github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
	dattosandbox "github.com/rmmbridge/rmmbridge/shared/vendors/dattormm/sandbox"
	halosandbox "github.com/rmmbridge/rmmbridge/shared/vendors/halopsa/sandbox"
	ninjasandbox "github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone/sandbox"
	tacticalsandbox "github.com/rmmbridge/rmmbridge/shared/vendors/tacticalrmm/sandbox"
)

// pairs are the RMM × PSA pairs the end-to-end matrix runs (issue 12 §4,
// issue 15 §4, issue 16): every step of TestPairs for each, from the
// drivers below. A new vendor is its driver plus a line here.
var pairs = []struct{ rmm, psa string }{
	{"ninjaone", "connectwise"},
	{"ninjaone", "autotask"},
	{"ninjaone", "halopsa"},
	{"dattormm", "connectwise"},
	{"tacticalrmm", "autotask"},
	{"tacticalrmm", "halopsa"},
}

// Small demo data per pair: the steps need every match outcome and a few
// devices per organization, not volume (TestAssetImport and the benchmark
// have the volume).
const (
	pairOrgs    = 8
	pairDevices = 40
)

// rmmDriver is what the matrix needs of an RMM sandbox beyond
// sandboxspec.RMM: its alert webhooks, as the vendor posts them.
type rmmDriver struct {
	// series starts an alert series on device (the RMM's device id);
	// hook is the integration's webhook URL, secret its secret.
	series func(t *testing.T, e *devstack.Env, hook, secret, device string) alertSeries
	// repeats: the RMM posts a repeat of a still active alert as a new
	// activity of the series (NinjaOne); without, the trigger is posted
	// once per alert (Datto RMM), so a re-post is a duplicate delivery.
	repeats bool
}

// alertSeries is one alert series as the RMM's own webhook bodies post it.
type alertSeries interface {
	Trigger(ctx context.Context) error
	// Again posts the trigger's delivery a second time, unchanged.
	Again(ctx context.Context) error
	// Repeat posts a new activity of the still active series (only for
	// drivers with repeats).
	Repeat(ctx context.Context) error
	Reset(ctx context.Context) error
}

// misrouter is an alertSeries whose RMM's record of the alert is
// authoritative (alert.AlertResolver): TriggerClaiming posts the trigger
// with a body naming another device and site, which the worker must not
// trust.
type misrouter interface {
	TriggerClaiming(ctx context.Context, other sandboxspec.Device) error
}

// psaDriver is what the matrix needs of a PSA sandbox beyond
// sandboxspec.PSA: its ground truth, its tickets, which of its requests
// write.
type psaDriver struct {
	// truth is the sandbox's ground truth: for each RMM organization name
	// the accounts that are truly it, and the look-alikes that are not.
	truth   func(e *devstack.Env) (truth, lookAlikes map[string][]int)
	tickets func(e *devstack.Env) []ticketView
	// write reports whether a request could change PSA data.
	write func(r sandboxspec.Request) bool
	// touch has a technician (not our API user) add a note to a ticket
	// through the PSA's own API, as a person working it would.
	touch func(e *devstack.Env, ticketID string) error
}

// ticketView is a PSA ticket as the matrix checks it.
type ticketView struct {
	ID, Account string
	Notes       int
	Closed      bool
	Assets      []string
}

var rmmDrivers = map[string]rmmDriver{
	"ninjaone":    {series: ninjaSeries, repeats: true},
	"dattormm":    {series: dattoSeries},
	"tacticalrmm": {series: tacticalSeries},
}

// tactical is the Tactical RMM driver: the README's URL Actions, bound by
// the sandbox as an admin binds them, posted by Tactical's own alert run
// (one failure action and one resolved action per alert, no repeats).
type tactical struct {
	s             *tacticalsandbox.Server
	secret, agent string
	id            int
}

func tacticalSeries(t *testing.T, e *devstack.Env, hook, secret, device string) alertSeries {
	s := rmmServer[*tacticalsandbox.Server](e)
	s.ConfigureURLActions(hook, secret) // the newest template is the default
	return &tactical{s: s, secret: secret, agent: device}
}

func (x *tactical) Trigger(ctx context.Context) (err error) {
	x.id, err = x.s.FailCheck(ctx, x.agent, "Disk Space Check C:", "error")
	return err
}

// Again replays Tactical's last post, with the headers the URL Action
// sends (Tactical itself never retries).
func (x *tactical) Again(ctx context.Context) error {
	p := x.s.Posts()
	if len(p) == 0 {
		return errors.New("tactical: nothing posted yet")
	}
	last := p[len(p)-1]
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, last.URL, bytes.NewReader(last.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+x.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %d", resp.StatusCode)
	}
	return nil
}

func (x *tactical) Repeat(context.Context) error {
	return errors.New("tactical: one failure action per alert")
}

func (x *tactical) Reset(ctx context.Context) error { return x.s.ResolveAlert(ctx, x.id) }

var psaDrivers = map[string]psaDriver{
	"connectwise": {
		truth: func(e *devstack.Env) (map[string][]int, map[string][]int) { return e.CW().Truth(), e.CW().LookAlikes() },
		tickets: func(e *devstack.Env) []ticketView {
			var out []ticketView
			for _, tk := range e.CW().Tickets() {
				v := ticketView{ID: strconv.Itoa(tk.ID), Account: strconv.Itoa(tk.CompanyID), Notes: len(tk.Notes), Closed: tk.Closed}
				for _, id := range tk.ConfigurationIDs {
					v.Assets = append(v.Assets, strconv.Itoa(id))
				}
				out = append(out, v)
			}
			return out
		},
		write: func(r sandboxspec.Request) bool { return r.Method != http.MethodGet && r.Method != http.MethodHead },
		touch: func(e *devstack.Env, ticketID string) error {
			e.CW().AddAPIKey("jtech", "techpublic", "techprivate")
			return send(http.MethodPost, e.PSA.BaseURL+"/service/tickets/"+ticketID+"/notes", map[string]string{
				"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(cwsandbox.DemoCompanyID+"+techpublic:techprivate")),
				"clientId":      cwsandbox.DemoClientID, "Content-Type": "application/json"},
				`{"text":"Looked at it on site","internalAnalysisFlag":true}`)
		},
	},
	"autotask": {
		truth: func(e *devstack.Env) (map[string][]int, map[string][]int) {
			s := psaServer[*atsandbox.Server](e)
			return s.Truth(), s.LookAlikes()
		},
		tickets: func(e *devstack.Env) []ticketView {
			s := psaServer[*atsandbox.Server](e)
			notes := map[int]int{}
			for _, n := range s.TicketNotes() {
				notes[n.TicketID]++
			}
			var out []ticketView
			for _, tk := range s.Tickets() {
				v := ticketView{ID: strconv.Itoa(tk.ID), Account: strconv.Itoa(tk.CompanyID), Notes: notes[tk.ID], Closed: tk.Closed}
				if tk.ConfigurationItemID != 0 {
					v.Assets = []string{strconv.Itoa(tk.ConfigurationItemID)}
				}
				out = append(out, v)
			}
			return out
		},
		// Autotask reads are GETs and POST …/query (JSON filters).
		write: func(r sandboxspec.Request) bool {
			return r.Method != http.MethodGet && r.Method != http.MethodHead && !strings.Contains(strings.ToLower(r.Path), "/query")
		},
		touch: func(e *devstack.Env, ticketID string) error {
			s := psaServer[*atsandbox.Server](e)
			s.AddAPIUser(s.AddResource(atsandbox.NewResource{UserName: "jtech", FirstName: "Jo", LastName: "Tech"}), "jtech@example.com", "tech-secret")
			return send(http.MethodPost, e.PSA.URL+atsandbox.BasePath+"/V1.0/Tickets/"+ticketID+"/Notes", map[string]string{
				"ApiIntegrationCode": atsandbox.DemoIntegrationCode, "UserName": "jtech@example.com", "Secret": "tech-secret", "Content-Type": "application/json"},
				`{"ticketID":`+ticketID+`,"title":"On site","description":"Looked at it on site","noteType":1,"publish":1}`)
		},
	},
	"halopsa": {
		truth: func(e *devstack.Env) (map[string][]int, map[string][]int) {
			s := psaServer[*halosandbox.Server](e)
			return s.Truth(), s.LookAlikes()
		},
		tickets: func(e *devstack.Env) []ticketView {
			var out []ticketView
			for _, tk := range psaServer[*halosandbox.Server](e).Tickets() {
				// Notes are the actions that carry a note; a status
				// change is an action of its own in Halo.
				notes := 0
				for _, a := range tk.Actions {
					if a.NewStatus == 0 {
						notes++
					}
				}
				v := ticketView{ID: strconv.Itoa(tk.ID), Account: strconv.Itoa(tk.ClientID), Notes: notes, Closed: tk.Closed()}
				for _, id := range tk.AssetIDs {
					v.Assets = append(v.Assets, strconv.Itoa(id))
				}
				out = append(out, v)
			}
			return out
		},
		// The token grant is a POST that changes nothing.
		write: func(r sandboxspec.Request) bool {
			return r.Method != http.MethodGet && r.Method != http.MethodHead && r.Path != "/auth/token"
		},
		touch: func(e *devstack.Env, ticketID string) error {
			s := psaServer[*halosandbox.Server](e)
			s.AddApp("tech-app", "tech-secret", s.AddAgent(halosandbox.NewAgent{First: "Jo", Last: "Tech", Email: "jtech@example.com", Role: "Technician"}))
			form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"tech-app"}, "client_secret": {"tech-secret"}, "scope": {"all"}}
			resp, err := http.PostForm(e.PSA.URL+"/auth/token", form)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var tok struct {
				AccessToken string `json:"access_token"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
				return fmt.Errorf("technician token: %d %v", resp.StatusCode, err)
			}
			return send(http.MethodPost, e.PSA.URL+"/api/Actions", map[string]string{"Authorization": "Bearer " + tok.AccessToken, "Content-Type": "application/json"},
				`[{"ticket_id":`+ticketID+`,"outcome":"Note","note":"Looked at it on site"}]`)
		},
	},
}

func psaServer[T any](e *devstack.Env) T {
	s, ok := sandboxspec.ServerOf[T](e.PSA)
	if !ok {
		panic(fmt.Sprintf("the PSA sandbox is a %T", e.PSA.Server()))
	}
	return s
}

func rmmServer[T any](e *devstack.Env) T {
	s, ok := sandboxspec.ServerOf[T](e.RMM)
	if !ok {
		panic(fmt.Sprintf("the RMM sandbox is a %T", e.RMM.Server()))
	}
	return s
}

// offers reports whether the vendor's runtime spec offers capability c
// (the demo connections set every setting a capability needs).
func offers(provider string, c vendorspec.Capability) bool {
	for _, s := range registry.Specs() {
		if s.Name == provider {
			for _, o := range s.Capabilities {
				if o.Capability == c {
					return true
				}
			}
		}
	}
	return false
}

// gate checks the answer to a step's request when the pair lacks the
// capability it needs: the documented 422 naming the vendor, nothing
// else; it returns false then, so the step stops there (asserted, not
// skipped).
func gate(t *testing.T, have bool, c vendorspec.Capability, provider string, r apitest.Response) bool {
	t.Helper()
	if have {
		return true
	}
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), provider) {
		t.Errorf("%s lacks %s: answer %d %s; want the documented 422 naming it", provider, c, r.Status, r.Body)
	} else {
		t.Logf("%s lacks %s: 422 as documented", provider, c)
	}
	return false
}

// pairCase is one running pair.
type pairCase struct {
	rmmName, psaName string
	r                rmmDriver
	p                psaDriver
	e                *devstack.Env
	base             string
}

func (pc *pairCase) client(t *testing.T) *apitest.Client {
	return apitest.New(t, pc.e.Stack.APIURL(), pc.e.APIKey)
}

func (pc *pairCase) writes() int {
	n := 0
	for _, r := range pc.e.PSA.Requests() {
		if pc.p.write(r) {
			n++
		}
	}
	return n
}

func (pc *pairCase) orgs(t *testing.T, c *apitest.Client) []orgView {
	t.Helper()
	var out struct{ Items []orgView }
	r := c.Do(http.MethodGet, pc.base+"/organizations?limit=500", nil)
	r.JSON(t, &out)
	if r.Status != http.StatusOK {
		t.Fatalf("GET organizations = %d %s", r.Status, r.Body)
	}
	return out.Items
}

// TestPairs runs the account, asset and alert end-to-end steps for every
// RMM × PSA pair, each pair on its own stack (same moto server) in
// parallel: match outcomes against the PSA sandbox's ground truth, site →
// location mapping, create exactly once under a 20-way race, organization
// and asset import with dry run, re-import with zero PSA writes, the Sync
// button, alert → one ticket per series → note on repeat → close on
// reset, and reverse provisioning. A step a pair's capabilities rule out
// is asserted to answer the documented 422.
func TestPairs(t *testing.T) {
	for _, p := range pairs {
		r, ok1 := rmmDrivers[p.rmm]
		d, ok2 := psaDrivers[p.psa]
		if !ok1 || !ok2 {
			t.Fatalf("pair %s → %s has no driver (rmm %v, psa %v)", p.rmm, p.psa, ok1, ok2)
		}
		t.Run(p.rmm+"→"+p.psa, func(t *testing.T) {
			t.Parallel()
			e := startOwnEnv(t, "pair-"+p.rmm+"-"+p.psa, devstack.Options{RMM: p.rmm, PSA: p.psa, Orgs: pairOrgs, Devices: pairDevices})
			pc := &pairCase{rmmName: p.rmm, psaName: p.psa, r: r, p: d, e: e, base: "/v1/integrations/" + e.IntegrationID}
			pc.run(t)
		})
	}
}

func (pc *pairCase) run(t *testing.T) {
	var outcomes map[string][]orgView
	steps := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"match", func(t *testing.T) { outcomes = pc.match(t) }},
		{"site→location", func(t *testing.T) { pc.siteToLocation(t, outcomes) }},
		{"create race", func(t *testing.T) { pc.createRace(t, outcomes) }},
		{"organization import", pc.orgImport},
		{"asset import", pc.assetImport},
		{"sync button", pc.syncButton},
		{"alert lifecycle", pc.alertLifecycle},
		{"reverse provisioning", pc.reverseProvisioning},
		{"user import", pc.userImport},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.fn) {
			// Later steps build on earlier ones' state.
			t.Fatalf("step %q failed; the pair's later steps need it", s.name)
		}
	}
}

// userImport imports the PSA's people as users (issue 13, for every PSA
// with members.list): an active member with an email is created with the
// chosen role, an inactive one is refused with the reason, and importing
// the same member again is refused; a PSA without the capability answers
// 422 naming it.
func (pc *pairCase) userImport(t *testing.T) {
	c := pc.client(t)
	if !offers(pc.psaName, vendorspec.MembersList) {
		r := c.Do(http.MethodPost, "/v1/users/import", []byte(`{"integrationId":"`+pc.e.IntegrationID+`","members":[{"memberId":"1","role":"viewer"}]}`))
		if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), string(vendorspec.MembersList)) {
			t.Errorf("user import from %s without members.list = %d %s, want 422 naming it", pc.psaName, r.Status, r.Body)
		}
		return
	}
	var members struct {
		Items []struct {
			ID, Email string
			Active    bool
		}
	}
	r := c.Do(http.MethodGet, pc.base+"/psa/members?limit=500", nil)
	r.JSON(t, &members)
	if r.Status != http.StatusOK {
		t.Fatalf("GET psa/members = %d %s", r.Status, r.Body)
	}
	var active, inactive string
	var activeEmail string
	for _, m := range members.Items {
		switch {
		case m.Active && m.Email != "" && active == "":
			active, activeEmail = m.ID, m.Email
		case !m.Active && inactive == "":
			inactive = m.ID
		}
	}
	if active == "" || inactive == "" {
		t.Fatalf("the %s sandbox lists no active member with an email or no inactive member: %+v", pc.psaName, members.Items)
	}
	type result struct{ MemberID, Status, Reason string }
	var res struct{ Items []result }
	imp := func() int {
		r := c.Do(http.MethodPost, "/v1/users/import", []byte(`{"integrationId":"`+pc.e.IntegrationID+`","members":[{"memberId":"`+active+`","role":"viewer"},{"memberId":"`+inactive+`","role":"viewer"}]}`))
		res.Items = nil
		r.JSON(t, &res)
		return r.Status
	}
	if st := imp(); st != http.StatusMultiStatus || len(res.Items) != 2 || res.Items[0].Status != "created" || res.Items[1].Status != "refused" || res.Items[1].Reason == "" {
		t.Fatalf("import of an active and an inactive %s member = %d %+v, want created and refused with a reason", pc.psaName, st, res.Items)
	}
	var users struct {
		Items []struct{ Email, Role string }
	}
	c.Do(http.MethodGet, "/v1/users?limit=500", nil).JSON(t, &users)
	found := false
	for _, u := range users.Items {
		if strings.EqualFold(u.Email, activeEmail) && u.Role == "viewer" {
			found = true
		}
	}
	if !found {
		t.Errorf("%s (%s) is not a viewer among the users: %+v", activeEmail, active, users.Items)
	}
	if st := imp(); st != http.StatusMultiStatus || len(res.Items) != 2 || res.Items[0].Status != "refused" {
		t.Errorf("importing %s member %s again = %d %+v, want refused", pc.psaName, active, st, res.Items)
	}
}

// match auto-matches every organization: each confident match is one of
// the sandbox's true accounts for it, never a look-alike, and the data
// gives found and none outcomes.
func (pc *pairCase) match(t *testing.T) map[string][]orgView {
	c := pc.client(t)
	orgs := pc.orgs(t, c)
	if len(orgs) != pairOrgs {
		t.Fatalf("organizations = %d, want %d", len(orgs), pairOrgs)
	}
	truth, lookAlikes := pc.p.truth(pc.e)
	outcomes := map[string][]orgView{}
	for _, o := range orgs {
		var m matchView
		r := c.Do(http.MethodPost, pc.base+"/organizations/"+o.ID+"/match", nil)
		r.JSON(t, &m)
		if r.Status != http.StatusOK {
			t.Fatalf("match %s = %d %s", o.Name, r.Status, r.Body)
		}
		outcomes[m.Outcome] = append(outcomes[m.Outcome], o)
		if m.Outcome == "match_found" {
			got, _ := strconv.Atoi(m.Candidates[0].AccountID)
			if !contains(truth[o.Name], got) || contains(lookAlikes[o.Name], got) {
				t.Errorf("%q matched account %d (%s); the true ones are %v, look-alikes %v", o.Name, got, m.Candidates[0].Name, truth[o.Name], lookAlikes[o.Name])
			}
		}
		if m.Outcome == "no_match" && len(truth[o.Name]) == 1 {
			t.Logf("%q: no match, though the sandbox holds %v for it (a variant too far for auto-match)", o.Name, truth[o.Name])
		}
	}
	t.Logf("match outcomes: found %d, multiple %d, none %d", len(outcomes["match_found"]), len(outcomes["multiple_matches"]), len(outcomes["no_match"]))
	if len(outcomes["match_found"]) == 0 || len(outcomes["no_match"]) < 2 {
		t.Errorf("outcomes %v; the steps need a found one and two without a match", len(outcomes))
	}
	return outcomes
}

// siteToLocation links a matched organization with its first site mapped
// to a new location, which then is among the account's locations.
func (pc *pairCase) siteToLocation(t *testing.T, outcomes map[string][]orgView) {
	c := pc.client(t)
	o := outcomes["match_found"][0]
	if len(o.Sites) == 0 {
		t.Fatalf("organization %s has no site", o.ID)
	}
	var m matchView
	c.Do(http.MethodPost, pc.base+"/organizations/"+o.ID+"/match", nil).JSON(t, &m)
	acct := m.Candidates[0].AccountID
	var mp struct {
		AccountID, Mode string
		Sites           map[string]string
	}
	r := c.Do(http.MethodPut, pc.base+"/mappings/"+o.ID, map[string]any{"accountId": acct, "sites": map[string]string{o.Sites[0].ID: "create"}})
	r.JSON(t, &mp)
	if r.Status != http.StatusOK || mp.Mode != "linked" || mp.AccountID != acct || mp.Sites[o.Sites[0].ID] == "" {
		t.Fatalf("link %s with site %s → create = %d %s", o.ID, o.Sites[0].ID, r.Status, r.Body)
	}
	var locs struct{ Items []struct{ ID, Name string } }
	c.Do(http.MethodGet, pc.base+"/psa/accounts/"+acct+"/locations", nil).JSON(t, &locs)
	if !slices.ContainsFunc(locs.Items, func(l struct{ ID, Name string }) bool { return l.ID == mp.Sites[o.Sites[0].ID] }) {
		t.Errorf("site %s mapped to location %s, not among account %s's locations %v", o.Sites[0].ID, mp.Sites[o.Sites[0].ID], acct, locs.Items)
	}
}

// createRace: 20 concurrent creates for one unmatched organization make
// exactly one account, and every request gets it. A caller the PSA's
// request budget cannot serve within the API's wait is answered 429 with
// Retry-After (Autotask's budget starts at 83 requests a minute); it tries
// again after that wait, as a client must, and then gets the account.
func (pc *pairCase) createRace(t *testing.T, outcomes map[string][]orgView) {
	c := pc.client(t)
	o := outcomes["no_match"][0]
	before := len(pc.e.PSA.Accounts())
	var wg sync.WaitGroup
	answers := make([]apitest.Response, 20)
	var throttled atomic.Int64
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(90 * time.Second)
			for {
				answers[i] = c.Do(http.MethodPut, pc.base+"/mappings/"+o.ID, map[string]any{"createAccount": map[string]any{}})
				// 429: the PSA's request budget; 409 with Retry-After: another
				// racer still holds the organization's claim (its create
				// queued behind the budget). Both say when to try again.
				retry := answers[i].Status == http.StatusTooManyRequests ||
					(answers[i].Status == http.StatusConflict && answers[i].Header.Get("Retry-After") != "")
				if !retry || time.Now().After(deadline) {
					return
				}
				throttled.Add(1)
				wait, err := strconv.Atoi(answers[i].Header.Get("Retry-After"))
				if err != nil || wait < 1 {
					t.Errorf("429 without a Retry-After of whole seconds: %q", answers[i].Header.Get("Retry-After"))
					return
				}
				time.Sleep(time.Duration(min(wait, 15)) * time.Second)
			}
		}()
	}
	wg.Wait()
	if n := throttled.Load(); n > 0 {
		t.Logf("%d answers were 429 or 409 with Retry-After and were tried again", n)
	}
	if !gate(t, offers(pc.psaName, vendorspec.AccountsCreate), vendorspec.AccountsCreate, pc.psaName, answers[0]) {
		return
	}
	ids := map[string]int{}
	for _, a := range answers {
		var mp struct{ AccountID, Mode string }
		if a.Status == http.StatusOK {
			a.JSON(t, &mp)
		} else {
			t.Logf("a racing create answered %d: %s", a.Status, a.Body)
		}
		ids[fmt.Sprint(a.Status, " ", mp.AccountID)]++
	}
	if got := len(pc.e.PSA.Accounts()) - before; got != 1 || len(ids) != 1 {
		t.Errorf("20 racing creates made %d accounts, answers %v; want 1 account, 20 × 200 with it", got, ids)
	}
	var mine []string
	for _, a := range pc.e.PSA.Accounts() {
		if a.ExternalRef == o.ID {
			mine = append(mine, a.ID)
		}
	}
	if len(mine) != 1 {
		t.Errorf("accounts carrying organization %s's reference: %v; want exactly one", o.ID, mine)
	}
}

// orgImport: a dry run previews and changes nothing; the real run gives
// every organization an outcome, fails none, and creates what it counts.
func (pc *pairCase) orgImport(t *testing.T) {
	c := pc.client(t)
	iid := pc.e.IntegrationID
	mapped := func() int {
		n := 0
		for _, o := range pc.orgs(t, c) {
			if o.Mapping != nil {
				n++
			}
		}
		return n
	}
	accounts, mappedBefore, writes := len(pc.e.PSA.Accounts()), mapped(), pc.writes()
	dry := awaitImport(t, c, iid, startImport(t, c, iid, map[string]any{"kind": "organizations", "dryRun": true, "createMissingAccounts": true}), 2*time.Minute)
	if !dry.DryRun || dry.Counts.Total != pairOrgs || dry.Counts.done() != pairOrgs {
		t.Errorf("dry run = %+v; want %d organizations previewed", dry, pairOrgs)
	}
	if n := pc.writes() - writes; n != 0 || len(pc.e.PSA.Accounts()) != accounts || mapped() != mappedBefore {
		t.Errorf("the dry run made %d PSA writes, accounts %d → %d, mappings %d → %d; want nothing changed",
			n, accounts, len(pc.e.PSA.Accounts()), mappedBefore, mapped())
	}
	real := awaitImport(t, c, iid, startImport(t, c, iid, map[string]any{"kind": "organizations", "createMissingAccounts": true}), 3*time.Minute)
	t.Logf("organization import: %s %+v", real.Status, real.Counts)
	checkCounts(t, real, pairOrgs)
	if real.Counts.Failed != 0 || real.Counts.Created == 0 {
		t.Errorf("counts %+v; want creates and no failures", real.Counts)
	}
	if got := len(pc.e.PSA.Accounts()) - accounts; got != real.Counts.Created {
		t.Errorf("accounts created %d, counted %d", got, real.Counts.Created)
	}
	if got := mapped(); got != pairOrgs-real.Counts.Review {
		t.Errorf("mapped organizations %d; want %d less %d for review", got, pairOrgs, real.Counts.Review)
	}
}

// assetImport: a dry run writes nothing; the import gives every device
// an outcome, one PSA asset carrying its reference under its
// organization's account (the seeded asset that is truly it adopted, not
// duplicated); a re-import writes nothing.
func (pc *pairCase) assetImport(t *testing.T) {
	c := pc.client(t)
	iid := pc.e.IntegrationID
	data := pc.e.RMM.Data()
	devices := len(data.Devices)
	seeded := map[string]sandboxspec.Asset{}
	for _, a := range pc.e.PSA.Assets() {
		seeded[a.ID] = a
	}
	writes := pc.writes()
	dry := awaitImport(t, c, iid, startImport(t, c, iid, map[string]any{"kind": "assets", "dryRun": true, "createMissingAccounts": true}), 2*time.Minute)
	// An asset dry run previews per organization (what the import would
	// do with each organization's account), reading no device's asset.
	if !dry.DryRun || dry.Counts.Total != pairOrgs || dry.Counts.done() != pairOrgs || dry.Counts.Failed != 0 {
		t.Errorf("asset dry run = %+v; want %d organizations previewed", dry, pairOrgs)
	}
	if n := pc.writes() - writes; n != 0 || len(pc.e.PSA.Assets()) != len(seeded) {
		t.Errorf("asset dry run: %d PSA writes, assets %d → %d; want none", n, len(seeded), len(pc.e.PSA.Assets()))
	}

	start := time.Now()
	id := startImport(t, c, iid, map[string]any{"kind": "assets", "createMissingAccounts": true})
	first := awaitImport(t, c, iid, id, 3*time.Minute)
	t.Logf("asset import of %d devices: %s in %s, %+v", devices, first.Status, time.Since(start).Round(time.Millisecond), first.Counts)
	checkCounts(t, first, devices)
	if first.Counts.Failed != 0 || first.Counts.Created == 0 {
		t.Errorf("counts %+v; want creates and no failures", first.Counts)
	}
	review := itemKeys(importItems(t, c, iid, id, "review"))
	byRef := map[string][]sandboxspec.Asset{}
	for _, a := range pc.e.PSA.Assets() {
		if a.ExternalRef != "" {
			byRef[a.ExternalRef] = append(byRef[a.ExternalRef], a)
		}
	}
	account := map[string]string{}
	for _, o := range data.Orgs {
		account[o.ID] = mappedAccount(t, c, iid, o.ID)
	}
	for _, d := range data.Devices {
		got := byRef[d.ID]
		if _, ok := review[d.ID]; ok {
			if len(got) != 0 {
				t.Errorf("device %s in review has assets %v", d.ID, got)
			}
			continue
		}
		if len(got) != 1 || got[0].AccountID != account[d.OrgID] {
			t.Errorf("device %s: assets carrying its reference %v; want exactly one under account %s", d.ID, got, account[d.OrgID])
			continue
		}
		// A seeded asset that already carried the device's reference is
		// the one kept (the ground truth's adoption), not a new one.
		for id, a := range seeded {
			if a.ExternalRef == d.ID && got[0].ID != id {
				t.Errorf("device %s: asset %s; want the seeded %s adopted", d.ID, got[0].ID, id)
			}
		}
	}
	if t.Failed() {
		return
	}

	writes = pc.writes()
	again := awaitImport(t, c, iid, startImport(t, c, iid, map[string]any{"kind": "assets"}), 3*time.Minute)
	checkCounts(t, again, devices)
	if want := (importCounts{Total: devices, Unchanged: devices - len(review), Review: len(review)}); again.Counts != want {
		t.Errorf("re-import counts %+v; want %+v", again.Counts, want)
	}
	if n := pc.writes() - writes; n != 0 {
		t.Errorf("re-import made %d PSA writes; want 0", n)
	}
}

// syncButton: a device changed in the RMM is written once by the Sync
// button, and a second press writes nothing.
func (pc *pairCase) syncButton(t *testing.T) {
	c := pc.client(t)
	iid := pc.e.IntegrationID
	var synced []assetView
	for _, a := range listAssets(t, c, iid, "") {
		synced = append(synced, a)
	}
	if len(synced) == 0 {
		t.Fatal("no synced asset")
	}
	// Touch devices until one with an asset changed (TouchDevices picks).
	byID := map[string]assetView{}
	for _, a := range synced {
		byID[a.DeviceID] = a
	}
	var dev string
	for range 20 {
		for _, id := range pc.e.RMM.TouchDevices(1) {
			if _, ok := byID[id]; ok {
				dev = id
			}
		}
		if dev != "" {
			break
		}
	}
	if dev == "" {
		t.Fatal("no touched device has an asset")
	}
	writes := pc.writes()
	var got assetView
	r := c.Do(http.MethodPost, "/v1/integrations/"+iid+"/assets/"+url.PathEscape(dev)+"/sync", nil)
	r.JSON(t, &got)
	if r.Status != http.StatusOK || got.DeviceID != dev || !got.LastSyncedAt.After(byID[dev].LastSyncedAt) {
		t.Errorf("sync %s = %d %+v; want 200, synced now", dev, r.Status, got)
	}
	if n := pc.writes() - writes; n != 1 {
		t.Errorf("sync of a changed device made %d PSA writes; want 1", n)
	}
	writes = pc.writes()
	if r := c.Do(http.MethodPost, "/v1/integrations/"+iid+"/assets/"+url.PathEscape(dev)+"/sync", nil); r.Status != http.StatusOK || pc.writes() != writes {
		t.Errorf("second sync = %d with %d PSA writes; want 200 and none", r.Status, pc.writes()-writes)
	}
}

// alertLifecycle: the RMM's own webhook bodies, posted as it posts them:
// a trigger opens one ticket on the device's asset, a duplicate delivery
// does nothing, a repeat adds a note, the reset closes the untouched
// ticket. Where the RMM's record of an alert is authoritative, a body
// naming another device is routed by the record.
func (pc *pairCase) alertLifecycle(t *testing.T) {
	ctx := context.Background()
	c := pc.client(t)
	iid := pc.e.IntegrationID
	hook := pc.e.Stack.APIURL() + "/v1/webhooks/" + iid + "/rmm"
	assets := listAssets(t, c, iid, "")
	if len(assets) < 2 {
		t.Fatalf("%d synced assets; want 2", len(assets))
	}
	dev, other := assets[0], assets[len(assets)-1]
	for _, a := range assets {
		if a.AccountID != dev.AccountID {
			other = a
		}
	}
	tickets := func() []ticketView { return pc.p.tickets(pc.e) }
	before := len(tickets())
	// Every RMM reads its webhooks (vendorspec.WebhooksParse): the
	// integration's webhook needs it, so there is no 422 to gate here.
	if !offers(pc.rmmName, vendorspec.WebhooksParse) {
		t.Fatalf("%s does not offer %s", pc.rmmName, vendorspec.WebhooksParse)
	}
	s := pc.r.series(t, pc.e, hook, pc.e.WebhookSecret, dev.DeviceID)
	var err error
	if m, ok := s.(misrouter); ok {
		var rd sandboxspec.Device
		for _, d := range pc.e.RMM.Data().Devices {
			if d.ID == other.DeviceID {
				rd = d
			}
		}
		err = m.TriggerClaiming(ctx, rd)
	} else {
		err = s.Trigger(ctx)
	}
	if err != nil {
		t.Fatalf("post the trigger: %v", err)
	}
	var tk ticketView
	waitUntil(t, 60*time.Second, "one ticket for the trigger", func() bool {
		all := tickets()
		if len(all) > before {
			tk = all[len(all)-1]
			return true
		}
		return false
	})
	// Some PSAs attach the asset in a second request after the ticket
	// exists (ConnectWise: POST …/configurations): give it that moment.
	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(tk.Assets, dev.AssetID) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		for _, x := range tickets() {
			if x.ID == tk.ID {
				tk = x
			}
		}
	}
	if !slices.Contains(tk.Assets, dev.AssetID) || tk.Account != dev.AccountID {
		t.Errorf("ticket %s of account %s on assets %v; want account %s and the alert's device %s's asset %s (another device's is %s)", tk.ID, tk.Account, tk.Assets, dev.AccountID, dev.DeviceID, dev.AssetID, other.AssetID)
	}
	current := func() ticketView {
		for _, x := range tickets() {
			if x.ID == tk.ID {
				return x
			}
		}
		t.Fatalf("ticket %s is gone", tk.ID)
		return ticketView{}
	}
	if err := s.Again(ctx); err != nil {
		t.Fatalf("post the delivery again: %v", err)
	}
	if pc.r.repeats {
		if err := s.Repeat(ctx); err != nil {
			t.Fatalf("post a repeat: %v", err)
		}
		waitUntil(t, 60*time.Second, "a note for the repeat", func() bool { return current().Notes > tk.Notes })
	}
	if err := s.Reset(ctx); err != nil {
		t.Fatalf("post the reset: %v", err)
	}
	waitUntil(t, 60*time.Second, "the ticket closed on reset", func() bool { return current().Closed })
	if n := len(tickets()) - before; n != 1 {
		t.Errorf("%d tickets for one series; want 1", n)
	}
	if !pc.r.repeats {
		// The delivery posted twice added nothing: the ticket holds only
		// what the trigger and the close wrote.
		if got := current(); got.Notes > tk.Notes+1 {
			t.Errorf("ticket notes %d → %d for a duplicate delivery and the close; want at most the close's", tk.Notes, got.Notes)
		}
	}

	// A new trigger of the closed series inside the reopen window reopens
	// the same ticket (tickets.reopen). An RMM without repeats posts one
	// trigger per alert: its trigger posted again is a duplicate delivery
	// and leaves the closed ticket closed.
	closedID := tk.ID
	if pc.r.repeats {
		if !offers(pc.psaName, vendorspec.TicketsReopen) {
			t.Fatalf("%s lacks %s: add its documented reopen behaviour to the matrix", pc.psaName, vendorspec.TicketsReopen)
		}
		var ig struct {
			Settings map[string]any `json:"settings"`
		}
		c.Do(http.MethodGet, pc.base, nil).JSON(t, &ig)
		withWindow := maps.Clone(ig.Settings)
		withWindow["reopenWindowMinutes"] = 60
		if r := c.Do(http.MethodPatch, pc.base, map[string]any{"settings": withWindow}); r.Status != http.StatusOK {
			t.Fatalf("PATCH reopenWindowMinutes = %d %s", r.Status, r.Body)
		}
		if err := s.Repeat(ctx); err != nil {
			t.Fatalf("post the new trigger: %v", err)
		}
		waitUntil(t, 60*time.Second, "the closed ticket reopened by a trigger inside the reopen window", func() bool { return !current().Closed })
		if err := s.Reset(ctx); err != nil {
			t.Fatalf("post the reset after the reopen: %v", err)
		}
		waitUntil(t, 60*time.Second, "the reopened ticket closed again", func() bool { return current().Closed })
		if r := c.Do(http.MethodPatch, pc.base, map[string]any{"settings": ig.Settings}); r.Status != http.StatusOK {
			t.Fatalf("PATCH settings back = %d %s", r.Status, r.Body)
		}
	} else {
		if err := s.Again(ctx); err != nil {
			t.Fatalf("post the trigger after the close: %v", err)
		}
	}
	if n := len(tickets()) - before; n != 1 || !current().Closed || current().ID != closedID {
		t.Errorf("after the series ended: %d tickets, ticket %s closed %v; want the one ticket, closed", n, current().ID, current().Closed)
	}

	// A ticket a technician touched is not closed by the reset: the reset
	// is noted on it instead.
	before = len(tickets())
	s2 := pc.r.series(t, pc.e, hook, pc.e.WebhookSecret, dev.DeviceID)
	if err := s2.Trigger(ctx); err != nil {
		t.Fatalf("post the second series' trigger: %v", err)
	}
	waitUntil(t, 60*time.Second, "a ticket for the second series", func() bool {
		all := tickets()
		if len(all) > before {
			tk = all[len(all)-1]
			return true
		}
		return false
	})
	if err := pc.p.touch(pc.e, tk.ID); err != nil {
		t.Fatalf("a technician's note on ticket %s: %v", tk.ID, err)
	}
	touched := current().Notes
	if err := s2.Reset(ctx); err != nil {
		t.Fatalf("post the second series' reset: %v", err)
	}
	waitUntil(t, 60*time.Second, "the reset noted on the touched ticket", func() bool { return current().Notes > touched })
	if got := current(); got.Closed {
		t.Errorf("ticket %s touched by a technician was closed by the reset", tk.ID)
	}
}

// reverseProvisioning: an unmapped account no organization matches gets a
// new RMM organization; one whose name matches an unmapped organization
// adopts it; a second provision of the same account is a 409. An RMM that
// cannot create organizations answers the documented 422.
func (pc *pairCase) reverseProvisioning(t *testing.T) {
	c := pc.client(t)
	used, mappedOrg := map[string]bool{}, map[string]bool{}
	var rmmOrgs []rmm.Organization
	for _, o := range pc.orgs(t, c) {
		rmmOrgs = append(rmmOrgs, rmm.Organization{ID: o.ID, Name: o.Name})
		if o.Mapping != nil {
			used[o.Mapping.AccountID], mappedOrg[o.ID] = true, true
		}
	}
	var target string
	for _, a := range pc.e.PSA.Accounts() {
		if !used[a.ID] && a.ExternalRef == "" && account.MatchOrganizations(a.Name, rmmOrgs).Outcome == account.NoMatch {
			target = a.ID
			break
		}
	}
	if target == "" {
		t.Fatal("no unmapped account without a matching organization")
	}
	orgsBefore := len(pc.e.RMM.Data().Orgs)
	r := c.Do(http.MethodPost, pc.base+"/psa/accounts/"+target+"/provision-rmm", nil)
	if !gate(t, offers(pc.rmmName, vendorspec.OrgsCreate), vendorspec.OrgsCreate, pc.rmmName, r) {
		if n := len(pc.e.RMM.Data().Orgs); n != orgsBefore {
			t.Errorf("a refused provision changed the RMM's organizations %d → %d", orgsBefore, n)
		}
		return
	}
	var prov struct {
		OrganizationID, AccountID string
		Sites                     map[string]string
	}
	r.JSON(t, &prov)
	if r.Status != http.StatusCreated || prov.AccountID != target || prov.OrganizationID == "" {
		t.Fatalf("provision account %s = %d %s", target, r.Status, r.Body)
	}
	if n := len(pc.e.RMM.Data().Orgs); n != orgsBefore+1 {
		t.Errorf("RMM organizations %d → %d; want one more", orgsBefore, n)
	}
	// An RMM that creates sites gets one per location of the account,
	// each mapped to it; one that does not (Datto RMM: the site is the
	// organization) maps none of the account's locations.
	var locs struct{ Items []struct{ ID, Name string } }
	c.Do(http.MethodGet, pc.base+"/psa/accounts/"+target+"/locations", nil).JSON(t, &locs)
	mappedLocs := map[string]bool{}
	for _, l := range prov.Sites {
		mappedLocs[l] = true
	}
	if offers(pc.rmmName, vendorspec.SitesCreate) {
		for _, l := range locs.Items {
			if !mappedLocs[l.ID] {
				t.Errorf("location %s (%s) of account %s has no site of the new organization: sites %v", l.ID, l.Name, target, prov.Sites)
			}
		}
	} else if len(prov.Sites) > 1 {
		t.Errorf("%s lacks %s, yet the new organization maps sites %v", pc.rmmName, vendorspec.SitesCreate, prov.Sites)
	}
	if mappedAccount(t, c, pc.e.IntegrationID, prov.OrganizationID) != target {
		t.Errorf("the new organization %s is not mapped to account %s", prov.OrganizationID, target)
	}
	if r := c.Do(http.MethodPost, pc.base+"/psa/accounts/"+target+"/provision-rmm", nil); r.Status != http.StatusConflict {
		t.Errorf("provision twice = %d %s; want 409", r.Status, r.Body)
	}

	// An account whose organization exists, unmapped, adopts it: no new
	// organization.
	var adoptOrg, adoptAcct string
	for _, o := range pc.orgs(t, c) {
		if o.Mapping != nil && o.Mapping.Mode == "linked" && account.MatchOrganizations(accountName(pc.e, o.Mapping.AccountID), rmmOrgs).Outcome == account.MatchFound {
			adoptOrg, adoptAcct = o.ID, o.Mapping.AccountID
			break
		}
	}
	if adoptOrg == "" {
		t.Fatal("no linked organization whose account's name matches it")
	}
	if r := c.Do(http.MethodDelete, pc.base+"/mappings/"+adoptOrg, nil); r.Status != http.StatusNoContent {
		t.Fatalf("unmap %s = %d %s", adoptOrg, r.Status, r.Body)
	}
	orgsBefore = len(pc.e.RMM.Data().Orgs)
	r = c.Do(http.MethodPost, pc.base+"/psa/accounts/"+adoptAcct+"/provision-rmm", nil)
	r.JSON(t, &prov)
	if r.Status != http.StatusCreated || prov.OrganizationID != adoptOrg || len(pc.e.RMM.Data().Orgs) != orgsBefore {
		t.Errorf("provision account %s = %d %s, RMM organizations %d → %d; want organization %s adopted, none created",
			adoptAcct, r.Status, r.Body, orgsBefore, len(pc.e.RMM.Data().Orgs), adoptOrg)
	}
}

// accountName is the PSA sandbox's name of account id.
func accountName(e *devstack.Env, id string) string {
	for _, a := range e.PSA.Accounts() {
		if a.ID == id {
			return a.Name
		}
	}
	return ""
}

// ---------------------------------------------------------------- RMM drivers

// ninja is a NinjaOne series: CONDITION activities posted with the
// shared-secret header of NinjaOne's webhook configuration.
type ninja struct {
	s            *ninjasandbox.Server
	hook         string
	hdr          map[string]string
	device       int
	series       string
	last, second ninjasandbox.Activity
}

func ninjaSeries(t *testing.T, e *devstack.Env, hook, secret, device string) alertSeries {
	id, err := strconv.Atoi(device)
	if err != nil {
		t.Fatalf("NinjaOne device id %q: %v", device, err)
	}
	return &ninja{s: rmmServer[*ninjasandbox.Server](e), hook: hook, hdr: map[string]string{"Authorization": "Bearer " + secret}, device: id}
}

func (n *ninja) post(ctx context.Context, triggered bool) error {
	a, err := n.s.ConditionActivity(n.device, triggered, n.series, 1)
	if err != nil {
		return err
	}
	n.series, n.last = a.SeriesUID, a
	return n.s.EmitWebhook(ctx, n.hook, n.hdr, a)
}

func (n *ninja) Trigger(ctx context.Context) error { return n.post(ctx, true) }
func (n *ninja) Again(ctx context.Context) error   { return n.s.EmitWebhook(ctx, n.hook, n.hdr, n.last) }
func (n *ninja) Repeat(ctx context.Context) error  { return n.post(ctx, true) }
func (n *ninja) Reset(ctx context.Context) error   { return n.post(ctx, false) }

// datto is a Datto RMM series: the README's two bodies, rendered by the
// sandbox as Datto renders them, posted to the URL with the secret as
// its token parameter (Datto posts no custom header).
type datto struct {
	s      *dattosandbox.Server
	hook   string
	device string
	uid    string
	body   []byte
}

func dattoSeries(t *testing.T, e *devstack.Env, hook, secret, device string) alertSeries {
	return &datto{s: rmmServer[*dattosandbox.Server](e), hook: hook + "?token=" + url.QueryEscape(secret), device: device}
}

func (d *datto) raise() error {
	if d.uid != "" {
		return nil
	}
	uid, err := d.s.NewAlert(d.device, "", 1)
	if err != nil {
		return err
	}
	d.uid = uid
	d.body, err = d.s.WebhookBody(uid, true)
	return err
}

func (d *datto) Trigger(ctx context.Context) error {
	if err := d.raise(); err != nil {
		return err
	}
	return postJSON(ctx, d.hook, d.body)
}

// TriggerClaiming posts the trigger with the body's device and site
// replaced by other's: Datto's record of the alert still names d.device.
func (d *datto) TriggerClaiming(ctx context.Context, other sandboxspec.Device) error {
	if err := d.raise(); err != nil {
		return err
	}
	var own sandboxspec.Device
	for _, x := range d.s.Devices() {
		if x.UID == d.device {
			own = sandboxspec.Device{ID: x.UID, OrgID: x.SiteUID}
		}
	}
	if other.ID == "" || own.ID == "" || other.ID == own.ID {
		return fmt.Errorf("no other device to claim (own %q, other %q)", own.ID, other.ID)
	}
	b := bytes.ReplaceAll(d.body, []byte(own.ID), []byte(other.ID))
	b = bytes.ReplaceAll(b, []byte(`"siteUid":"`+own.OrgID+`"`), []byte(`"siteUid":"`+other.OrgID+`"`))
	d.body = b
	return postJSON(ctx, d.hook, b)
}

func (d *datto) Again(ctx context.Context) error { return postJSON(ctx, d.hook, d.body) }
func (d *datto) Repeat(context.Context) error {
	return fmt.Errorf("datto RMM posts one trigger per alert")
}
func (d *datto) Reset(ctx context.Context) error { return d.s.ResolveAlert(ctx, d.hook, d.uid) }

// send makes a request with headers and body; a non-2xx answer is an
// error.
func send(method, to string, headers map[string]string, body string) error {
	req, err := http.NewRequest(method, to, strings.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<12))
		return fmt.Errorf("%s %s: %d %s", method, to, resp.StatusCode, b)
	}
	return nil
}

// postJSON posts a webhook body; a non-2xx answer is an error.
func postJSON(ctx context.Context, to string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, to, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %d", resp.StatusCode)
	}
	return nil
}
