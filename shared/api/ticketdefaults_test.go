package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/api"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxes"
	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxspec"
	"github.com/rmmbridge/rmmbridge/shared/devtools/testtable"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/secretstore"
	"github.com/rmmbridge/rmmbridge/shared/vendors/registry"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// saveEnv is the API's connections and integrations over moto, with the
// real vendor registry as the connection tester: Test & save and the
// integration checks talk to the vendor sandboxes. Tenant t_a has an RMM
// connection c_rmm (NinjaOne, never called).
type saveEnv struct {
	rt    *httpapi.Router
	conns *connection.Service
	store connection.Store
}

func newSaveEnv(t *testing.T, reg providers.Registry, cat *vendorspec.Catalog) *saveEnv {
	t.Helper()
	ctx := context.Background()
	cfg := motoserver.ForTest(t)
	ddb := dynamodb.NewFromConfig(cfg)
	st := dynamostore.New(ddb, testtable.Create(t, ddb, "api-save"))
	secrets := secretstore.New(secretsmanager.NewFromConfig(cfg), "rmmbridge/"+motoserver.UniqueName("api-save")+"/")
	store := dynamostore.NewConnections(st)
	conns := connection.NewService(store, secrets, reg, connection.Options{AllowLoopback: true, Vendors: cat})
	ref, err := secrets.Stage(ctx, "t_a/c_rmm", []byte(`{"clientId":"a","clientSecret":"b"}`))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	if err := store.PutConnection(ctx, connection.Connection{ID: "c_rmm", TenantID: "t_a", Name: "rmm", Kind: connection.KindRMM,
		Provider: "ninjaone", BaseURL: "https://rmm.example.com", Settings: map[string]any{}, Status: "ok", CreatedAt: now, UpdatedAt: now, SecretRef: ref}); err != nil {
		t.Fatal(err)
	}
	return &saveEnv{rt: api.New(api.Deps{Logger: quiet, Connections: conns}), conns: conns, store: store}
}

// call is serve (checked against openapi.yaml) on the env's router.
func (e *saveEnv) call(t *testing.T, q request) (int, string, []apperrFields) {
	t.Helper()
	resp := serve(t, e.rt, q)
	if resp.StatusCode < 400 {
		return resp.StatusCode, resp.Body, nil
	}
	var p struct {
		Detail string
		Errors []apperrFields
	}
	if ct := resp.Headers["content-type"]; ct != "application/problem+json" {
		t.Errorf("%s %s = %d with content-type %q, want problem+json", q.method, q.route, resp.StatusCode, ct)
	}
	if err := json.Unmarshal([]byte(resp.Body), &p); err != nil {
		t.Fatalf("problem is not JSON: %v", err)
	}
	return resp.StatusCode, p.Detail, p.Errors
}

type apperrFields struct{ Field, Message string }

// startPSA starts the named PSA sandbox and saves a connection to it
// through POST /v1/connections (Test & save against the sandbox).
func (e *saveEnv) startPSA(t *testing.T, name string) (sandboxspec.Spec, sandboxspec.PSA, string) {
	t.Helper()
	spec, ok := sandboxes.Get(name, vendorspec.KindPSA)
	if !ok {
		t.Fatalf("no %s sandbox", name)
	}
	sb := spec.NewPSA(sandboxspec.Options{Seed: 5})
	url, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	body, _ := json.Marshal(map[string]any{"name": name, "kind": "psa", "provider": name, "baseUrl": url + spec.BasePath,
		"credentials": spec.Credentials, "settings": spec.Settings})
	st, out, fe := e.call(t, request{method: "POST", route: "/v1/connections", body: string(body)})
	if st != http.StatusCreated {
		t.Fatalf("save the %s connection: %d %s %+v", name, st, out, fe)
	}
	var c struct{ ID string }
	_ = json.Unmarshal([]byte(out), &c)
	return spec, sb, c.ID
}

// specSettings are a sandbox's valid integration settings.
func specSettings(t *testing.T, spec sandboxspec.Spec) connection.Settings {
	t.Helper()
	b, err := json.Marshal(spec.IntegrationSettings)
	if err != nil {
		t.Fatal(err)
	}
	var s connection.Settings
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func cloneSettings(t *testing.T, s connection.Settings) connection.Settings {
	t.Helper()
	b, _ := json.Marshal(s)
	var out connection.Settings
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func integrationBody(t *testing.T, psaID string, s connection.Settings) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"name": "ig", "rmmConnectionId": "c_rmm", "psaConnectionId": psaID, "settings": s})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func settingsPatch(t *testing.T, s connection.Settings) string {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"settings": s})
	return string(b)
}

func named(fe []apperrFields, field string) (string, bool) {
	for _, f := range fe {
		if f.Field == field {
			return f.Message, true
		}
	}
	return "", false
}

func setOrg(s *connection.Settings, id string, o connection.OrgPolicy) {
	if s.AlertPolicy.Organizations == nil {
		s.AlertPolicy.Organizations = map[string]connection.OrgPolicy{}
	}
	s.AlertPolicy.Organizations[id] = o
}

// TestTicketDefaultsAreCheckedOnSave: for every PSA with ticket
// picklists, an integration's ticket defaults (board or queue, status,
// type, priority), its priority map and its organizations' overrides are
// checked against the PSA's lists when it is created or patched. Each
// value the PSA lacks is a 422 naming that setting and the value, and
// nothing is saved (no integration created; a patched one reads as
// before); values by id and by name in other case are accepted, as the
// clients resolve them when they open a ticket.
func TestTicketDefaultsAreCheckedOnSave(t *testing.T) {
	e := newSaveEnv(t, providers.Registry{AllowLoopback: true}, registry.Catalog())
	ctx := context.Background()
	cases := []struct {
		name   string
		mutate func(*connection.Settings)
		fields []string
		quoted string // the refused value, as the message quotes it
	}{
		{"a misspelt priority", func(s *connection.Settings) { s.TicketDefaults["priority"] = "Urgentt" },
			[]string{"settings.ticketDefaults.priority"}, `"Urgentt"`},
		{"an unknown board", func(s *connection.Settings) { s.TicketDefaults["board"] = "No Such Board" },
			[]string{"settings.ticketDefaults.board"}, `"No Such Board"`},
		{"an unknown queue", func(s *connection.Settings) { delete(s.TicketDefaults, "board"); s.TicketDefaults["queue"] = "Nowhere" },
			[]string{"settings.ticketDefaults.queue"}, `"Nowhere"`},
		{"an unknown status", func(s *connection.Settings) { s.TicketDefaults["status"] = "Pending Approvall" },
			[]string{"settings.ticketDefaults.status"}, `"Pending Approvall"`},
		{"an unknown type", func(s *connection.Settings) { s.TicketDefaults["type"] = "Catastrophe" },
			[]string{"settings.ticketDefaults.type"}, `"Catastrophe"`},
		{"a priority map value", func(s *connection.Settings) { s.PriorityMap["major"] = "Very High" },
			[]string{"settings.priorityMap.major"}, `"Very High"`},
		{"a priority map id", func(s *connection.Settings) { s.PriorityMap["critical"] = "987654" },
			[]string{"settings.priorityMap.critical"}, "id 987654"},
		{"a key rmmbridge does not read", func(s *connection.Settings) { s.TicketDefaults["team"] = "Monitoring" },
			[]string{"settings.ticketDefaults.team"}, "not a ticket default"},
		{"an organization's status", func(s *connection.Settings) {
			setOrg(s, "12", connection.OrgPolicy{TicketDefaults: map[string]string{"status": "Nope"}})
		}, []string{"settings.alertPolicy.organizations.12.ticketDefaults.status"}, `"Nope"`},
		{"an organization's board and priority", func(s *connection.Settings) {
			setOrg(s, "12", connection.OrgPolicy{TicketDefaults: map[string]string{"board": "Dental"}, PriorityMap: map[string]string{"minor": "Lowest"}})
		}, []string{"settings.alertPolicy.organizations.12.ticketDefaults.board", "settings.alertPolicy.organizations.12.priorityMap.minor"}, `"Dental"`},
		{"three at once", func(s *connection.Settings) {
			s.TicketDefaults["board"] = "Nope"
			s.PriorityMap["none"] = "Nope"
			s.PriorityMap["minor"] = "Nope either"
		}, []string{"settings.ticketDefaults.board", "settings.priorityMap.none", "settings.priorityMap.minor"}, `"Nope"`},
	}
	for _, name := range []string{"connectwise", "autotask", "halopsa"} {
		t.Run(name, func(t *testing.T) {
			spec, _, psaID := e.startPSA(t, name)
			valid := specSettings(t, spec)
			st, out, fe := e.call(t, request{method: "POST", route: "/v1/integrations", body: integrationBody(t, psaID, valid)})
			if st != http.StatusCreated {
				t.Fatalf("the sandbox's own defaults: %d %s %+v", st, out, fe)
			}
			var ig struct{ ID string }
			_ = json.Unmarshal([]byte(out), &ig)
			ids := map[string]string{"integrationId": ig.ID}
			count := func() int {
				list, _, err := e.conns.ListIntegrations(ctx, "t_a", 100, "")
				if err != nil {
					t.Fatal(err)
				}
				return len(list)
			}
			before := count()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					s := cloneSettings(t, valid)
					tc.mutate(&s)
					for _, q := range []request{
						{method: "POST", route: "/v1/integrations", body: integrationBody(t, psaID, s)},
						{method: "PATCH", route: intRoute, params: ids, body: settingsPatch(t, s)},
					} {
						st, detail, fe := e.call(t, q)
						t.Logf("%s: %d %+v", q.method, st, fe)
						if st != http.StatusUnprocessableEntity {
							t.Fatalf("%s: %d %s %+v, want 422", q.method, st, detail, fe)
						}
						var got []string
						for _, f := range fe {
							got = append(got, f.Field)
						}
						if diff := cmp.Diff(tc.fields, got, cmpSorted); diff != "" {
							t.Errorf("%s: fields (-want +got):\n%s", q.method, diff)
						}
						msg, _ := named(fe, tc.fields[0])
						listsKnown := strings.Contains(msg, "known: ") || tc.quoted == "not a ticket default"
						if !strings.Contains(msg, tc.quoted) || !listsKnown {
							t.Errorf("%s: message %q, want it to say %s and list known values", q.method, msg, tc.quoted)
						}
					}
					if n := count(); n != before {
						t.Errorf("%d integrations after a refused create, want %d", n, before)
					}
					st, body, _ := e.call(t, request{method: "GET", route: intRoute, params: ids})
					var got struct{ Settings connection.Settings }
					if err := json.Unmarshal([]byte(body), &got); st != http.StatusOK || err != nil {
						t.Fatalf("GET: %d %v", st, err)
					}
					if diff := cmp.Diff(valid, got.Settings); diff != "" {
						t.Errorf("settings after a refused patch (-want +got):\n%s", diff)
					}
				})
			}
			// By id and by name in another case, as the clients resolve them.
			reg := providers.Registry{AllowLoopback: true}
			c, err := e.conns.Get(ctx, "t_a", psaID)
			if err != nil {
				t.Fatal(err)
			}
			creds, err := e.conns.Credentials(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			lists, ok, err := reg.TicketPicklists(ctx, c.Provider, c.BaseURL, creds, c.Settings)
			if err != nil || !ok {
				t.Fatalf("TicketPicklists: %v %v", ok, err)
			}
			prios, err := lists.ListPriorities(ctx)
			if err != nil || len(prios) == 0 {
				t.Fatalf("priorities %v %v", prios, err)
			}
			s := cloneSettings(t, valid)
			s.TicketDefaults["board"] = strings.ToUpper(s.TicketDefaults["board"])
			s.TicketDefaults["status"] = " " + strings.ToLower(s.TicketDefaults["status"]) + " "
			s.PriorityMap["major"] = prios[len(prios)-1].ID
			setOrg(&s, "12", connection.OrgPolicy{PriorityMap: map[string]string{"critical": strings.ToLower(prios[0].Name)}})
			if st, out, fe := e.call(t, request{method: "PATCH", route: intRoute, params: ids, body: settingsPatch(t, s)}); st != http.StatusOK {
				t.Errorf("ids and names in other case: %d %s %+v", st, out, fe)
			}
		})
	}
}

// cmpSorted compares string slices as sets.
var cmpSorted = cmp.Transformer("sorted", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

// TestTicketDefaultsWithThePSADown: a PSA that cannot be asked for its
// lists makes a save that changes the ticket values fail with a vendor
// error (5xx problem+json) and saves nothing, rather than saving values
// nobody checked; a patch that leaves them as they are does not ask the
// PSA and succeeds.
func TestTicketDefaultsWithThePSADown(t *testing.T) {
	e := newSaveEnv(t, providers.Registry{AllowLoopback: true}, registry.Catalog())
	spec, sb, psaID := e.startPSA(t, "halopsa")
	valid := specSettings(t, spec)
	st, out, _ := e.call(t, request{method: "POST", route: "/v1/integrations", body: integrationBody(t, psaID, valid)})
	if st != http.StatusCreated {
		t.Fatalf("create: %d %s", st, out)
	}
	var ig struct{ ID string }
	_ = json.Unmarshal([]byte(out), &ig)
	ids := map[string]string{"integrationId": ig.ID}
	_ = sb.Close()
	changed := cloneSettings(t, valid)
	changed.PriorityMap["none"] = "Medium"
	resp := serve(t, e.rt, request{method: "PATCH", route: intRoute, params: ids, body: settingsPatch(t, changed)})
	t.Logf("PSA down: %d %s", resp.StatusCode, resp.Body)
	if resp.StatusCode != http.StatusBadGateway && resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("PATCH with the PSA down = %d %s, want 502 or 503", resp.StatusCode, resp.Body)
	}
	if !strings.Contains(resp.Body, "nothing was saved") || resp.Headers["content-type"] != "application/problem+json" {
		t.Errorf("answer %s %q, want problem+json saying nothing was saved", resp.Headers["content-type"], resp.Body)
	}
	resp = serve(t, e.rt, request{method: "POST", route: "/v1/integrations", body: integrationBody(t, psaID, valid)})
	if resp.StatusCode < 500 {
		t.Errorf("create with the PSA down = %d, want 5xx", resp.StatusCode)
	}
	got, err := e.conns.GetIntegration(context.Background(), "t_a", ig.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(valid, got.Settings); diff != "" {
		t.Errorf("settings after the failed patch (-want +got):\n%s", diff)
	}
	same := cloneSettings(t, valid)
	same.AlertPolicy.MinSeverity = "major"
	if st, out, fe := e.call(t, request{method: "PATCH", route: intRoute, params: ids, body: settingsPatch(t, same)}); st != http.StatusOK {
		t.Errorf("a patch leaving the ticket values alone, PSA down: %d %s %+v", st, out, fe)
	}
}

// freeTextPSA is a PSA client with picklist methods whose spec does not
// offer tickets.picklists: its lists must never be asked.
type freeTextPSA struct {
	psa.Client
	calls *atomic.Int64
}

func (p freeTextPSA) ListBoards(context.Context) ([]psa.NamedRef, error) {
	p.calls.Add(1)
	return nil, nil
}
func (p freeTextPSA) ListPriorities(context.Context) ([]psa.NamedRef, error) {
	p.calls.Add(1)
	return nil, nil
}
func (p freeTextPSA) ListTicketStatuses(context.Context, psa.NamedRef) ([]psa.NamedRef, error) {
	p.calls.Add(1)
	return nil, nil
}
func (p freeTextPSA) ListTicketTypes(context.Context, psa.NamedRef) ([]psa.NamedRef, error) {
	p.calls.Add(1)
	return nil, nil
}

// TestTicketDefaultsStayFreeTextWithoutPicklists: a PSA whose spec lacks
// tickets.picklists keeps ticket defaults as typed (any value, any key),
// on create and on patch, and its client is not opened for lists. (A
// guard: this was already so before the check existed.)
func TestTicketDefaultsStayFreeTextWithoutPicklists(t *testing.T) {
	var calls, opened atomic.Int64
	cat := vendorspec.MustCatalog(
		vendorspec.Spec{Name: "ninjaone", Kind: vendorspec.KindRMM, DisplayName: "Test RMM",
			OpenRMM: func(vendorspec.Params) (rmm.Client, error) { return nil, nil }},
		vendorspec.Spec{Name: "connectwise", Kind: vendorspec.KindPSA, DisplayName: "Test PSA without picklists",
			OpenPSA: func(vendorspec.Params) (psa.Client, error) { opened.Add(1); return freeTextPSA{calls: &calls}, nil }},
	)
	e := newSaveEnv(t, providers.Registry{AllowLoopback: true, Vendors: cat}, cat)
	ctx := context.Background()
	now := time.Now().UTC()
	// The connection as saved earlier (Test & save would open the client).
	if err := e.store.PutConnection(ctx, connection.Connection{ID: "c_psa", TenantID: "t_a", Name: "psa", Kind: connection.KindPSA,
		Provider: "connectwise", BaseURL: "https://psa.example.com", Settings: map[string]any{}, Status: "ok", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	s := connection.Settings{TicketDefaults: map[string]string{"board": "Anything", "status": "Whatever", "team": "Free"},
		PriorityMap: map[string]string{"critical": "P0"}}
	st, out, fe := e.call(t, request{method: "POST", route: "/v1/integrations", body: integrationBody(t, "c_psa", s)})
	if st != http.StatusCreated {
		t.Fatalf("create: %d %s %+v", st, out, fe)
	}
	var ig struct{ ID string }
	_ = json.Unmarshal([]byte(out), &ig)
	s.PriorityMap["major"] = "P1"
	if st, out, fe := e.call(t, request{method: "PATCH", route: intRoute, params: map[string]string{"integrationId": ig.ID}, body: settingsPatch(t, s)}); st != http.StatusOK {
		t.Errorf("patch: %d %s %+v", st, out, fe)
	}
	if calls.Load() != 0 || opened.Load() != 0 {
		t.Errorf("%d list calls, %d clients opened; want none for a PSA without tickets.picklists", calls.Load(), opened.Load())
	}
}

// TestHaloReferenceFieldsAreCheckedOnTestAndSave: a HaloPSA connection
// naming a client or ticket custom field the instance does not have is a
// 422 naming the setting on Test & save, and is not saved.
func TestHaloReferenceFieldsAreCheckedOnTestAndSave(t *testing.T) {
	e := newSaveEnv(t, providers.Registry{AllowLoopback: true}, registry.Catalog())
	spec, ok := sandboxes.Get("halopsa", vendorspec.KindPSA)
	if !ok {
		t.Fatal("no halopsa sandbox")
	}
	sb := spec.NewPSA(sandboxspec.Options{Seed: 5})
	url, err := sb.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	for _, field := range []string{"accountRefFieldId", "ticketRefFieldId"} {
		t.Run(field, func(t *testing.T) {
			settings := map[string]any{}
			for k, v := range spec.Settings {
				settings[k] = v
			}
			settings[field] = 4242
			body, _ := json.Marshal(map[string]any{"name": "halo", "kind": "psa", "provider": "halopsa", "baseUrl": url + spec.BasePath,
				"credentials": spec.Credentials, "settings": settings})
			st, detail, fe := e.call(t, request{method: "POST", route: "/v1/connections", body: string(body)})
			msg, ok := named(fe, "settings."+field)
			if st != http.StatusUnprocessableEntity || !ok || !strings.Contains(msg, "no custom field with id 4242") {
				t.Errorf("Test & save with %s 4242 = %d %s %+v, want 422 naming settings.%s", field, st, detail, fe, field)
			}
		})
	}
	list, _, err := e.conns.List(context.Background(), "t_a", 100, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 { // c_rmm only
		t.Errorf("%d connections after refused saves, want only the RMM's", len(list))
	}
}
