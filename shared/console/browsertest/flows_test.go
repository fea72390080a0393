package browsertest

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/chromedp/chromedp"

	"github.com/rmmbridge/rmmbridge/shared/devtools/apitest"
	"github.com/rmmbridge/rmmbridge/shared/devtools/devstack"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/tenant"
)

// api is a client of the local stack with the demo admin key, checked
// against openapi.yaml; the tests use it to set up and to check what the
// page claims.
func api(t *testing.T) *apitest.Client {
	return apitest.New(t, env.Stack.APIURL(), env.APIKey)
}

func base() string { return "/v1/integrations/" + env.IntegrationID }

// TestConnectionTestAndSave adds a NinjaOne connection through the form:
// "Test & save" with a wrong client secret shows the vendor's reason and
// saves nothing; with the right one the connection is saved, tested OK.
func TestConnectionTestAndSave(t *testing.T) {
	ctx := tab(t)
	signIn(t, ctx, env.APIKey)
	goTo(t, ctx, "connections")
	name := "Ninja from the console " + strconv.FormatInt(time.Now().UnixNano(), 36)
	do(t, ctx, "fill the new connection form",
		chromedp.Click(css(`#add-connection`)),
		chromedp.WaitVisible(css(`#connection-form`)),
		chromedp.SendKeys(css(`#connection-form [data-field=name]`), name),
		choose(`#connection-form select[data-field=provider]`, "ninjaone"),
		chromedp.WaitVisible(css(`#connection-form [data-field="credentials.clientSecret"]`)),
		chromedp.SendKeys(css(`#connection-form [data-field=baseUrl]`), env.RMM.BaseURL),
		chromedp.SendKeys(css(`#connection-form [data-field="credentials.clientId"]`), devstack.NinjaClientID),
		chromedp.SendKeys(css(`#connection-form [data-field="credentials.clientSecret"]`), "not-the-secret"),
		chromedp.Click(css(`#test-save`)))
	reason := waitText(t, ctx, `#connection-form .form-error`, "refused", 20*time.Second)
	if !strings.Contains(strings.ToLower(reason), "credential") && !strings.Contains(strings.ToLower(reason), "client") {
		t.Errorf("the refusal does not give the vendor's reason: %q", reason)
	}
	if strings.Contains(reason, "not-the-secret") {
		t.Errorf("the refusal echoes the secret: %q", reason)
	}
	if got := listConnectionNames(t); slices.Contains(got, name) {
		t.Fatalf("a connection that failed its test was saved: %v", got)
	}
	do(t, ctx, "retype the right secret",
		chromedp.SendKeys(css(`#connection-form [data-field="credentials.clientSecret"]`), devstack.NinjaClientSecret),
		chromedp.Click(css(`#test-save`)))
	saved := waitText(t, ctx, `#connection-saved`, name, 20*time.Second)
	if !strings.Contains(saved, "OK") {
		t.Errorf("the saved connection is not shown tested OK: %q", saved)
	}
	if n := count(t, ctx, `#connection-form .form-error:not([hidden])`); n != 0 {
		t.Errorf("the old refusal is still shown: %v", texts(t, ctx, `#connection-form .form-error`))
	}
	waitText(t, ctx, `#connections-table`, name, 10*time.Second)
	if !slices.Contains(listConnectionNames(t), name) {
		t.Errorf("the API does not list %q after Test & save", name)
	}
}

func listConnectionNames(t *testing.T) []string {
	t.Helper()
	var out struct{ Items []struct{ Name string } }
	r := api(t).Do(http.MethodGet, "/v1/connections?limit=500", nil)
	r.JSON(t, &out)
	var names []string
	for _, c := range out.Items {
		names = append(names, c.Name)
	}
	return names
}

// outcomes matches every unmapped organization through the API and returns
// one organization id per outcome.
func outcomes(t *testing.T) map[string]string {
	t.Helper()
	c := api(t)
	var orgs struct {
		Items []struct {
			ID      string
			Mapping *struct{ AccountID string }
		}
	}
	c.Do(http.MethodGet, base()+"/organizations?limit=500&mapping=unmapped", nil).JSON(t, &orgs)
	out := map[string]string{}
	for _, o := range orgs.Items {
		var m struct {
			Outcome    string
			Candidates []struct{ AccountID string }
		}
		c.Do(http.MethodPost, base()+"/organizations/"+o.ID+"/match", nil).JSON(t, &m)
		if m.Outcome == "multiple_matches" && len(m.Candidates) < 2 {
			continue // two accounts of one name: one candidate to choose from
		}
		if _, ok := out[m.Outcome]; !ok && !used[o.ID] {
			out[m.Outcome] = o.ID
		}
		if len(out) == 3 {
			break
		}
	}
	return out
}

// used are organizations a test has taken, so tests do not map the same
// one.
var used = map[string]bool{}

func take(t *testing.T, outcome string) string {
	t.Helper()
	found := outcomes(t)
	id := found[outcome]
	if id == "" && outcome == "multiple_matches" && found["match_found"] != "" {
		id = makeAmbiguous(t, found["match_found"])
	}
	if id == "" {
		t.Fatalf("no unmapped organization has outcome %s in the sandbox", outcome)
	}
	used[id] = true
	return id
}

// makeAmbiguous gives the PSA a second company with the same words as
// organization org's name (created through the API for another, unused
// organization, then unmapped), so auto-match finds two: the sandbox has
// few organizations of that kind, and each test needs its own.
func makeAmbiguous(t *testing.T, org string) string {
	t.Helper()
	c := api(t)
	used[org] = true
	var o struct{ Name string }
	var orgs struct{ Items []struct{ ID, Name string } }
	c.Do(http.MethodGet, base()+"/organizations?limit=500&mapping=unmapped", nil).JSON(t, &orgs)
	for _, x := range orgs.Items {
		if x.ID == org {
			o.Name = x.Name
		}
	}
	helper := outcomes(t)["no_match"]
	if helper == "" || o.Name == "" {
		t.Fatalf("no organization to create a look-alike company with (%q, %q)", helper, o.Name)
	}
	used[helper] = true
	if r := c.Do(http.MethodPut, base()+"/mappings/"+helper, map[string]any{"createAccount": map[string]any{"name": o.Name + " LLC"}}); r.Status != 200 {
		t.Fatalf("create a look-alike of %q: %d %s", o.Name, r.Status, r.Body)
	}
	if r := c.Do(http.MethodDelete, base()+"/mappings/"+helper, nil); r.Status != 204 {
		t.Fatalf("unmap %s: %d %s", helper, r.Status, r.Body)
	}
	return org
}

func mappingOf(t *testing.T, org string) (accountID, mode string) {
	t.Helper()
	r := api(t).Do(http.MethodGet, base()+"/mappings/"+org, nil)
	if r.Status != 200 {
		t.Fatalf("GET mapping of %s = %d %s", org, r.Status, r.Body)
	}
	var m struct{ AccountID, Mode string }
	r.JSON(t, &m)
	return m.AccountID, m.Mode
}

// openAddMapping shows the organizations and presses "+ Add mapping" on org.
func openAddMapping(t *testing.T, ctx context.Context, org string) {
	t.Helper()
	goTo(t, ctx, "accounts")
	row := fmt.Sprintf(`#orgs-table tr[data-key=%q]`, org)
	do(t, ctx, "press + Add mapping on organization "+org,
		chromedp.WaitVisible(css(row)),
		chromedp.Click(css(row+` td[data-col=actions] button`)),
		chromedp.WaitVisible(css(`#match-outcome`)))
}

// saveMapping presses "Save mapping" and waits for the confirmation.
func saveMapping(t *testing.T, ctx context.Context, org string) string {
	t.Helper()
	do(t, ctx, "save the mapping", chromedp.WaitVisible(css(`#save-mapping`)), chromedp.Click(css(`#save-mapping`)))
	msg := waitText(t, ctx, `#mapping-saved`, "", 30*time.Second)
	row := fmt.Sprintf(`#orgs-table tr[data-key=%q] td[data-col=mapping]`, org)
	waitText(t, ctx, row, "", 10*time.Second)
	return msg
}

// TestAddMappingEachOutcome presses "+ Add mapping" on one organization of
// each outcome and follows it through to a saved mapping: match found →
// "Map this company"; multiple matches → choose a candidate; no match →
// "Create new account". The page shows the outcome, the candidates with
// scores and reasons, and the saved mapping; the API agrees.
func TestAddMappingEachOutcome(t *testing.T) {
	ctx := tab(t)
	signIn(t, ctx, env.APIKey)

	t.Run("match_found", func(t *testing.T) {
		org := take(t, "match_found")
		openAddMapping(t, ctx, org)
		if got := eval[string](t, ctx, `document.querySelector('#match-outcome').dataset.outcome`); got != "match_found" {
			t.Fatalf("outcome shown %q, want match_found", got)
		}
		cand := textOf(t, ctx, `#mapping-flow .candidate`)
		if !strings.Contains(cand, "score") || count(t, ctx, `#mapping-flow .reasons li`) == 0 {
			t.Errorf("the candidate is shown without score or reasons: %q", cand)
		}
		do(t, ctx, "Map this company", chromedp.Click(css(`#map-this`)))
		msg := saveMapping(t, ctx, org)
		if acct, mode := mappingOf(t, org); acct == "" || mode != "linked" || !strings.Contains(msg, "linked") {
			t.Errorf("mapping %s/%s, page %q; want linked", acct, mode, msg)
		}
	})
	t.Run("multiple_matches", func(t *testing.T) {
		org := take(t, "multiple_matches")
		openAddMapping(t, ctx, org)
		if got := eval[string](t, ctx, `document.querySelector('#match-outcome').dataset.outcome`); got != "multiple_matches" {
			t.Fatalf("outcome shown %q, want multiple_matches", got)
		}
		n := count(t, ctx, `#mapping-flow input[type=radio]`)
		if n < 2 {
			t.Fatalf("%d candidates shown for multiple matches", n)
		}
		second := eval[string](t, ctx, `document.querySelectorAll('#mapping-flow input[type=radio]')[1].value`)
		do(t, ctx, "choose the second candidate", chromedp.Click(css(`#mapping-flow input[type=radio]:nth-of-type(1)`)),
			js(`document.querySelectorAll('#mapping-flow input[type=radio]')[1].click(); true`),
			chromedp.Click(css(`#map-selected`)))
		saveMapping(t, ctx, org)
		if acct, mode := mappingOf(t, org); acct != second || mode != "linked" {
			t.Errorf("mapping %s/%s, want linked to the chosen %s", acct, mode, second)
		}
	})
	t.Run("no_match", func(t *testing.T) {
		org := take(t, "no_match")
		openAddMapping(t, ctx, org)
		if got := eval[string](t, ctx, `document.querySelector('#match-outcome').dataset.outcome`); got != "no_match" {
			t.Fatalf("outcome shown %q, want no_match", got)
		}
		do(t, ctx, "Create new account", chromedp.Click(css(`#create-account`)))
		msg := saveMapping(t, ctx, org)
		if acct, mode := mappingOf(t, org); acct == "" || mode != "created" || !strings.Contains(msg, "created") {
			t.Errorf("mapping %s/%s, page %q; want created", acct, mode, msg)
		}
	})
}

// TestManualMapWithStatusFilter maps an organization by hand: "Select
// another company" opens the search, a status filter narrows the results
// to that status (every row shows it), and the chosen company is saved.
func TestManualMapWithStatusFilter(t *testing.T) {
	ctx := tab(t)
	signIn(t, ctx, env.APIKey)
	org := take(t, "match_found")
	var statuses struct{ Items []struct{ ID, Name string } }
	api(t).Do(http.MethodGet, base()+"/psa/account-statuses", nil).JSON(t, &statuses)
	if len(statuses.Items) < 2 {
		t.Fatalf("the PSA has %d account statuses", len(statuses.Items))
	}
	status := statuses.Items[0]
	openAddMapping(t, ctx, org)
	next := `#manual-map` // "Manual map" after multiple or no matches
	if eval[string](t, ctx, `document.querySelector('#match-outcome').dataset.outcome`) == "match_found" {
		next = `#select-another`
	}
	do(t, ctx, "Select another company", chromedp.Click(css(next)),
		chromedp.WaitVisible(css(`#search-status`)))
	waitGone(t, ctx, `#search-results .state.loading`, 10*time.Second)
	do(t, ctx, "search every company with status "+status.Name,
		choose(`#mapping-flow input[name=search]`, ""),
		choose(`#search-status`, status.ID),
		chromedp.Click(css(`#search-go`)))
	waitGone(t, ctx, `#search-results .state.loading`, 10*time.Second)
	do(t, ctx, "results", chromedp.WaitVisible(css(`#search-table`)))
	got := texts(t, ctx, `#search-table tbody td:nth-child(2)`)
	if len(got) == 0 {
		t.Fatalf("no results for status %s", status.Name)
	}
	for _, s := range got {
		if s != status.Name {
			t.Errorf("a result has status %q with the filter %q: %v", s, status.Name, got)
			break
		}
	}
	pick := eval[string](t, ctx, `document.querySelector('#search-table tbody tr').dataset.key`)
	do(t, ctx, "select the first result", chromedp.Click(css(`#search-table tbody tr td:last-child button`)))
	saveMapping(t, ctx, org)
	if acct, _ := mappingOf(t, org); acct != pick {
		t.Errorf("mapped to %s, want the selected %s", acct, pick)
	}
}

// mapForImport maps an organization through the API (creating its account)
// so an asset import has devices to bring in.
func mapForImport(t *testing.T) string {
	t.Helper()
	org := take(t, "no_match")
	r := api(t).Do(http.MethodPut, base()+"/mappings/"+org, map[string]any{"createAccount": map[string]any{}})
	if r.Status != 200 {
		t.Fatalf("map %s: %d %s", org, r.Status, r.Body)
	}
	return org
}

// TestAssetImportDryRunThenReal previews an asset import (dry run), then
// runs it from the preview and watches it to the end: the preview lists
// what would happen, the progress reaches the total, the counts add up.
func TestAssetImportDryRunThenReal(t *testing.T) {
	ctx := tab(t)
	signIn(t, ctx, env.APIKey)
	org := mapForImport(t)
	goTo(t, ctx, "imports")
	do(t, ctx, "preview an asset import of organization "+org,
		chromedp.Click(css(`#kind-assets`)),
		chromedp.SendKeys(css(`#import-form [data-field=organizationIds]`), org),
		chromedp.Click(css(`#dry-run`)))
	waitText(t, ctx, `#job-progress`, "of", 20*time.Second)
	do(t, ctx, "the preview", chromedp.WaitVisible(css(`#preview-table`)))
	prev := texts(t, ctx, `#preview-table tbody tr`)
	if len(prev) != 1 || !strings.Contains(prev[0], org) || !strings.Contains(prev[0], "device") {
		t.Fatalf("preview rows %q, want one for organization %s saying what happens to its devices", prev, org)
	}
	dryTitle := textOf(t, ctx, `#job h3`)
	do(t, ctx, "run the import", chromedp.Click(css(`#run-import`)))
	deadline := time.Now().Add(90 * time.Second)
	for textOf(t, ctx, `#job h3`) == dryTitle {
		if time.Now().After(deadline) {
			t.Fatal("the real import did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var status string
	var seenRunning bool
	for {
		status = eval[string](t, ctx, `(document.querySelector('#job-progress') || {dataset: {}}).dataset.status || ''`)
		if status == "running" || status == "queued" {
			seenRunning = true
		}
		if status == "succeeded" || status == "partial" || status == "failed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the import is still %q after 90 s", status)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if status != "succeeded" {
		t.Errorf("import finished %s: %v", status, texts(t, ctx, `#job-items`))
	}
	line := textOf(t, ctx, `#job-progress`)
	var done, total int
	devices := 0
	for _, d := range env.Ninja().Devices() {
		if strconv.Itoa(d.OrganizationID) == org {
			devices++
		}
	}
	if _, err := fmt.Sscanf(line, "%d of %d", &done, &total); err != nil || done != total || total != devices {
		t.Errorf("progress line %q, want all %d devices of organization %s done", line, devices, org)
	}
	var counts []string
	counts = texts(t, ctx, `#job-counts dd`)
	sum := 0
	for _, c := range counts {
		n, _ := strconv.Atoi(c)
		sum += n
	}
	if sum != total {
		t.Errorf("counts %v add up to %d, want %d", counts, sum, total)
	}
	t.Logf("watched live: %v; %s", seenRunning, line)
}

// TestSyncButtonChangesLastSyncedAt opens a synced asset, presses Sync
// and sees "Last synced" change, as the API's lastSyncedAt does.
func TestSyncButtonChangesLastSyncedAt(t *testing.T) {
	ctx := tab(t)
	signIn(t, ctx, env.APIKey)
	dev := syncedDevice(t)
	var before struct{ LastSyncedAt string }
	api(t).Do(http.MethodGet, base()+"/assets/"+dev, nil).JSON(t, &before)
	do(t, ctx, "open the asset", chromedp.Navigate(env.Stack.APIURL()+"/#/assets/"+dev), chromedp.WaitVisible(css(`#sync`)))
	shown := textOf(t, ctx, `#last-synced`)
	time.Sleep(1100 * time.Millisecond) // the shown time has seconds
	do(t, ctx, "press Sync", chromedp.Click(css(`#sync`)))
	deadline := time.Now().Add(20 * time.Second)
	for textOf(t, ctx, `#last-synced`) == shown {
		if time.Now().After(deadline) {
			t.Fatalf("Last synced still shows %q after Sync", shown)
		}
		time.Sleep(150 * time.Millisecond)
	}
	var after struct{ LastSyncedAt string }
	api(t).Do(http.MethodGet, base()+"/assets/"+dev, nil).JSON(t, &after)
	if after.LastSyncedAt == before.LastSyncedAt {
		t.Errorf("lastSyncedAt is still %s after Sync", before.LastSyncedAt)
	}
}

// syncedDevice returns a device with a synced asset, syncing one of a
// mapped organization when there is none yet.
func syncedDevice(t *testing.T) string {
	t.Helper()
	var list struct{ Items []struct{ DeviceID string } }
	api(t).Do(http.MethodGet, base()+"/assets?limit=1", nil).JSON(t, &list)
	if len(list.Items) > 0 {
		return list.Items[0].DeviceID
	}
	org := mapForImport(t)
	for _, d := range env.Ninja().Devices() {
		if strconv.Itoa(d.OrganizationID) == org {
			dev := strconv.Itoa(d.ID)
			if r := api(t).Do(http.MethodPost, base()+"/assets/"+dev+"/sync", nil); r.Status != 200 {
				t.Fatalf("sync %s: %d %s", dev, r.Status, r.Body)
			}
			return dev
		}
	}
	t.Fatalf("organization %s has no devices", org)
	return ""
}

// TestAlertAppearsAfterWebhook sends a NinjaOne condition to the webhook as
// the RMM would; the Alerts screen shows the series, open, with its ticket.
func TestAlertAppearsAfterWebhook(t *testing.T) {
	ctx := tab(t)
	signIn(t, ctx, env.APIKey)
	dev := env.Ninja().Devices()[len(env.Ninja().Devices())-1]
	act, err := env.Ninja().ConditionActivity(dev.ID, true, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	url := env.Stack.APIURL() + "/v1/webhooks/" + env.IntegrationID + "/rmm"
	if err := env.Ninja().EmitWebhook(context.Background(), url, map[string]string{"Authorization": "Bearer " + env.WebhookSecret}, act); err != nil {
		t.Fatalf("webhook: %v", err)
	}
	goTo(t, ctx, "alerts")
	row := fmt.Sprintf(`#alerts-table tr[data-key=%q]`, act.SeriesUID)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if count(t, ctx, row) == 1 && strings.Contains(textOf(t, ctx, row), "#") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("series %s with a ticket not shown after 60 s: %v", act.SeriesUID, texts(t, ctx, `#alerts-table tbody tr`))
		}
		do(t, ctx, "refresh", chromedp.Click(css(`#alerts-refresh`)))
		time.Sleep(500 * time.Millisecond)
	}
	got := textOf(t, ctx, row)
	if !strings.Contains(got, "Open") || !strings.Contains(got, strconv.Itoa(dev.ID)) {
		t.Errorf("alert row %q, want it open for device %d with its ticket", got, dev.ID)
	}
	do(t, ctx, "only open alerts", chromedp.Click(css(`#alerts-tab-open`)), chromedp.WaitVisible(css(row)))

	// A device of an organization several PSA accounts could be: no
	// ticket, shown under Unroutable with the reason.
	org := take(t, "multiple_matches")
	var devID int
	for _, d := range env.Ninja().Devices() {
		if strconv.Itoa(d.OrganizationID) == org {
			devID = d.ID
		}
	}
	un, err := env.Ninja().ConditionActivity(devID, true, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Ninja().EmitWebhook(context.Background(), url, map[string]string{"Authorization": "Bearer " + env.WebhookSecret}, un); err != nil {
		t.Fatalf("webhook: %v", err)
	}
	unRow := fmt.Sprintf(`#alerts-table tr[data-key=%q]`, un.SeriesUID)
	do(t, ctx, "unroutable alerts", chromedp.Click(css(`#alerts-tab-unroutable`)))
	deadline = time.Now().Add(60 * time.Second)
	for count(t, ctx, unRow) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("unroutable series %s not shown after 60 s", un.SeriesUID)
		}
		do(t, ctx, "refresh", chromedp.Click(css(`#alerts-refresh`)))
		time.Sleep(500 * time.Millisecond)
	}
	if got := textOf(t, ctx, unRow); !strings.Contains(got, "Unroutable") || !strings.Contains(got, "several PSA accounts") {
		t.Errorf("unroutable row %q, want the state and the reason", got)
	}
}

// TestViewerSeesNoWriteButtons signs in with a viewer's API key: no screen
// offers an action the role may not take (the API refuses them anyway).
func TestViewerSeesNoWriteButtons(t *testing.T) {
	tenants := tenant.NewService(dynamostore.NewTenants(dynamostore.New(dynamodb.NewFromConfig(env.AWS), env.Stack.TableName("Table"))))
	key, _, err := tenants.IssueKey(context.Background(), "t_demo", tenant.RoleViewer, "console viewer test")
	if err != nil {
		t.Fatal(err)
	}
	ctx := tab(t)
	signIn(t, ctx, key)
	if got := textOf(t, ctx, `#role`); got != "Viewer" {
		t.Errorf("role shown %q, want Viewer", got)
	}
	checks := []struct{ screen, ready string }{
		{"connections", "#connections-table"},
		{"integrations", "#integrations-table"},
		{"accounts", "#orgs-table"},
		{"imports", "#imports-table, .screen .state.empty"},
		{"assets", ".screen"},
		{"users", ".screen"},
	}
	for _, c := range checks {
		goTo(t, ctx, c.screen)
		do(t, ctx, "wait for "+c.screen, chromedp.WaitVisible(css(c.ready)))
		waitGone(t, ctx, ".state.loading", 20*time.Second)
		var buttons []string
		for _, b := range texts(t, ctx, `main button`) {
			if !slices.Contains([]string{"Load more", "Refresh", "Settings", "Try again", "Close", "Search", "Filter"}, b) {
				buttons = append(buttons, b)
			}
		}
		if len(buttons) > 0 {
			t.Errorf("%s offers a viewer %q", c.screen, buttons)
		}
	}
	// The settings of an integration are shown read-only.
	goTo(t, ctx, "integrations")
	do(t, ctx, "open settings", chromedp.Click(css(`#integrations-table td button`)), chromedp.WaitVisible(css(`#settings-form`)))
	if n := count(t, ctx, `#save-settings`); n != 0 {
		t.Error("a viewer is offered Save on the integration settings")
	}
	if n := count(t, ctx, `#settings-form input:not([disabled])`); n != 0 {
		t.Errorf("%d settings fields are editable for a viewer", n)
	}
	// Nor on an asset: no Sync.
	dev := syncedDevice(t)
	do(t, ctx, "open an asset", chromedp.Navigate(env.Stack.APIURL()+"/#/assets/"+dev), chromedp.WaitVisible(css(`#last-synced`)))
	if n := count(t, ctx, `#sync`); n != 0 {
		t.Error("a viewer is offered Sync")
	}
	// And the API refuses what the page hides.
	r := api(t).WithKey(key).Do(http.MethodPost, base()+"/organizations/1/match", nil)
	if r.Status != http.StatusForbidden {
		t.Errorf("viewer match = %d, want 403", r.Status)
	}
}

// TestItalian switches the language: the page speaks Italian, keeps it
// after a reload, and switches back.
func TestItalian(t *testing.T) {
	ctx := tab(t)
	signIn(t, ctx, env.APIKey)
	goTo(t, ctx, "accounts")
	do(t, ctx, "switch to Italian", choose(`#lang`, "it"))
	waitText(t, ctx, `#nav-connections`, "Connessioni", 5*time.Second)
	if lang := eval[string](t, ctx, `document.documentElement.lang`); lang != "it" {
		t.Errorf("html lang %q, want it", lang)
	}
	do(t, ctx, "wait for the organizations", chromedp.WaitVisible(css(`#orgs-table`)))
	if got := textOf(t, ctx, `#orgs-table thead`); !strings.Contains(got, "Organizzazione RMM") || !strings.Contains(got, "Mappatura PSA") {
		t.Errorf("table head %q is not Italian", got)
	}
	do(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible(css(`#role`)))
	waitText(t, ctx, `#nav-imports`, "Importazioni", 5*time.Second)
	do(t, ctx, "back to English", choose(`#lang`, "en"))
	waitText(t, ctx, `#nav-connections`, "Connections", 5*time.Second)
}

// TestResolveReviewInConsole runs an asset import of an organization that
// several PSA accounts could be: its devices wait for review. On the
// import's page, "Resolve" shows the candidates; choosing one maps the
// organization and imports the devices, and the job ends succeeded.
func TestResolveReviewInConsole(t *testing.T) {
	ctx := tab(t)
	signIn(t, ctx, env.APIKey)
	org := take(t, "multiple_matches")
	cands := candidates(t, org)
	id := startImport(t, map[string]any{"kind": "assets", "organizationIds": []string{org}})
	if j := waitJob(t, id, time.Minute); j.Status != "partial" || j.Counts["review"] == 0 {
		t.Fatalf("import %s %v, want partial with devices in review", j.Status, j.Counts)
	}
	do(t, ctx, "open the import", chromedp.Navigate(env.Stack.APIURL()+"/#/imports/"+id), chromedp.WaitVisible(css(`#review-items`)))
	reasons := texts(t, ctx, `#review-items tbody td:nth-child(2)`)
	if len(reasons) == 0 || !strings.Contains(reasons[0], "not mapped") {
		t.Errorf("review reasons %q", reasons)
	}
	do(t, ctx, "press Resolve", chromedp.Click(css(`#review-items tbody tr button`)), chromedp.WaitVisible(css(`#resolve-go`)))
	if n := count(t, ctx, `#job-items input[type=radio]`); n != len(cands) {
		t.Errorf("%d candidates shown, want %d", n, len(cands))
	}
	do(t, ctx, "choose the second candidate and resolve",
		js(`document.querySelectorAll('#job-items input[type=radio]')[1].click();`),
		chromedp.Click(css(`#resolve-go`)))
	// The devices are imported again: the job finishes with none of them
	// waiting for the organization (a device whose serial matches two PSA
	// assets still waits for a person, with that reason).
	deadline := time.Now().Add(60 * time.Second)
	final := func() bool {
		st := eval[string](t, ctx, `(document.querySelector('#job-progress') || {dataset: {}}).dataset.status || ''`)
		return (st == "succeeded" || st == "partial") && count(t, ctx, `#job-counts`) == 1
	}
	// The resolve form goes once the API has answered (the job is queued
	// again then) and the page watches the job anew.
	waitGone(t, ctx, `#resolve-go`, 30*time.Second)
	if n := count(t, ctx, `#job-items .form-error:not([hidden])`); n != 0 {
		t.Fatalf("resolve refused: %v", texts(t, ctx, `#job-items .form-error`))
	}
	for !final() {
		if time.Now().After(deadline) {
			t.Fatalf("the import did not finish after resolving: %s", textOf(t, ctx, `#job`))
		}
		time.Sleep(200 * time.Millisecond)
	}
	j := waitJob(t, id, 10*time.Second)
	var left struct {
		Items []struct{ Key, Reason, OrganizationID string }
	}
	api(t).Do(http.MethodGet, base()+"/imports/"+id+"/items?status=review", nil).JSON(t, &left)
	for _, it := range left.Items {
		if it.OrganizationID != "" || strings.Contains(it.Reason, "not mapped") {
			t.Errorf("device %s still waits for its organization after resolving: %s", it.Key, it.Reason)
		}
	}
	if j.Counts["review"] != len(left.Items) || j.Counts["created"]+j.Counts["linked"]+j.Counts["updated"]+j.Counts["unchanged"] == 0 {
		t.Errorf("counts after resolving %v with %d left for review", j.Counts, len(left.Items))
	}
	shown := eval[string](t, ctx, `document.querySelector('#job-counts [data-count=review]').innerText`)
	if shown != strconv.Itoa(len(left.Items)) {
		t.Errorf("review count shown %s, want %d", shown, len(left.Items))
	}
	if acct, _ := mappingOf(t, org); acct != cands[1].AccountID {
		t.Errorf("organization %s mapped to %s, want the chosen %s", org, acct, cands[1].AccountID)
	}
}

// TestIntegrationSettingsFromPicklists opens the demo integration's
// settings: the ticket board, status and type and the priority of each
// severity are offered from the PSA's picklists (GET
// .../psa/ticket-picklists); a choice is saved through PATCH. An unknown
// board is a 400 naming it.
func TestIntegrationSettingsFromPicklists(t *testing.T) {
	var pl struct {
		Boards, Priorities, Statuses, Types []struct{ ID, Name string }
	}
	r := api(t).Do(http.MethodGet, base()+"/psa/ticket-picklists?board=Help%20Desk", nil)
	r.JSON(t, &pl)
	if r.Status != 200 || len(pl.Boards) == 0 || len(pl.Priorities) < 2 || len(pl.Statuses) == 0 {
		t.Fatalf("picklists = %d %+v", r.Status, pl)
	}
	var p problem
	r = api(t).Do(http.MethodGet, base()+"/psa/ticket-picklists?board=No%20Such%20Board", nil)
	r.JSON(t, &p)
	if r.Status != 400 || len(p.Errors) != 1 || p.Errors[0].Field != "board" {
		t.Errorf("unknown board = %d %+v, want 400 naming board", r.Status, p)
	}

	ctx := tab(t)
	signIn(t, ctx, env.APIKey)
	goTo(t, ctx, "integrations")
	row := fmt.Sprintf(`#integrations-table tr[data-key=%q]`, env.IntegrationID)
	do(t, ctx, "open the settings", chromedp.Click(css(row+` button`)), chromedp.WaitVisible(css(`#settings-form`)))
	offered := func(field string) []string {
		return eval[[]string](t, ctx, fmt.Sprintf(`[...document.getElementById(document.querySelector('[data-field=%q]').getAttribute('list')).options].map(o => o.value)`, field))
	}
	for field, want := range map[string][]struct{ ID, Name string }{
		"settings.ticketDefaults.board":  pl.Boards,
		"settings.priorityMap.critical":  pl.Priorities,
		"settings.ticketDefaults.status": pl.Statuses,
	} {
		got := offered(field)
		if len(got) != len(want) {
			t.Errorf("%s offers %v, want the %d PSA values", field, got, len(want))
		}
	}
	pick := pl.Priorities[len(pl.Priorities)-1].Name
	do(t, ctx, "choose the critical priority and save",
		choose(`[data-field="settings.priorityMap.critical"]`, pick),
		chromedp.Click(css(`#save-settings`)))
	waitText(t, ctx, `#settings-form .success`, "Saved", 10*time.Second)
	var ig struct {
		Settings struct{ PriorityMap map[string]string }
	}
	api(t).Do(http.MethodGet, base(), nil).JSON(t, &ig)
	if ig.Settings.PriorityMap["critical"] != pick {
		t.Errorf("priorityMap.critical = %q after saving, want %q", ig.Settings.PriorityMap["critical"], pick)
	}
}
