package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	cwsandbox "github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
)

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func start(t *testing.T, opt Options) *Server {
	t.Helper()
	s := New(opt)
	if _, err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// call sends one request with the default credentials unless hdr
// overrides them.
func call(t *testing.T, s *Server, method, path string, body any, hdr map[string]string) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	u := path
	if !strings.HasPrefix(path, "http") {
		u = s.URL() + path
	}
	req, _ := http.NewRequest(method, u, rd)
	o := s.Options()
	req.Header.Set("ApiIntegrationCode", o.IntegrationCode)
	req.Header.Set("UserName", o.Username)
	req.Header.Set("Secret", o.Secret)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func errorsOf(a answer) []string {
	var out []string
	for _, e := range a.body["errors"].([]any) {
		out = append(out, e.(string))
	}
	return out
}

func TestZoneLookupAndCredentials(t *testing.T) {
	s := start(t, Options{Seed: 1, OrgCount: 3})
	z := call(t, s, "GET", "/V1.0/zoneInformation?user="+url.QueryEscape(DefaultUsername), nil, map[string]string{"Secret": ""})
	if z.status != 200 || z.body["url"] != s.URL()+"/" {
		t.Errorf("zone lookup = %d %v, want this server's root", z.status, z.body)
	}
	for _, tc := range []struct {
		name   string
		hdr    map[string]string
		status int
		want   string
	}{
		{"unknown user in the zone lookup", nil, 500, "Zone information could not be determined"},
		{"unknown user", map[string]string{"UserName": "nobody@msp.example"}, 500, "Zone information could not be determined"},
		{"wrong integration code", map[string]string{"ApiIntegrationCode": "WRONG"}, 500, "IntegrationCode is invalid."},
		{"wrong secret", map[string]string{"Secret": "wrong"}, 401, "Authentication failed: the user name or secret is not valid."},
	} {
		path := "/V1.0/Companies/entityInformation"
		if tc.hdr == nil {
			path = "/V1.0/ZoneInformation?user=nobody"
		}
		a := call(t, s, "GET", path, nil, tc.hdr)
		if a.status != tc.status || !cmp.Equal(errorsOf(a), []string{tc.want}) {
			t.Errorf("%s: %d %v, want %d %q", tc.name, a.status, a.body, tc.status, tc.want)
		}
	}
}

func TestQueryFiltersPagesAndCounts(t *testing.T) {
	s := start(t, Options{Seed: 1, OrgCount: 3})
	var ids []int
	for i := range 1203 {
		ref := ""
		if i%100 == 0 {
			ref = "org-" + string(rune('a'+i/100))
		}
		id, err := s.AddCompany(NewCompany{Name: "Paging Co " + string(rune('A'+i%26)), RMMReference: ref, Inactive: i%2 == 1})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	q := map[string]any{"filter": []any{map[string]any{"op": "beginsWith", "field": "CompanyName", "value": "paging co"}}, "IncludeFields": []string{"id", "companyName"}}
	var got []float64
	next, pages := "", 0
	for {
		var a answer
		if next == "" {
			a = call(t, s, "POST", "/V1.0/Companies/query", q, nil)
		} else {
			a = call(t, s, "GET", next, nil, nil)
		}
		if a.status != 200 {
			t.Fatalf("page %d: %d %v", pages, a.status, a.body)
		}
		pages++
		items := a.body["items"].([]any)
		if len(items) > PageSize {
			t.Fatalf("a page of %d", len(items))
		}
		for _, it := range items {
			m := it.(map[string]any)
			if len(m) != 2 {
				t.Fatalf("IncludeFields ignored: %v", m)
			}
			got = append(got, m["id"].(float64))
		}
		n, _ := a.body["pageDetails"].(map[string]any)["nextPageUrl"].(string)
		if n == "" {
			break
		}
		next = n
	}
	if pages != 3 || len(got) != 1203 || int(got[0]) != ids[0] || int(got[1202]) != ids[1202] {
		t.Errorf("%d pages, %d companies (first %v), want 3 pages and 1203", pages, len(got), got[:1])
	}

	count := func(filter ...any) int {
		t.Helper()
		a := call(t, s, "POST", "/V1.0/Companies/query/count", map[string]any{"filter": filter}, nil)
		if a.status != 200 {
			t.Fatalf("count %v: %d %v", filter, a.status, a.body)
		}
		return int(a.body["queryCount"].(float64))
	}
	f := func(op, field string, v any) map[string]any {
		return map[string]any{"op": op, "field": field, "value": v}
	}
	for _, tc := range []struct {
		name   string
		filter []any
		want   int
	}{
		{"contains, any case", []any{f("contains", "companyname", "ING CO z")}, 46},
		{"eq on a boolean and a name", []any{f("eq", "isActive", false), f("eq", "companyName", "paging co b")}, 47},
		{"or group", []any{map[string]any{"op": "or", "items": []any{f("eq", "companyName", "Paging Co A"), f("eq", "companyName", "Paging Co B")}}}, 94},
		{"in", []any{f("in", "id", []any{ids[0], ids[5], 1})}, 2},
		{"UDF eq", []any{map[string]any{"op": "eq", "field": CompanyRefUDF, "value": "org-c", "udf": true}}, 1},
		{"UDF exist", []any{map[string]any{"op": "exist", "field": CompanyRefUDF, "udf": true}}, 13},
	} {
		if n := count(tc.filter...); n != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, n, tc.want)
		}
	}
	for _, bad := range []map[string]any{{"filter": []any{}}, {"filter": []any{f("eq", "nosuchfield", 1)}}, {"filter": []any{f("like", "companyName", "x")}}} {
		if a := call(t, s, "POST", "/V1.0/Companies/query", bad, nil); a.status != 500 || len(errorsOf(a)) != 1 {
			t.Errorf("query %v: %d %v, want 500 with errors[]", bad, a.status, a.body)
		}
	}
}

func TestWritesChildCreatesAndMetadata(t *testing.T) {
	s := start(t, Options{Seed: 1, OrgCount: 3})
	co := call(t, s, "POST", "/V1.0/Companies", map[string]any{"companyName": "New Co", "companyType": 1, "isActive": true,
		"ownerResourceID": DemoOwnerResourceID, "userDefinedFields": []any{map[string]any{"name": CompanyRefUDF, "value": "org-9"}}}, nil)
	if co.status != 200 || co.body["itemId"] == nil {
		t.Fatalf("create company: %d %v", co.status, co.body)
	}
	id := int(co.body["itemId"].(float64))
	missing := call(t, s, "POST", "/V1.0/Companies", map[string]any{"companyName": "No Type", "isActive": true, "ownerResourceID": DemoOwnerResourceID}, nil)
	if missing.status != 500 || !strings.Contains(strings.Join(errorsOf(missing), ";"), "companyType is a required field") {
		t.Errorf("create without companyType: %d %v", missing.status, missing.body)
	}
	loc := call(t, s, "POST", "/V1.0/Companies/"+itoa(id)+"/Locations", map[string]any{"name": "Annex"}, nil)
	if loc.status != 200 {
		t.Fatalf("child create: %d %v", loc.status, loc.body)
	}
	list := call(t, s, "GET", "/V1.0/Companies/"+itoa(id)+"/Locations", nil, nil)
	if items := list.body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["name"] != "Annex" || items[0].(map[string]any)["companyID"] != float64(id) {
		t.Errorf("locations = %v", list.body)
	}
	if a := call(t, s, "POST", "/V1.0/Companies/987654/Locations", map[string]any{"name": "X"}, nil); a.status != 404 {
		t.Errorf("child of a missing company: %d", a.status)
	}
	if a := call(t, s, "GET", "/V1.0/Companies/987654", nil, nil); a.status != 404 || len(errorsOf(a)) != 1 {
		t.Errorf("missing company: %d %v", a.status, a.body)
	}
	fields := call(t, s, "GET", "/V1.0/Tickets/entityInformation/fields", nil, nil)
	var status map[string]any
	for _, f := range fields.body["fields"].([]any) {
		if m := f.(map[string]any); m["name"] == "status" {
			status = m
		}
	}
	if status == nil || status["isRequired"] != true || status["isPickList"] != true || len(status["picklistValues"].([]any)) != len(ticketStatus) {
		t.Errorf("ticket status field = %v", status)
	}
	udfs := call(t, s, "GET", "/V1.0/ConfigurationItems/entityInformation/userDefinedFields", nil, nil)
	if f := udfs.body["fields"].([]any); len(f) != 2 || f[0].(map[string]any)["name"] != DeviceRefUDF {
		t.Errorf("CI UDFs = %v", udfs.body)
	}
}

func TestThresholdLatencyAndRefusal(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := start(t, Options{Seed: 1, OrgCount: 2, Threshold: 10, ThresholdLatency: 150 * time.Millisecond, Now: clock})
	timed := func() (answer, time.Duration) {
		st := time.Now()
		a := call(t, s, "GET", "/V1.0/ThresholdInformation", nil, nil)
		return a, time.Since(st)
	}
	for i := 1; i <= 10; i++ {
		a, d := timed()
		if a.status != 200 || a.body["currentTimeframeRequestCount"] != float64(i) || a.body["externalRequestThreshold"] != float64(10) {
			t.Fatalf("request %d: %d %v", i, a.status, a.body)
		}
		if slow := d >= 150*time.Millisecond; slow != (i > 5) {
			t.Errorf("request %d of 10 took %v: latency is added past half the threshold only", i, d)
		}
	}
	a, _ := timed()
	if a.status != 429 || !strings.Contains(errorsOf(a)[0], "threshold") || a.header.Get("Retry-After") != "3600" {
		t.Errorf("request 11 of 10: %d %v (Retry-After %q)", a.status, a.body, a.header.Get("Retry-After"))
	}
	if z := call(t, s, "GET", "/V1.0/ZoneInformation?user="+url.QueryEscape(DefaultUsername), nil, nil); z.status != 200 {
		t.Errorf("zone lookups are exempt: %d", z.status)
	}
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	if a, _ := timed(); a.status != 200 || a.body["currentTimeframeRequestCount"] != float64(1) {
		t.Errorf("an hour later: %d %v", a.status, a.body)
	}
}

func TestFourthConcurrentRequestOnAnEndpointIsRefused(t *testing.T) {
	// Past half the threshold every request is held for the added
	// latency, inside the limiter: three are in flight at once.
	s := start(t, Options{Seed: 1, OrgCount: 2, Threshold: 1000, ThresholdLatency: 400 * time.Millisecond})
	s.UseRequests(600)
	var wg sync.WaitGroup
	statuses := make([]int, 3)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = call(t, s, "GET", "/V1.0/Companies/entityInformation", nil, nil).status
		}()
	}
	time.Sleep(150 * time.Millisecond)
	fourth := call(t, s, "GET", "/V1.0/Companies/entityInformation", nil, nil)
	other := call(t, s, "GET", "/V1.0/Tickets/entityInformation", nil, nil)
	wg.Wait()
	if !cmp.Equal(statuses, []int{200, 200, 200}) || fourth.status != 429 || !strings.Contains(errorsOf(fourth)[0], "thread limit") || other.status != 200 {
		t.Errorf("three held: %v; the fourth: %d %v; another endpoint: %d", statuses, fourth.status, fourth.body, other.status)
	}
	if n := s.MaxConcurrent("Companies"); n != 3 {
		t.Errorf("max concurrent on Companies = %d, want 3", n)
	}
}

// TestCompaniesRelateLikeConnectWise: the same options give the same
// organizations, company names and answer key as the ConnectWise sandbox.
func TestCompaniesRelateLikeConnectWise(t *testing.T) {
	orgs := []string{"Acme, Inc.", "Northwind Traders", "Contoso Ltd", "Smith & Sons LLC", "Blue Ridge Dental", "Harbor Logistics", "Riverside Law", "Apex Manufacturing"}
	at := New(Options{Seed: 42, Orgs: orgs})
	cw := cwsandbox.New(cwsandbox.Options{Seed: 42, Orgs: orgs})
	names := func(ids []int, byID map[int]string) []string {
		var out []string
		for _, id := range ids {
			out = append(out, byID[id])
		}
		return out
	}
	atNames, cwNames := map[int]string{}, map[int]string{}
	for _, c := range at.Companies() {
		atNames[c.ID] = c.Name
	}
	for _, c := range cw.Companies() {
		cwNames[c.ID] = c.Name
	}
	if len(atNames) != len(cwNames) || len(atNames) == 0 {
		t.Fatalf("%d Autotask companies, %d ConnectWise ones", len(atNames), len(cwNames))
	}
	for _, org := range orgs {
		if d := cmp.Diff(names(cw.Truth()[org], cwNames), names(at.Truth()[org], atNames)); d != "" {
			t.Errorf("truth of %q (-connectwise +autotask):\n%s", org, d)
		}
		if d := cmp.Diff(names(cw.LookAlikes()[org], cwNames), names(at.LookAlikes()[org], atNames)); d != "" {
			t.Errorf("look-alikes of %q (-connectwise +autotask):\n%s", org, d)
		}
	}
	if at.Seed().Relations != cw.Seed() {
		t.Errorf("relations %+v, ConnectWise %+v", at.Seed().Relations, cw.Seed())
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestClumsyAndHostileRequests: malformed bodies, out-of-range paging,
// oversized conditions, unknown properties, bad picklist values and
// cross-company references are refused with errors[], and change nothing.
func TestClumsyAndHostileRequests(t *testing.T) {
	s := start(t, Options{Seed: 1, OrgCount: 3})
	cos := s.Companies()
	a, b := cos[0], cos[1]
	before := len(s.ConfigurationItems())
	f := func(op, field string, v any) map[string]any {
		return map[string]any{"op": op, "field": field, "value": v}
	}
	deep := any(f("eq", "id", 1))
	for range 12 {
		deep = map[string]any{"op": "and", "items": []any{deep}}
	}
	many := make([]any, 501)
	for i := range many {
		many[i] = i
	}
	var locB int
	for _, l := range call(t, s, "GET", "/V1.0/Companies/"+itoa(b.ID)+"/Locations", nil, nil).body["items"].([]any) {
		locB = int(l.(map[string]any)["id"].(float64))
	}
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		want               string
	}{
		{"query body not JSON", "POST", "/V1.0/Companies/query", "{not json", 500, "body must be a JSON object"},
		{"MaxRecords over 500", "POST", "/V1.0/Companies/query", map[string]any{"filter": []any{f("exist", "id", nil)}, "MaxRecords": 501}, 500, "MaxRecords"},
		{"filter nesting too deep", "POST", "/V1.0/Companies/query", map[string]any{"filter": []any{deep}}, 500, "nest at most 10 deep"},
		{"in with 501 values", "POST", "/V1.0/Companies/query", map[string]any{"filter": []any{f("in", "id", many)}}, 500, "at most 500"},
		{"in without an array", "POST", "/V1.0/Companies/query", map[string]any{"filter": []any{f("in", "id", 5)}}, 500, "needs an array"},
		{"unknown UDF filter", "POST", "/V1.0/Companies/query", map[string]any{"filter": []any{map[string]any{"op": "eq", "field": "Nope", "value": "x", "udf": true}}}, 500, "UserDefinedFields"},
		{"unknown property", "POST", "/V1.0/ConfigurationItems", map[string]any{"companyID": a.ID, "configurationItemType": 1, "productID": 101, "isActive": true, "hostname": "x"}, 500, "Unable to find property hostname"},
		{"picklist value", "POST", "/V1.0/ConfigurationItems", map[string]any{"companyID": a.ID, "configurationItemType": 77, "productID": 101, "isActive": true}, 500, "not a valid picklist value"},
		{"another company's location", "POST", "/V1.0/ConfigurationItems", map[string]any{"companyID": a.ID, "companyLocationID": locB, "configurationItemType": 1, "productID": 101, "isActive": true}, 500, "companyLocationID"},
		{"unknown product", "POST", "/V1.0/ConfigurationItems", map[string]any{"companyID": a.ID, "configurationItemType": 1, "productID": 999, "isActive": true}, 500, "productID 999"},
		{"title too long", "POST", "/V1.0/ConfigurationItems", map[string]any{"companyID": a.ID, "configurationItemType": 1, "productID": 101, "isActive": true, "referenceTitle": strings.Repeat("x", 201)}, 500, "maximum length of 200"},
		{"wrong type", "POST", "/V1.0/ConfigurationItems", map[string]any{"companyID": "1", "configurationItemType": 1, "productID": 101, "isActive": "yes"}, 500, "must be"},
		{"patch without id", "PATCH", "/V1.0/ConfigurationItems", map[string]any{"referenceTitle": "x"}, 404, "not found"},
		{"id that is not a number", "GET", "/V1.0/Companies/1%20OR%201=1", nil, 404, "not found"},
		{"unknown entity", "GET", "/V1.0/Contracts/1", nil, 404, "No resource"},
		{"wrong version", "GET", "/V2.0/Companies/1", nil, 404, "No resource"},
	} {
		var body any = tc.body
		if s, ok := tc.body.(string); ok {
			body = json.RawMessage(s)
		}
		var ans answer
		if raw, ok := body.(json.RawMessage); ok {
			ans = callRaw(t, s, tc.method, tc.path, raw)
		} else {
			ans = call(t, s, tc.method, tc.path, body, nil)
		}
		if ans.status != tc.status || !strings.Contains(strings.Join(errorsOf(ans), ";"), tc.want) {
			t.Errorf("%s: %d %v, want %d with %q", tc.name, ans.status, ans.body, tc.status, tc.want)
		}
	}
	if n := len(s.ConfigurationItems()); n != before {
		t.Errorf("%d configuration items after refused creates, want %d", n, before)
	}
}

// callRaw sends a raw body.
func callRaw(t *testing.T, s *Server, method, path string, raw []byte) answer {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL()+path, bytes.NewReader(raw))
	o := s.Options()
	req.Header.Set("ApiIntegrationCode", o.IntegrationCode)
	req.Header.Set("UserName", o.Username)
	req.Header.Set("Secret", o.Secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header}
	_ = json.Unmarshal(b, &a.body)
	return a
}

// TestSetThresholdAndRequestTimes covers the benchmark's measurement
// hooks: a raised threshold is what ThresholdInformation reports and what
// the limit applies, and every logged request carries its arrival and
// answer times.
func TestSetThresholdAndRequestTimes(t *testing.T) {
	s := start(t, Options{Seed: 1, OrgCount: 2, Threshold: 2})
	s.SetThreshold(72000)
	before := time.Now()
	for i := 1; i <= 3; i++ {
		a := call(t, s, "GET", "/V1.0/ThresholdInformation", nil, nil)
		if a.status != 200 || a.body["externalRequestThreshold"] != float64(72000) {
			t.Fatalf("request %d after SetThreshold(72000): %d %v", i, a.status, a.body)
		}
	}
	co := s.Companies()[0].ID
	if a := call(t, s, "POST", "/V1.0/Tickets", map[string]any{"companyID": co, "title": "Disk full", "status": 1, "priority": 2, "queueID": 8, "externalID": "series-1"}, nil); a.status != 200 {
		t.Fatalf("create ticket: %d %v", a.status, a.body)
	}
	tickets := s.Tickets()
	tk := tickets[len(tickets)-1]
	if tk.ExternalID != "series-1" || tk.Created.Before(before.Truncate(time.Millisecond)) || time.Since(tk.Created) < 0 {
		t.Errorf("new ticket %+v: Created should be its createDate, after %v", tk, before)
	}
	for _, r := range s.Requests() {
		if r.Start.Before(before) || r.End.Before(r.Start) || time.Since(r.End) < 0 {
			t.Errorf("%s %s: start %v, end %v (test began %v)", r.Method, r.Path, r.Start, r.End, before)
		}
	}
}
