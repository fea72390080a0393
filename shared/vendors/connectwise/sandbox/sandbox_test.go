package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// normalized is the test's company-name normal form: lower case, "&" as
// "and", punctuation dropped, legal suffixes dropped, spaces collapsed.
func normalized(name string) string {
	s := strings.ToLower(name)
	s = strings.ReplaceAll(s, "&", " and ")
	s = regexp.MustCompile(`[^\p{L}\p{N} ]+`).ReplaceAllString(s, "")
	words := strings.Fields(s)
	legal := map[string]bool{"inc": true, "incorporated": true, "llc": true, "ltd": true, "limited": true, "corp": true,
		"corporation": true, "co": true, "company": true, "gmbh": true, "srl": true, "pc": true, "llp": true}
	for len(words) > 1 && legal[words[len(words)-1]] {
		words = words[:len(words)-1]
	}
	return strings.Join(words, " ")
}

func companyNames(s *Server) map[int]string {
	out := map[int]string{}
	for _, c := range s.Companies() {
		out[c.ID] = c.Name
	}
	return out
}

func TestSeedIsDeterministic(t *testing.T) {
	a, b := New(Options{Seed: 9, OrgCount: 25, DeviceCount: 40}), New(Options{Seed: 9, OrgCount: 25, DeviceCount: 40})
	if d := cmp.Diff(a.Companies(), b.Companies()); d != "" {
		t.Errorf("same seed, different companies (-a +b):\n%s", d)
	}
	if d := cmp.Diff(a.Configurations(), b.Configurations()); d != "" {
		t.Errorf("same seed, different configurations (-a +b):\n%s", d)
	}
	if d := cmp.Diff(a.Truth(), b.Truth()); d != "" {
		t.Errorf("same seed, different truth (-a +b):\n%s", d)
	}
	c := New(Options{Seed: 10, OrgCount: 25, DeviceCount: 40})
	if cmp.Equal(a.Companies(), c.Companies()) {
		t.Error("seeds 9 and 10 gave the same companies")
	}
}

// TestSeedRelations checks the answer key against the companies: exact
// copies, variants that normalize to the organization, near-duplicate
// pairs, look-alikes that do not, and organizations left without one.
func TestSeedRelations(t *testing.T) {
	orgs := []string{"Acme, Inc.", "Smith & Sons", "Northwind Traders LLC", "Blue Ridge Dental", "Müller Maschinenbau GmbH",
		"Rossi Costruzioni S.r.l.", "O'Brien Construction", "Summit Accounting Ltd", "Coastal Credit Union", "Maple & Main Bakery",
		"Riverside Law P.C.", "Apex Manufacturing Corp.", "Hilltop Farms", "Beacon Health", "Two Rivers Brewing Co.",
		"Delta Freight", "Keystone Insurance Inc", "Evergreen Realty", "Fairview Pediatrics LLP", "Ironclad Security"}
	for seed := int64(1); seed <= 5; seed++ {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			s := New(Options{Seed: seed, Orgs: orgs})
			names := companyNames(s)
			truth, looks := s.Truth(), s.LookAlikes()
			sum := s.Seed()
			if sum.Exact+sum.Variant+sum.NearDuplicates+sum.NoCompany+sum.LookAlikeOnly != len(orgs) {
				t.Errorf("summary %+v does not account for %d organizations", sum, len(orgs))
			}
			for _, n := range []int{sum.Exact, sum.Variant, sum.NearDuplicates, sum.NoCompany, sum.LookAlikeOnly} {
				if n == 0 {
					t.Errorf("summary %+v lacks a category", sum)
				}
			}
			seen := map[int]string{}
			for _, org := range orgs {
				ids := truth[org]
				for _, id := range append(slices.Clone(ids), looks[org]...) {
					if prev, dup := seen[id]; dup {
						t.Errorf("company %d belongs to both %q and %q", id, prev, org)
					}
					seen[id] = org
				}
				switch len(ids) {
				case 0:
				case 1:
					if got := names[ids[0]]; normalized(got) != normalized(org) {
						t.Errorf("%q: company %q does not normalize to it", org, got)
					}
				case 2:
					a, b := names[ids[0]], names[ids[1]]
					base := normalized(org)
					if a == b || !strings.HasPrefix(normalized(a), firstWords(base)) || !strings.HasPrefix(normalized(b), firstWords(base)) {
						t.Errorf("%q: near-duplicates %q and %q do not both start like it", org, a, b)
					}
				default:
					t.Errorf("%q: %d true companies", org, len(ids))
				}
				for _, id := range looks[org] {
					got := names[id]
					if normalized(got) == normalized(org) || strings.Fields(normalized(got))[0] != strings.Fields(normalized(org))[0] {
						t.Errorf("%q: look-alike %q should share the first word but not the name", org, got)
					}
				}
			}
			variants := 0
			for _, org := range orgs {
				if ids := truth[org]; len(ids) == 1 && names[ids[0]] != org {
					variants++
				}
			}
			if variants != sum.Variant {
				t.Errorf("%d companies differ from their organization's spelling, summary says %d variants", variants, sum.Variant)
			}
		})
	}
}

func firstWords(s string) string {
	w := strings.Fields(s)
	return strings.Join(w[:min(2, len(w))], " ")
}

func TestVariantNormalizes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, name := range append(generateOrgs(rng, 60), "Acme, Inc.", "Smith and Sons", "ABC") {
		for range 5 {
			v := variant(rng, name)
			if v == name || normalized(v) != normalized(name) {
				t.Errorf("variant(%q) = %q (normalized %q vs %q)", name, v, normalized(v), normalized(name))
			}
		}
	}
}

func TestCategoryPlan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 4, 5, 12, 100} {
		plan := categoryPlan(rng, n)
		counts := make([]int, len(categoryWeights))
		for _, c := range plan {
			counts[c]++
		}
		if len(plan) != n {
			t.Errorf("n=%d: plan has %d entries", n, len(plan))
		}
		if n >= 5 && slices.Contains(counts, 0) {
			t.Errorf("n=%d: counts %v miss a category", n, counts)
		}
		if n == 100 && (counts[catExact] != 30 || counts[catNearDuplicate] != 12) {
			t.Errorf("n=100: counts %v, want the weights", counts)
		}
	}
}

func TestDeviceSeeding(t *testing.T) {
	orgs := []string{"Acme", "Contoso", "Northwind", "Fabrikam", "Tailspin", "Wingtip", "Litware", "Proseware"}
	var devs []Device
	for i := range 200 {
		devs = append(devs, Device{ID: fmt.Sprint(9000 + i), Org: orgs[i%len(orgs)], Name: fmt.Sprintf("PC-%03d", i), Serial: fmt.Sprintf("SER%05d", i)})
	}
	s := New(Options{Seed: 3, Orgs: orgs, Devices: devs})
	byID := map[int]Configuration{}
	for _, c := range s.Configurations() {
		byID[c.ID] = c
	}
	sum := s.Seed()
	if sum.LinkedDevices == 0 || sum.SerialOnly == 0 || sum.SerialTies == 0 {
		t.Fatalf("summary %+v lacks a kind of device link", sum)
	}
	for _, d := range devs {
		for _, id := range s.AssetTruth()[d.ID] {
			c := byID[id]
			if c.DeviceIdentifier != d.ID && c.SerialNumber != d.Serial {
				t.Errorf("device %s: configuration %+v matches neither id nor serial", d.ID, c)
			}
			if !slices.Contains(s.Truth()[d.Org], c.CompanyID) {
				t.Errorf("device %s: configuration under company %d, not one of %q's", d.ID, c.CompanyID, d.Org)
			}
		}
	}
}

func TestConditions(t *testing.T) {
	rec := normalize(map[string]any{
		"id": 7, "name": `Smith & Sons "Plumbing" \ Co`, "identifier": "SMITH", "deletedFlag": false, "count": 12.5,
		"status": map[string]any{"id": 1, "name": "Active"}, "site": nil,
		"types":       []any{map[string]any{"id": 1, "name": "Client"}, map[string]any{"id": 4, "name": "Partner"}},
		"_info":       map[string]any{"lastUpdated": "2024-05-01T10:00:00Z"},
		"percentName": "100% Uptime",
	})
	tests := []struct {
		cond    string
		want    bool
		wantErr string
	}{
		{cond: `name="smith & sons \"plumbing\" \\ co"`, want: true},
		{cond: `name = "Smith"`, want: false},
		{cond: `name != "Smith"`, want: true},
		{cond: `name like "smith%"`, want: true},
		{cond: `name like "%\"Plumbing\"%"`, want: true},
		{cond: `name like "Smith"`, want: false},
		{cond: `name like "Smith & Son_ %"`, want: true},
		{cond: `name contains "SONS"`, want: true},
		{cond: `name not like "%dental%"`, want: true},
		{cond: `percentName like "100%"`, want: true},
		{cond: `id=7 and deletedFlag=false`, want: true},
		{cond: `id=8 or identifier="smith"`, want: true},
		{cond: `id=8 or id=9 and id=7`, want: false},
		{cond: `(id=8 or id=7) and status/name="Active"`, want: true},
		{cond: `not (id=7)`, want: false},
		{cond: `id in (1, 2, 7)`, want: true},
		{cond: `id not in (1, 2)`, want: true},
		{cond: `count > 12 and count <= 12.5`, want: true},
		{cond: `types/id=4`, want: true},
		{cond: `types/name="Vendor"`, want: false},
		{cond: `site=null`, want: true},
		{cond: `site/id=5`, want: false},
		{cond: `_info/lastUpdated > [2024-01-01T00:00:00Z]`, want: true},
		{cond: `_info/lastUpdated < [2024-01-01T00:00:00Z]`, want: false},
		{cond: `NAME="x"`, wantErr: `unknown field "NAME"`},
		{cond: `nosuch=1`, wantErr: `unknown field "nosuch"`},
		{cond: `name="open`, wantErr: "unterminated string"},
		{cond: `name ~ "x"`, wantErr: "unexpected character"},
		{cond: `name="x" extra`, wantErr: "unexpected"},
		{cond: `name like 5`, wantErr: "like needs a string"},
		{cond: `(id=7`, wantErr: "expected ')'"},
		{cond: `id=[yesterday]`, wantErr: "invalid date"},
		{cond: `and=1`, wantErr: "expected a field name"},
	}
	for _, tt := range tests {
		t.Run(tt.cond, func(t *testing.T) {
			e, err := parseConditions(tt.cond)
			var got bool
			if err == nil {
				got, err = e.eval(rec)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// call sends a request to a started server with the default credentials
// unless auth says otherwise.
func call(t *testing.T, s *Server, method, path string, header http.Header, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	o := s.Options()
	req.SetBasicAuth(o.CompanyID+"+"+o.PublicKey, o.PrivateKey)
	req.Header.Set("clientId", o.ClientID)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

func started(t *testing.T, opt Options) *Server {
	t.Helper()
	s := New(opt)
	if _, err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestHTTPAnswers(t *testing.T) {
	s := started(t, Options{Seed: 4, OrgCount: 20})
	n := len(s.Companies())
	if st, _, body := call(t, s, "POST", "/service/tickets", nil, `{"summary":"Printer offline","board":{"name":"Help Desk"},"company":{"id":100}}`); st != 201 {
		t.Fatalf("create ticket: %d %s", st, body)
	}
	tests := []struct {
		name, method, path, body string
		header                   http.Header
		status                   int
		code                     string // error body code
		link                     []string
		count                    int // records in a listing answer (-1: not a listing)
	}{
		{name: "no credentials", method: "GET", path: "/company/companies", header: http.Header{"Authorization": {""}}, status: 401, code: "Unauthorized", count: -1},
		{name: "no clientId", method: "GET", path: "/company/companies", header: http.Header{"Clientid": {""}}, status: 401, code: "Unauthorized", count: -1},
		{name: "first page", method: "GET", path: "/company/companies?pageSize=5", status: 200, link: []string{"next", "last"}, count: 5},
		{name: "middle page", method: "GET", path: "/company/companies?pageSize=5&page=2", status: 200, link: []string{"first", "prev", "next", "last"}, count: 5},
		{name: "one big page", method: "GET", path: "/company/companies?pageSize=5000", status: 200, count: n},
		{name: "past the end", method: "GET", path: "/company/companies?pageSize=5&page=99", status: 200, link: []string{"first", "prev"}, count: 0},
		{name: "default page size", method: "GET", path: "/company/companies", status: 200, count: min(n, 25), link: linkIf(n > 25, "next", "last")},
		{name: "forward-only first page", method: "GET", path: "/company/companies?pageSize=5", header: http.Header{"Pagination-Type": {"forward-only"}}, status: 200, link: []string{"next"}, count: 5},
		{name: "forward-only with orderBy", method: "GET", path: "/company/companies?orderBy=name", header: http.Header{"Pagination-Type": {"forward-only"}}, status: 400, code: "InvalidObject", count: -1},
		{name: "bad conditions", method: "GET", path: "/company/companies?conditions=" + urlq(`name="x`), status: 400, code: "InvalidObject", count: -1},
		{name: "unknown condition field", method: "GET", path: "/company/companies?conditions=" + urlq(`foo=1`), status: 400, code: "InvalidObject", count: -1},
		{name: "bad pageSize", method: "GET", path: "/company/companies?pageSize=lots", status: 400, code: "InvalidObject", count: -1},
		{name: "missing company", method: "GET", path: "/company/companies/99999", status: 404, code: "NotFound", count: -1},
		{name: "method not allowed", method: "DELETE", path: "/company/companies/100", status: 405, code: "MethodNotAllowed", count: -1},
		{name: "unknown path", method: "GET", path: "/nothing/here", status: 404, code: "NotFound", count: -1},
		{name: "patch company", method: "PATCH", path: "/company/companies/100", body: `[{"op":"replace","path":"name","value":"Renamed Ltd"},{"op":"replace","path":"status","value":{"name":"Inactive"}},{"op":"replace","path":"customFields","value":[{"id":5,"value":"org-1"}]}]`, status: 200, count: -1},
		{name: "patch unknown field", method: "PATCH", path: "/company/companies/100", body: `[{"op":"replace","path":"favouriteColour","value":"red"}]`, status: 400, code: "InvalidObject", count: -1},
		{name: "patch not an array", method: "PATCH", path: "/company/companies/100", body: `{"name":"x"}`, status: 400, code: "BadRequest", count: -1},
		{name: "company without site", method: "POST", path: "/company/companies", body: `{"name":"New Co","identifier":"NEWCO"}`, status: 400, code: "InvalidObject", count: -1},
		{name: "ticket summary too long", method: "POST", path: "/service/tickets", body: `{"summary":"` + strings.Repeat("x", 101) + `","board":{"id":1},"company":{"id":100}}`, status: 400, code: "InvalidObject", count: -1},
		{name: "note without a flag", method: "POST", path: "/service/tickets/20000/notes", body: `{"text":"x"}`, status: 400, code: "InvalidObject", count: -1},
		{name: "note on a missing ticket", method: "POST", path: "/service/tickets/20999/notes", body: `{"text":"x","detailDescriptionFlag":true}`, status: 404, code: "NotFound", count: -1},
		{name: "status of another board", method: "PATCH", path: "/service/tickets/20000", body: `[{"op":"replace","path":"status","value":{"id":6}}]`, status: 400, code: "InvalidObject", count: -1},
		{name: "close by status name", method: "PATCH", path: "/service/tickets/20000", body: `[{"op":"replace","path":"/status","value":{"name":"Closed (resolved)"}}]`, status: 200, count: -1},
		{name: "audit trail without type", method: "GET", path: "/system/audittrail?id=1", status: 400, code: "InvalidObject", count: -1},
		{name: "count", method: "GET", path: "/company/companies/count", status: 200, count: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, header, body := call(t, s, tt.method, tt.path, tt.header, tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d; body %s", status, tt.status, body)
			}
			if tt.code != "" {
				var e errorBody
				if err := json.Unmarshal(body, &e); err != nil || e.Code != tt.code || e.Message == "" {
					t.Errorf("error body %s, want code %s with a message", body, tt.code)
				}
			}
			if got := rels(header.Get("Link")); !slices.Equal(got, tt.link) {
				t.Errorf("Link rels %v, want %v (%s)", got, tt.link, header.Get("Link"))
			}
			if tt.count >= 0 {
				var items []map[string]any
				if err := json.Unmarshal(body, &items); err != nil || len(items) != tt.count {
					t.Errorf("%d records (%v), want %d", len(items), err, tt.count)
				}
			}
		})
	}
	co := s.Companies()[0]
	if co.Name != "Renamed Ltd" || co.Status != "Inactive" || co.CustomFields[CompanyRefFieldID] != "org-1" {
		t.Errorf("company after PATCH = %+v, want renamed, inactive, with the reference", co)
	}
	if tk := s.Tickets()[0]; !tk.Closed || tk.Status != "Closed (resolved)" {
		t.Errorf("ticket after PATCH = %+v, want closed", tk)
	}
}

func linkIf(ok bool, rels ...string) []string {
	if ok {
		return rels
	}
	return nil
}

func urlq(s string) string {
	return strings.NewReplacer(`"`, "%22", " ", "%20", "=", "%3D").Replace(s)
}

// rels lists the rel values of a Link header, in order.
func rels(link string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`rel="([a-z]+)"`).FindAllStringSubmatch(link, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestLinksWalk follows next links to the end in both paging modes and
// gets every company once.
func TestLinksWalk(t *testing.T) {
	s := started(t, Options{Seed: 5, OrgCount: 30})
	want := len(s.Companies())
	for _, forward := range []bool{false, true} {
		t.Run(fmt.Sprint("forward-only ", forward), func(t *testing.T) {
			h := http.Header{}
			if forward {
				h.Set("pagination-type", "forward-only")
			}
			seen := map[float64]bool{}
			path, pages := "/company/companies?pageSize=4&conditions="+urlq("deletedFlag=false"), 0
			for path != "" {
				_, header, body := call(t, s, "GET", path, h, "")
				var items []map[string]any
				if err := json.Unmarshal(body, &items); err != nil {
					t.Fatal(err)
				}
				for _, it := range items {
					seen[it["id"].(float64)] = true
				}
				pages++
				path = ""
				if m := regexp.MustCompile(`<([^>]+)>; rel="next"`).FindStringSubmatch(header.Get("Link")); m != nil {
					path = strings.TrimPrefix(m[1], s.URL())
				}
			}
			if len(seen) != want || pages != (want+3)/4 {
				t.Errorf("%d companies in %d pages, want %d in %d", len(seen), pages, want, (want+3)/4)
			}
		})
	}
}

func TestRetryAfterHeader(t *testing.T) {
	s := started(t, Options{Seed: 1, RateLimit: 1, RateWindow: 10 * time.Second})
	if st, _, _ := call(t, s, "GET", "/system/info", nil, ""); st != 200 {
		t.Fatalf("first request %d", st)
	}
	st, h, body := call(t, s, "GET", "/system/info", nil, "")
	if st != 429 || h.Get("Retry-After") == "" || !strings.Contains(string(body), "TooManyRequests") {
		t.Fatalf("second request %d Retry-After %q body %s; want 429 with a wait", st, h.Get("Retry-After"), body)
	}
	s.ThrottleNext(1, 250*time.Millisecond)
	if _, h, _ := call(t, s, "GET", "/system/info", nil, ""); h.Get("Retry-After") != "0.250" {
		t.Errorf("Retry-After %q, want 0.250", h.Get("Retry-After"))
	}
}

func TestRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{Seed: 1}, addr) }()
	var status int
	for range 50 {
		req, _ := http.NewRequest("GET", "http://"+addr+BasePath+"/system/info", nil)
		req.SetBasicAuth(DefaultCompanyID+"+"+DefaultPublicKey, DefaultPrivateKey)
		req.Header.Set("clientId", DefaultClientID)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			status = resp.StatusCode
			resp.Body.Close()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil || status != 200 {
		t.Errorf("Run = %v with a request answered %d; want nil and 200", err, status)
	}
}

// TestReopenByStatusPatch: a closed ticket patched to an open status of
// its board is open again (closedFlag false, closedDate and closedBy
// cleared) and the audit trail records the change, as ReopenTicket needs.
func TestReopenByStatusPatch(t *testing.T) {
	s := started(t, Options{Seed: 4, OrgCount: 3})
	st, _, body := call(t, s, "POST", "/service/tickets", nil, `{"summary":"Disk full","board":{"name":"Help Desk"},"company":{"id":100}}`)
	if st != 201 {
		t.Fatalf("create ticket: %d %s", st, body)
	}
	var tk struct {
		ID int `json:"id"`
	}
	if err := json.Unmarshal(body, &tk); err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/service/tickets/%d", tk.ID)
	for _, status := range []string{"Closed (resolved)", "New"} {
		if st, _, body := call(t, s, "PATCH", path, nil, `[{"op":"replace","path":"status","value":{"name":"`+status+`"}}]`); st != 200 {
			t.Fatalf("PATCH status %s: %d %s", status, st, body)
		}
	}
	_, _, body = call(t, s, "GET", path, nil, "")
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got["closedFlag"] != false || got["closedDate"] != nil || got["closedBy"] != nil || objOf(got["status"])["name"] != "New" {
		t.Errorf("reopened ticket: closedFlag %v closedDate %v closedBy %v status %v; want open on New with no close", got["closedFlag"], got["closedDate"], got["closedBy"], got["status"])
	}
	_, _, body = call(t, s, "GET", fmt.Sprintf("/system/audittrail?type=Ticket&id=%d", tk.ID), nil, "")
	if !strings.Contains(string(body), `Status changed from \"Closed (resolved)\" to \"New\"`) {
		t.Errorf("audit trail %s does not record the reopen", body)
	}
}
