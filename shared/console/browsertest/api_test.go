package browsertest

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/tenant"
)

// The API routes the console added, driven over HTTP against the local
// stack and checked against openapi.yaml (apitest).

type job struct {
	ID, Kind, Status string
	Counts           map[string]int
}

func waitJob(t *testing.T, id string, limit time.Duration) job {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		var j job
		api(t).Do(http.MethodGet, base()+"/imports/"+id, nil).JSON(t, &j)
		if j.Status == "succeeded" || j.Status == "partial" || j.Status == "failed" {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("import %s still %s after %s", id, j.Status, limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func startImport(t *testing.T, body map[string]any) string {
	t.Helper()
	var q struct{ ID string }
	r := api(t).Do(http.MethodPost, base()+"/imports", body)
	if r.Status != 202 {
		t.Fatalf("start import %v: %d %s", body, r.Status, r.Body)
	}
	r.JSON(t, &q)
	return q.ID
}

type candidate struct{ AccountID, Name string }

func candidates(t *testing.T, org string) []candidate {
	t.Helper()
	var m struct {
		Outcome    string
		Candidates []candidate
	}
	api(t).Do(http.MethodPost, base()+"/organizations/"+org+"/match", nil).JSON(t, &m)
	if m.Outcome != "multiple_matches" || len(m.Candidates) < 2 {
		t.Fatalf("organization %s: %s with %d candidates, want multiple matches", org, m.Outcome, len(m.Candidates))
	}
	return m.Candidates
}

type problem struct {
	Status int
	Detail string
	Errors []struct{ Field, Message string }
}

func otherTenantKey(t *testing.T) string {
	t.Helper()
	tenants := tenant.NewService(dynamostore.NewTenants(dynamostore.New(dynamodb.NewFromConfig(env.AWS), env.Stack.TableName("Table"))))
	if _, err := tenants.EnsureTenant(context.Background(), "t_console_other", "Other MSP"); err != nil {
		t.Fatal(err)
	}
	key, _, err := tenants.IssueKey(context.Background(), "t_console_other", tenant.RoleAdmin, "console other tenant")
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// TestResolveOrganizationReviewItem imports one organization that several
// PSA accounts could be: it waits for review. Resolving the item with the
// second candidate maps the organization to it, records the item linked
// and the job succeeded; bad input, a dry run, a second resolve and
// another tenant are refused.
func TestResolveOrganizationReviewItem(t *testing.T) {
	c := api(t)
	org := take(t, "multiple_matches")
	cands := candidates(t, org)

	dry := startImport(t, map[string]any{"kind": "organizations", "organizationIds": []string{org}, "dryRun": true})
	if j := waitJob(t, dry, time.Minute); j.Counts["review"] != 1 {
		t.Fatalf("dry run counts %v, want one review", j.Counts)
	}
	id := startImport(t, map[string]any{"kind": "organizations", "organizationIds": []string{org}})
	if j := waitJob(t, id, time.Minute); j.Status != "partial" || j.Counts["review"] != 1 {
		t.Fatalf("import %s %v, want partial with one review item", j.Status, j.Counts)
	}
	var items struct {
		Items []struct{ Key, Status, Reason string }
	}
	c.Do(http.MethodGet, base()+"/imports/"+id+"/items?status=review", nil).JSON(t, &items)
	if len(items.Items) != 1 || items.Items[0].Key != org {
		t.Fatalf("review items %+v, want organization %s", items.Items, org)
	}
	resolve := func(job, key string, body any) (int, problem) {
		r := c.Do(http.MethodPost, base()+"/imports/"+job+"/items/"+key+"/resolve", body)
		var p problem
		if r.Status >= 400 {
			r.JSON(t, &p)
		}
		return r.Status, p
	}
	refusals := []struct {
		name       string
		job, key   string
		body       any
		want       int
		wantDetail string
	}{
		{"no account", id, org, map[string]any{}, 422, ""},
		{"malformed account id", id, org, map[string]any{"accountId": "a#b"}, 422, ""},
		{"unknown field", id, org, map[string]any{"accountId": cands[1].AccountID, "force": true}, 400, ""},
		{"a dry run", dry, org, map[string]any{"accountId": cands[1].AccountID}, 422, "dry run"},
		{"no such item", id, "999999", map[string]any{"accountId": cands[1].AccountID}, 404, ""},
		{"no such job", "j_nope", org, map[string]any{"accountId": cands[1].AccountID}, 404, ""},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			st, p := resolve(tc.job, tc.key, tc.body)
			if st != tc.want || !strings.Contains(p.Detail, tc.wantDetail) {
				t.Errorf("resolve = %d %+v, want %d %q", st, p, tc.want, tc.wantDetail)
			}
		})
	}
	if r := c.WithKey(otherTenantKey(t)).Do(http.MethodPost, base()+"/imports/"+id+"/items/"+org+"/resolve", map[string]any{"accountId": cands[1].AccountID}); r.Status != 404 {
		t.Errorf("another tenant's resolve = %d %s, want 404", r.Status, r.Body)
	}
	if acct, _ := mappingOfOrNone(t, org); acct != "" {
		t.Fatalf("refused resolves mapped organization %s to %s", org, acct)
	}

	r := c.Do(http.MethodPost, base()+"/imports/"+id+"/items/"+org+"/resolve", map[string]any{"accountId": cands[1].AccountID})
	var res struct {
		ID, Status, OrganizationID, AccountID string
		Resolved                              int
	}
	r.JSON(t, &res)
	if r.Status != 202 || res.Status != "succeeded" || res.Resolved != 1 || res.AccountID != cands[1].AccountID {
		t.Fatalf("resolve = %d %+v, want 202 succeeded, one item, account %s", r.Status, res, cands[1].AccountID)
	}
	if acct, mode := mappingOf(t, org); acct != cands[1].AccountID || mode != "linked" {
		t.Errorf("mapping %s/%s, want linked to %s", acct, mode, cands[1].AccountID)
	}
	j := waitJob(t, id, time.Second)
	if j.Counts["review"] != 0 || j.Counts["linked"] != 1 || j.Status != "succeeded" {
		t.Errorf("job after resolve %s %v, want succeeded with the item linked", j.Status, j.Counts)
	}
	if st, p := resolve(id, org, map[string]any{"accountId": cands[0].AccountID}); st != 409 {
		t.Errorf("second resolve = %d %+v, want 409", st, p)
	}
	// The audit log names who linked it, with before and after.
	var audit struct {
		Items []struct {
			Actor, Action, Target string
			Before                *struct{ AccountID string }
			After                 *struct{ AccountID string }
		}
	}
	c.Do(http.MethodGet, "/v1/audit?limit=20", nil).JSON(t, &audit)
	found := false
	for _, e := range audit.Items {
		if strings.HasSuffix(e.Target, "organization/"+org) && e.After != nil && e.After.AccountID == cands[1].AccountID {
			found = strings.HasPrefix(e.Actor, "key/") && e.Before == nil
		}
	}
	if !found {
		t.Errorf("no audit event of the resolve's mapping of %s: %+v", org, audit.Items)
	}
}

func mappingOfOrNone(t *testing.T, org string) (string, string) {
	t.Helper()
	r := api(t).Do(http.MethodGet, base()+"/mappings/"+org, nil)
	if r.Status == 404 {
		return "", ""
	}
	return mappingOf(t, org)
}

// TestAuditAndMe: GET /v1/me says the credential's tenant and role; the
// audit log is the caller's tenant's only, newest first, paged.
func TestAuditAndMe(t *testing.T) {
	c := api(t)
	var me struct{ TenantID, Role string }
	c.Do(http.MethodGet, "/v1/me", nil).JSON(t, &me)
	if me.TenantID != "t_demo" || me.Role != "admin" {
		t.Errorf("me = %+v, want t_demo admin", me)
	}
	other := c.WithKey(otherTenantKey(t))
	other.Do(http.MethodGet, "/v1/me", nil).JSON(t, &me)
	if me.TenantID != "t_console_other" {
		t.Errorf("other tenant's me = %+v", me)
	}
	if r := c.WithKey("").Do(http.MethodGet, "/v1/me", nil); r.Status != 401 {
		t.Errorf("me without a key = %d", r.Status)
	}
	// Two changes, then the log pages newest first.
	org := take(t, "no_match")
	if r := c.Do(http.MethodPut, base()+"/mappings/"+org, map[string]any{"createAccount": map[string]any{}}); r.Status != 200 {
		t.Fatalf("map: %d %s", r.Status, r.Body)
	}
	if r := c.Do(http.MethodDelete, base()+"/mappings/"+org, nil); r.Status != 204 {
		t.Fatalf("unmap: %d %s", r.Status, r.Body)
	}
	// At is a time, not a string: RFC 3339 drops trailing zeros, so
	// "…39.8Z" sorts after "…39.81Z" as text.
	type event struct {
		At                    time.Time
		Actor, Action, Target string
	}
	var page1, page2 struct {
		Items      []event
		NextCursor string
	}
	c.Do(http.MethodGet, "/v1/audit?limit=1", nil).JSON(t, &page1)
	if len(page1.Items) != 1 || page1.NextCursor == "" || page1.Items[0].Action != "mapping.delete" || !strings.HasSuffix(page1.Items[0].Target, "/organization/"+org) {
		t.Fatalf("first page %+v, want the unmap of %s and a cursor", page1, org)
	}
	c.Do(http.MethodGet, "/v1/audit?limit=1&cursor="+page1.NextCursor, nil).JSON(t, &page2)
	if len(page2.Items) != 1 || page2.Items[0].At.After(page1.Items[0].At) || !strings.HasSuffix(page2.Items[0].Target, "/organization/"+org) {
		t.Errorf("second page %+v, want the earlier mapping of %s", page2.Items, org)
	}
	var theirs struct{ Items []event }
	other.Do(http.MethodGet, "/v1/audit", nil).JSON(t, &theirs)
	if len(theirs.Items) != 0 {
		t.Errorf("another tenant sees %d audit events: %+v", len(theirs.Items), theirs.Items)
	}
	if r := other.Do(http.MethodGet, "/v1/audit?cursor="+page1.NextCursor, nil); r.Status != 400 {
		t.Errorf("another tenant's cursor = %d %s, want 400", r.Status, r.Body)
	}
}

// TestOrganizationsMappingFilter: ?mapping= keeps mapped, unmapped, or the
// unmapped organizations several accounts could be; anything else is a 400.
func TestOrganizationsMappingFilter(t *testing.T) {
	c := api(t)
	ambiguous := take(t, "multiple_matches")
	type org struct {
		ID      string
		Mapping *struct{ AccountID string }
	}
	list := func(filter string) []org {
		var out struct{ Items []org }
		r := c.Do(http.MethodGet, base()+"/organizations?limit=500&mapping="+filter, nil)
		if r.Status != 200 {
			t.Fatalf("mapping=%s: %d %s", filter, r.Status, r.Body)
		}
		r.JSON(t, &out)
		return out.Items
	}
	all, mapped, unmapped, review := list(""), list("mapped"), list("unmapped"), list("review")
	if len(mapped)+len(unmapped) != len(all) || len(all) == 0 {
		t.Errorf("%d mapped + %d unmapped != %d", len(mapped), len(unmapped), len(all))
	}
	for _, o := range mapped {
		if o.Mapping == nil {
			t.Errorf("mapped lists unmapped %s", o.ID)
		}
	}
	var unmappedIDs []string
	for _, o := range unmapped {
		if o.Mapping != nil {
			t.Errorf("unmapped lists mapped %s", o.ID)
		}
		unmappedIDs = append(unmappedIDs, o.ID)
	}
	var reviewIDs []string
	for _, o := range review {
		reviewIDs = append(reviewIDs, o.ID)
	}
	if !slices.Contains(reviewIDs, ambiguous) {
		t.Errorf("review lists %v, not %s, which several accounts match", reviewIDs, ambiguous)
	}
	for _, o := range review {
		if !slices.Contains(unmappedIDs, o.ID) {
			t.Errorf("review lists %s, which is mapped", o.ID)
		}
		var m struct{ Outcome string }
		c.Do(http.MethodPost, base()+"/organizations/"+o.ID+"/match", nil).JSON(t, &m)
		if m.Outcome != "multiple_matches" {
			t.Errorf("review lists %s, whose match is %s", o.ID, m.Outcome)
		}
	}
	r := c.Do(http.MethodGet, base()+"/organizations?mapping=maybe", nil)
	var p problem
	r.JSON(t, &p)
	if r.Status != 400 || len(p.Errors) != 1 || p.Errors[0].Field != "mapping" {
		t.Errorf("mapping=maybe = %d %+v, want 400 naming mapping", r.Status, p)
	}
}
