package devstack_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/devtools/apitest"
	"github.com/rmmbridge/rmmbridge/shared/devtools/devstack"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	cwsandbox "github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
	ninjasandbox "github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone/sandbox"
)

// The asset tests map every organization, which the account sync tests on
// the shared environment must not see: each starts its own environment on
// the same moto server, with its own stack (tables, queues), sandboxes and
// ports.

// startOwnEnv starts an environment for one test and stops it when the test
// ends. Zero fields of o get the shared environment's test settings.
func startOwnEnv(t *testing.T, name string, o devstack.Options) *devstack.Env {
	t.Helper()
	if o.Template == "" {
		o.Template = "../../../template.yaml"
	}
	o.StackName = motoserver.UniqueName(name)
	o.APIAddr, o.RMMAddr, o.PSAAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	if o.Endpoint == "" {
		o.Endpoint = env.MotoEndpoint
	}
	if o.PollWait == 0 {
		o.PollWait = 200 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	e, err := devstack.Start(context.Background(), o)
	if err != nil {
		t.Fatalf("start %s environment: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Errorf("stop %s environment: %v", name, err)
		}
	})
	return e
}

// importCounts are a job's counters as GET /imports/{id} shows them.
type importCounts struct {
	Total, Created, Linked, Updated, Unchanged, Skipped, Failed, Review int
}

// done is the number of items with an outcome.
func (c importCounts) done() int {
	return c.Created + c.Linked + c.Updated + c.Unchanged + c.Skipped + c.Failed + c.Review
}

type importJob struct {
	ID, Kind, Status string
	DryRun           bool
	Counts           importCounts
	StartedAt        time.Time
	FinishedAt       time.Time
}

type importItem struct{ Key, Status, Reason string }

type assetView struct {
	DeviceID, AssetID, AccountID, LocationID, Name, SerialNumber, OS, LastLoggedInUser string
	LastCheckIn                                                                        time.Time
	Storage                                                                            struct {
		TotalBytes, FreeBytes int64
		Volumes               []struct {
			Name                     string
			CapacityBytes, FreeBytes int64
		}
	}
	LastSyncedAt time.Time
}

// startImport posts an import and returns its id.
func startImport(t *testing.T, c *apitest.Client, iid string, body map[string]any) string {
	t.Helper()
	var q struct{ ID, Kind, Status string }
	r := c.Do(http.MethodPost, "/v1/integrations/"+iid+"/imports", body)
	r.JSON(t, &q)
	if r.Status != http.StatusAccepted || q.Status != "queued" || q.ID == "" {
		t.Fatalf("POST imports %v = %d %s; want 202 queued", body, r.Status, r.Body)
	}
	return q.ID
}

// awaitImport polls an import until its status is final.
func awaitImport(t *testing.T, c *apitest.Client, iid, id string, limit time.Duration) importJob {
	t.Helper()
	start := time.Now()
	deadline, logAt := start.Add(limit), start.Add(30*time.Second)
	for {
		var j importJob
		r := c.Do(http.MethodGet, "/v1/integrations/"+iid+"/imports/"+id, nil)
		r.JSON(t, &j)
		if r.Status != http.StatusOK {
			t.Fatalf("GET import %s = %d %s", id, r.Status, r.Body)
		}
		switch j.Status {
		case "succeeded", "partial", "failed":
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("import %s still %s after %s: %+v", id, j.Status, limit, j.Counts)
		}
		if time.Now().After(logAt) {
			t.Logf("import %s after %s: %s %d/%d", id, time.Since(start).Round(time.Second), j.Status, j.Counts.done(), j.Counts.Total)
			logAt = logAt.Add(30 * time.Second)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// importItems lists a job's items with status failed or review, every page.
func importItems(t *testing.T, c *apitest.Client, iid, id, status string) []importItem {
	t.Helper()
	var out []importItem
	cursor := ""
	for {
		var page struct {
			Items      []importItem
			NextCursor string
		}
		r := c.Do(http.MethodGet, "/v1/integrations/"+iid+"/imports/"+id+"/items?limit=500&status="+status+"&cursor="+url.QueryEscape(cursor), nil)
		r.JSON(t, &page)
		if r.Status != http.StatusOK {
			t.Fatalf("GET items of %s = %d %s", id, r.Status, r.Body)
		}
		out = append(out, page.Items...)
		if page.NextCursor == "" {
			return out
		}
		cursor = page.NextCursor
	}
}

// listAssets reads GET /assets (query e.g. "organizationId=3"), every page.
func listAssets(t *testing.T, c *apitest.Client, iid, query string) []assetView {
	t.Helper()
	var out []assetView
	cursor := ""
	for {
		var page struct {
			Items      []assetView
			NextCursor string
		}
		r := c.Do(http.MethodGet, "/v1/integrations/"+iid+"/assets?limit=500&"+query+"&cursor="+url.QueryEscape(cursor), nil)
		r.JSON(t, &page)
		if r.Status != http.StatusOK {
			t.Fatalf("GET assets?%s = %d %s", query, r.Status, r.Body)
		}
		out = append(out, page.Items...)
		if page.NextCursor == "" {
			return out
		}
		cursor = page.NextCursor
	}
}

// psaWrites counts the requests that could change ConnectWise data.
func psaWrites(cw *cwsandbox.Server) int {
	n := 0
	for _, r := range cw.Requests() {
		switch r.Method {
		case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
			n++
		}
	}
	return n
}

// configsByDevice groups ConnectWise configurations by deviceIdentifier.
func configsByDevice(cw *cwsandbox.Server) map[string][]cwsandbox.Configuration {
	out := map[string][]cwsandbox.Configuration{}
	for _, cf := range cw.Configurations() {
		if cf.DeviceIdentifier != "" {
			out[cf.DeviceIdentifier] = append(out[cf.DeviceIdentifier], cf)
		}
	}
	return out
}

// companiesByRef groups ConnectWise companies by rmmbridge's organization
// reference.
func companiesByRef(cw *cwsandbox.Server) map[string][]cwsandbox.Company {
	out := map[string][]cwsandbox.Company{}
	for _, co := range cw.Companies() {
		if ref := co.CustomFields[cwsandbox.CompanyRefFieldID]; ref != "" && !co.Deleted {
			out[ref] = append(out[ref], co)
		}
	}
	return out
}

// mappedAccount reads an organization's mapping: its account id, "" when
// unmapped.
func mappedAccount(t *testing.T, c *apitest.Client, iid, orgID string) string {
	t.Helper()
	acct, _ := mappingOf(t, c, iid, orgID)
	return acct
}

// checkCounts fails when a final job's counters do not account for every
// device exactly once.
func checkCounts(t *testing.T, j importJob, devices int) {
	t.Helper()
	if j.Counts.Total != devices {
		t.Errorf("job %s total = %d; want %d devices", j.ID, j.Counts.Total, devices)
	}
	if j.Counts.done() != j.Counts.Total {
		t.Errorf("job %s outcomes add up to %d, not its total %d: %+v", j.ID, j.Counts.done(), j.Counts.Total, j.Counts)
	}
}

func itemKeys(items []importItem) map[string]importItem {
	out := map[string]importItem{}
	for _, it := range items {
		out[it.Key] = it
	}
	return out
}

// TestAssetImport covers issue 5 end to end through the local stack and
// both sandboxes: a bulk import of every device (accounts created where
// missing, existing PSA assets adopted by device id or serial, serial ties
// sent to review), a re-import that writes nothing to the PSA, the Sync
// button, and the retry of failed items.
func TestAssetImport(t *testing.T) {
	e := startOwnEnv(t, "assets", devstack.Options{Orgs: 8, Devices: 160})
	c := apitest.New(t, e.Stack.APIURL(), e.APIKey)
	iid := e.IntegrationID
	devices := e.Ninja().Devices()
	orgs := e.Ninja().Orgs()
	truth := e.CW().AssetTruth()
	orgOf := map[string]string{}
	for _, d := range devices {
		orgOf[strconv.Itoa(d.ID)] = strconv.Itoa(d.OrganizationID)
	}

	seeded := map[int]cwsandbox.Configuration{} // the PSA's assets before any import
	for _, cf := range e.CW().Configurations() {
		seeded[cf.ID] = cf
	}

	// 1. Import everything.
	start := time.Now()
	id := startImport(t, c, iid, map[string]any{"kind": "assets", "createMissingAccounts": true})
	first := awaitImport(t, c, iid, id, 3*time.Minute)
	t.Logf("import of %d devices: %s in %s, counts %+v", len(devices), first.Status, time.Since(start).Round(time.Millisecond), first.Counts)
	checkCounts(t, first, len(devices))
	// What the matching ladder must make of the PSA's seeded assets: one
	// carrying the device id, or one with its (real) serial, is adopted;
	// two sharing its serial are a tie for review; a placeholder serial
	// matches nothing, so the device gets a new asset.
	expect := map[string]string{}
	var wantLinked, wantReview int
	for did, ids := range truth {
		cf := seeded[ids[0]]
		switch {
		case cf.DeviceIdentifier != did && rmm.IsPlaceholderSerial(cf.SerialNumber):
		case len(ids) == 1:
			expect[did] = "linked"
			wantLinked++
		default:
			expect[did] = "review"
			wantReview++
		}
	}
	want := importCounts{Total: len(devices), Created: len(devices) - wantLinked - wantReview, Linked: wantLinked, Review: wantReview}
	if first.Counts != want {
		t.Errorf("first import counts = %+v; want %+v (PSA assets seeded: %d adoptable, %d serial ties)", first.Counts, want, wantLinked, wantReview)
	}
	if wantStatus := map[bool]string{true: "partial", false: "succeeded"}[wantReview > 0]; first.Status != wantStatus {
		t.Errorf("first import status = %s; want %s", first.Status, wantStatus)
	}
	review := itemKeys(importItems(t, c, iid, id, "review"))
	if len(review) != wantReview {
		t.Errorf("review items = %d; want %d", len(review), wantReview)
	}

	// Every organization has exactly one account, the mapped one (the
	// account decision: TestAssetImportAccountDecision): linked to the
	// company auto-match found, which carries no reference, or created for
	// it, the one company carrying its reference.
	byRef := companiesByRef(e.CW())
	account := map[string]string{}
	for _, o := range orgs {
		oid := strconv.Itoa(o.ID)
		acct, mode := mappingOf(t, c, iid, oid)
		account[oid] = acct
		cos := byRef[oid]
		switch {
		case mode == "linked" && len(cos) == 0:
		case mode == "created" && len(cos) == 1 && strconv.Itoa(cos[0].ID) == acct:
		default:
			t.Errorf("organization %s (%s): mapped to %q (%s), companies carrying its reference %v; want linked with none, or created with exactly the mapped one",
				oid, o.Name, acct, mode, cos)
		}
	}

	// Every device has exactly one PSA configuration carrying its id (an
	// adopted one where the PSA had it), except serial ties, which wait for
	// a human with the reason and got none.
	configs := configsByDevice(e.CW())
	assets := map[string]assetView{}
	for _, a := range listAssets(t, c, iid, "") {
		assets[a.DeviceID] = a
	}
	for _, d := range devices {
		did := strconv.Itoa(d.ID)
		got := configs[did]
		if it, ok := review[did]; ok {
			if len(got) != 0 || it.Reason == "" || expect[did] != "review" {
				t.Errorf("review device %s: configurations %v, reason %q, seeded %v; want none, a reason, a seeded tie", did, got, it.Reason, truth[did])
			}
			if _, listed := assets[did]; listed {
				t.Errorf("review device %s is listed as a synced asset", did)
			}
			continue
		}
		if len(got) != 1 {
			t.Errorf("device %s has %d configurations carrying its id; want 1: %v", did, len(got), got)
			continue
		}
		switch _, old := seeded[got[0].ID]; {
		case expect[did] == "linked" && got[0].ID != truth[did][0]:
			t.Errorf("device %s: configuration %d; want the existing one %d adopted", did, got[0].ID, truth[did][0])
		case expect[did] == "" && old:
			t.Errorf("device %s: configuration %d existed before; want a new one", did, got[0].ID)
		}
		if strconv.Itoa(got[0].CompanyID) != account[orgOf[did]] {
			t.Errorf("device %s is under company %d; want its organization's account %s", did, got[0].CompanyID, account[orgOf[did]])
		}
		a, ok := assets[did]
		if !ok || a.AssetID != strconv.Itoa(got[0].ID) || a.AccountID != account[orgOf[did]] || a.Name == "" || a.LastSyncedAt.IsZero() {
			t.Errorf("GET /assets entry of device %s = %+v; want asset %d under account %s", did, a, got[0].ID, account[orgOf[did]])
		}
	}
	if len(assets) != len(devices)-len(review) {
		t.Errorf("GET /assets lists %d assets; want %d", len(assets), len(devices)-len(review))
	}
	oid := strconv.Itoa(orgs[0].ID)
	for _, a := range listAssets(t, c, iid, "organizationId="+oid) {
		if orgOf[a.DeviceID] != oid {
			t.Errorf("GET /assets?organizationId=%s lists device %s of organization %s", oid, a.DeviceID, orgOf[a.DeviceID])
		}
	}
	if t.Failed() {
		return
	}

	// 2. Re-import: nothing changed, so nothing is written to the PSA.
	writes := psaWrites(e.CW())
	start = time.Now()
	id2 := startImport(t, c, iid, map[string]any{"kind": "assets"})
	again := awaitImport(t, c, iid, id2, 3*time.Minute)
	checkCounts(t, again, len(devices))
	if want := (importCounts{Total: len(devices), Unchanged: len(devices) - len(review), Review: len(review)}); again.Counts != want {
		t.Errorf("re-import counts = %+v; want %+v", again.Counts, want)
	}
	if n := psaWrites(e.CW()) - writes; n != 0 {
		t.Errorf("re-import made %d PSA writes; want 0", n)
	}
	t.Logf("re-import: %s in %s, counts %+v, PSA writes %d", again.Status, time.Since(start).Round(time.Millisecond), again.Counts, psaWrites(e.CW())-writes)

	// 3. The Sync button.
	var synced string
	for _, d := range devices {
		if _, ok := review[strconv.Itoa(d.ID)]; !ok {
			synced = strconv.Itoa(d.ID)
			break
		}
	}
	n, _ := strconv.Atoi(synced)
	e.Ninja().TouchDevice(n)
	var live ninjasandbox.Device
	for _, d := range e.Ninja().Devices() {
		if d.ID == n {
			live = d
		}
	}
	writes = psaWrites(e.CW())
	var got assetView
	r := c.Do(http.MethodPost, "/v1/integrations/"+iid+"/assets/"+synced+"/sync", nil)
	r.JSON(t, &got)
	wantCheckIn := time.UnixMilli(int64(live.LastContact * 1000)).UTC().Truncate(time.Second)
	if r.Status != http.StatusOK || got.DeviceID != synced || !got.LastCheckIn.Equal(wantCheckIn) || !got.LastSyncedAt.After(assets[synced].LastSyncedAt) {
		t.Errorf("sync %s = %d %+v; want 200 with last check-in %s", synced, r.Status, got, wantCheckIn)
	}
	if got.Storage.FreeBytes == assets[synced].Storage.FreeBytes && len(got.Storage.Volumes) > 0 {
		t.Errorf("sync %s: free space still %d after the device wrote to its disk", synced, got.Storage.FreeBytes)
	}
	if n := psaWrites(e.CW()) - writes; n != 1 {
		t.Errorf("sync of a changed device made %d PSA writes; want 1", n)
	}
	var read assetView
	c.Do(http.MethodGet, "/v1/integrations/"+iid+"/assets/"+synced, nil).JSON(t, &read)
	if !read.LastCheckIn.Equal(wantCheckIn) {
		t.Errorf("GET asset %s after sync: last check-in %s; want %s", synced, read.LastCheckIn, wantCheckIn)
	}
	writes = psaWrites(e.CW())
	if r := c.Do(http.MethodPost, "/v1/integrations/"+iid+"/assets/"+synced+"/sync", nil); r.Status != http.StatusOK || psaWrites(e.CW()) != writes {
		t.Errorf("second sync = %d with %d PSA writes; want 200 and none", r.Status, psaWrites(e.CW())-writes)
	}
	if r := c.Do(http.MethodPost, "/v1/integrations/"+iid+"/assets/999999/sync", nil); r.Status != http.StatusNotFound {
		t.Errorf("sync of a device the RMM does not know = %d %s; want 404", r.Status, r.Body)
	}
	if r := c.Do(http.MethodGet, "/v1/integrations/"+iid+"/assets/999999", nil); r.Status != http.StatusNotFound {
		t.Errorf("GET an asset never synced = %d; want 404", r.Status)
	}

	// 4. Retry of failed items: two organizations without review items
	// have every device changed, and ConnectWise refuses the first three
	// requests of their import; the job ends partial with those items
	// failed (with ConnectWise's reason), and the retry finishes it.
	var chosen []string
	var touched []string
	for _, o := range orgs {
		oid := strconv.Itoa(o.ID)
		var ds []string
		clean := true
		for _, d := range devices {
			did := strconv.Itoa(d.ID)
			if orgOf[did] == oid {
				ds = append(ds, did)
				_, inReview := review[did]
				clean = clean && !inReview
			}
		}
		if clean && len(ds) >= 3 && len(chosen) < 2 {
			chosen = append(chosen, oid)
			touched = append(touched, ds...)
		}
	}
	if len(chosen) < 2 {
		t.Fatalf("no two organizations without review items among %d", len(orgs))
	}
	for _, did := range touched {
		n, _ := strconv.Atoi(did)
		e.Ninja().TouchDevice(n)
	}
	const refused = 3
	e.CW().FailNext(refused, http.StatusBadRequest)
	id3 := startImport(t, c, iid, map[string]any{"kind": "assets", "organizationIds": chosen})
	partial := awaitImport(t, c, iid, id3, 3*time.Minute)
	checkCounts(t, partial, len(touched))
	failed := importItems(t, c, iid, id3, "failed")
	t.Logf("import of organizations %v with %d refused PSA requests: %s, counts %+v, failed items %v", chosen, refused, partial.Status, partial.Counts, failed)
	if partial.Status != "partial" || partial.Counts.Failed != refused || len(failed) != refused {
		t.Fatalf("import with %d refused requests = %s %+v, %d failed items; want partial with %d failed", refused, partial.Status, partial.Counts, len(failed), refused)
	}
	for _, it := range failed {
		if !slices.Contains(touched, it.Key) || it.Status != "failed" || it.Reason == "" {
			t.Errorf("failed item %+v; want one of the touched devices with a reason", it)
		}
	}
	if partial.Counts.Updated != len(touched)-refused {
		t.Errorf("updated = %d; want %d", partial.Counts.Updated, len(touched)-refused)
	}
	if r := c.Do(http.MethodPost, "/v1/integrations/"+iid+"/imports/"+id+"/retry", nil); r.Status != http.StatusConflict {
		t.Errorf("retry of a job without failed items = %d; want 409", r.Status)
	}
	writes = psaWrites(e.CW())
	start = time.Now()
	r = c.Do(http.MethodPost, "/v1/integrations/"+iid+"/imports/"+id3+"/retry", nil)
	if r.Status != http.StatusAccepted {
		t.Fatalf("retry = %d %s; want 202", r.Status, r.Body)
	}
	retried := awaitImport(t, c, iid, id3, 3*time.Minute)
	checkCounts(t, retried, len(touched))
	t.Logf("retry: %s in %s, counts %+v", retried.Status, time.Since(start).Round(time.Millisecond), retried.Counts)
	if want := (importCounts{Total: len(touched), Updated: len(touched)}); retried.Status != "succeeded" || retried.Counts != want {
		t.Errorf("retried job = %s %+v; want succeeded %+v", retried.Status, retried.Counts, want)
	}
	if n := psaWrites(e.CW()) - writes; n != refused {
		t.Errorf("the retry made %d PSA writes; want %d (one per failed device)", n, refused)
	}
	if left := importItems(t, c, iid, id3, "failed"); len(left) != 0 {
		t.Errorf("failed items after the retry: %v", left)
	}
	for _, it := range failed {
		if got := configsByDevice(e.CW())[it.Key]; len(got) != 1 {
			t.Errorf("retried device %s has %d configurations; want 1", it.Key, len(got))
		}
	}
}
