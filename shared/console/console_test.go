package console

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"
)

func serve(t *testing.T, c *Console, routeKey, proxy string, headers map[string]string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	ev := events.APIGatewayV2HTTPRequest{RouteKey: routeKey, Headers: headers}
	if proxy != "" {
		ev.PathParameters = map[string]string{"proxy": proxy}
	}
	resp, err := c.Serve(context.Background(), ev)
	if err != nil {
		t.Fatalf("Serve(%s %q): %v", routeKey, proxy, err)
	}
	return resp
}

func newConsole(t *testing.T) *Console {
	t.Helper()
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestServe checks what each kind of request answers, and that every
// answer — a 404 and a 304 included — carries the security headers.
func TestServe(t *testing.T) {
	c := newConsole(t)
	index := serve(t, c, IndexRoute, "", nil)
	tests := []struct {
		name, route, proxy string
		headers            map[string]string
		wantStatus         int
		wantType           string
		wantBody           string
	}{
		{"index", IndexRoute, "", nil, 200, "text/html; charset=utf-8", `<script type="module" src="/console/app.js">`},
		{"module", AssetsRoute, "app.js", nil, 200, "text/javascript; charset=utf-8", "import "},
		{"nested module", AssetsRoute, "screens/accounts.js", nil, 200, "text/javascript; charset=utf-8", "export function accountsScreen"},
		{"style", AssetsRoute, "style.css", nil, 200, "text/css; charset=utf-8", ":root"},
		{"catalogue", AssetsRoute, "i18n/it.json", nil, 200, "application/json; charset=utf-8", `"nav.accounts": "Account"`},
		{"icon", AssetsRoute, "favicon.svg", nil, 200, "image/svg+xml", "<svg"},
		{"unknown file", AssetsRoute, "nope.js", nil, 404, "text/plain; charset=utf-8", "not found"},
		{"dot segments", AssetsRoute, "../console.go", nil, 404, "", "not found"},
		{"inner dot segments", AssetsRoute, "screens/../app.js", nil, 404, "", "not found"},
		{"hidden name", AssetsRoute, ".env", nil, 404, "", "not found"},
		{"absolute", AssetsRoute, "/etc/passwd", nil, 404, "", "not found"},
		{"backslash", AssetsRoute, `screens\accounts.js`, nil, 404, "", "not found"},
		{"directory", AssetsRoute, "screens", nil, 404, "", "not found"},
		{"empty", AssetsRoute, "", nil, 404, "", "not found"},
		{"other route", "GET /v1/health", "", nil, 404, "", "not found"},
		{"revalidated", IndexRoute, "", map[string]string{"If-None-Match": index.Headers["etag"]}, 304, "", ""},
		{"weak and listed etag", IndexRoute, "", map[string]string{"if-none-match": `"x", W/` + index.Headers["etag"]}, 304, "", ""},
		{"stale etag", IndexRoute, "", map[string]string{"if-none-match": `"0000"`}, 200, "text/html; charset=utf-8", "<!doctype html>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := serve(t, c, tc.route, tc.proxy, tc.headers)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantType != "" && resp.Headers["content-type"] != tc.wantType {
				t.Errorf("content-type = %q, want %q", resp.Headers["content-type"], tc.wantType)
			}
			if !strings.Contains(resp.Body, tc.wantBody) {
				t.Errorf("body does not contain %q:\n%.300s", tc.wantBody, resp.Body)
			}
			if tc.wantStatus == 304 && resp.Body != "" {
				t.Errorf("a 304 has a body: %q", resp.Body)
			}
			for k, v := range SecurityHeaders() {
				if resp.Headers[k] != v {
					t.Errorf("header %s = %q, want %q", k, resp.Headers[k], v)
				}
			}
		})
	}
}

// TestCSPIsStrict pins the policy's important parts: no inline or eval'd
// script, nothing from another origin, no framing.
func TestCSPIsStrict(t *testing.T) {
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(CSP, want) {
			t.Errorf("CSP lacks %q: %s", want, CSP)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "http:", "https:", "*", "data:"} {
		if strings.Contains(CSP, bad) {
			t.Errorf("CSP allows %q: %s", bad, CSP)
		}
	}
}

// TestNoInlineCodeOrRemoteResources reads every served file: the CSP
// would block inline script, inline style and handlers, and the console
// must need nothing from another origin at run time (no CDN, no remote
// font); markup is built with DOM calls, never from HTML strings.
func TestNoInlineCodeOrRemoteResources(t *testing.T) {
	c := newConsole(t)
	inlineScript := regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`)
	rules := []struct {
		name string
		re   *regexp.Regexp
		ext  string
	}{
		{"inline script", inlineScript, ".html"},
		{"style attribute", regexp.MustCompile(`(?i)\sstyle\s*=`), ".html"},
		{"inline handler", regexp.MustCompile(`(?i)\son[a-z]+\s*=\s*["']`), ".html"},
		{"remote URL", regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//`), ""},
		{"CSS import or remote font", regexp.MustCompile(`(?i)@import|@font-face|url\(\s*["']?(https?:)?//`), ".css"},
		{"innerHTML", regexp.MustCompile(`\.(inner|outer)HTML\b|insertAdjacentHTML|document\.write`), ".js"},
		{"eval", regexp.MustCompile(`\beval\(|new Function\(`), ".js"},
		{"token in URL", regexp.MustCompile(`[?&](token|key|apiKey|access_token)=`), ".js"},
	}
	for _, p := range c.Files() {
		body := fileBody(t, c, p)
		for _, r := range rules {
			if r.ext != "" && !strings.HasSuffix(p, r.ext) {
				continue
			}
			if loc := r.re.FindStringIndex(body); loc != nil {
				t.Errorf("%s: %s at %q", p, r.name, body[loc[0]:min(loc[1]+30, len(body))])
			}
		}
	}
}

// TestCataloguesAgree checks the English and Italian catalogues: the same
// keys, no empty string, the same {placeholders}; and every key the code
// uses exists (keys built from a prefix are listed in dynamicKeys).
func TestCataloguesAgree(t *testing.T) {
	c := newConsole(t)
	load := func(lang string) map[string]string {
		var m map[string]string
		if err := json.Unmarshal([]byte(fileBody(t, c, "i18n/"+lang+".json")), &m); err != nil {
			t.Fatalf("i18n/%s.json: %v", lang, err)
		}
		return m
	}
	en, it := load("en"), load("it")
	if diff := cmp.Diff(keys(en), keys(it)); diff != "" {
		t.Errorf("catalogue keys (-en +it):\n%s", diff)
	}
	ph := regexp.MustCompile(`\{\w+\}`)
	for k, v := range en {
		if v == "" || it[k] == "" {
			t.Errorf("%s: empty string (en %q, it %q)", k, v, it[k])
		}
		a, b := ph.FindAllString(v, -1), ph.FindAllString(it[k], -1)
		sort.Strings(a)
		sort.Strings(b)
		if !cmp.Equal(a, b) && it[k] != "" {
			t.Errorf("%s: placeholders en %v, it %v", k, a, b)
		}
	}
	used := regexp.MustCompile(`(?:^|[^\w.])t\('([\w.]+)'`)
	dyn := map[string]bool{}
	for _, p := range c.Files() {
		if !strings.HasSuffix(p, ".js") {
			continue
		}
		for _, m := range used.FindAllStringSubmatch(fileBody(t, c, p), -1) {
			k := m[1]
			if strings.HasSuffix(k, ".") {
				dyn[k] = true
				continue
			}
			if _, ok := en[k]; !ok {
				t.Errorf("%s uses %q, which the catalogues lack", p, k)
			}
		}
	}
	for prefix, suffixes := range dynamicKeys {
		delete(dyn, prefix)
		for _, s := range suffixes {
			if _, ok := en[prefix+s]; !ok {
				t.Errorf("catalogues lack %q", prefix+s)
			}
		}
	}
	for k := range dyn {
		t.Errorf("the code builds keys from %q; list its suffixes in dynamicKeys", k)
	}
	for _, s := range []string{"accounts", "alerts", "assets", "audit", "connections", "imports", "integrations", "users"} {
		if _, ok := en["nav."+s]; !ok {
			t.Errorf("catalogues lack nav.%s", s)
		}
	}
}

// dynamicKeys are the keys the code builds from a prefix and an API value.
var dynamicKeys = map[string][]string{
	"accounts.empty.":  {"all", "mapped", "unmapped", "review"},
	"accounts.filter.": {"all", "mapped", "unmapped", "review"},
	"accounts.mode.":   {"linked", "created"},
	"alerts.tab.":      {"all", "open", "closed", "unroutable"},
	"imports.action.":  {"create", "link", "update", "unchanged", "skip", "review"},
	"imports.count.":   {"created", "linked", "updated", "unchanged", "skipped", "failed", "review"},
	"imports.kind.":    {"organizations", "assets"},
	"imports.status.":  {"queued", "running", "succeeded", "partial", "failed"},
	"role.":            {"viewer", "operator", "admin"},
	"severity.":        {"critical", "major", "moderate", "minor", "none"},
	"signin.reason.":   {"expired"},
	"status.":          {"ok", "failed"},
	"users.result.":    {"created", "would_create", "refused", "failed"},
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// providerInfo is what openapi.yaml does not say about a provider: its
// kind, display name and an example base URL.
var providerInfo = map[string]struct{ kind, label, example string }{
	"ninjaone":    {"rmm", "NinjaOne", "https://app.ninjarmm.com"},
	"dattormm":    {"rmm", "Datto RMM", "https://pinotage-api.centrastage.net"},
	"tacticalrmm": {"rmm", "Tactical RMM", "https://api.example.com"},
	"connectwise": {"psa", "ConnectWise PSA", "https://api-na.myconnectwise.net/v4_6_release/apis/3.0"},
	"autotask":    {"psa", "Autotask", "https://webservices2.autotask.net/atservicesrest"},
	"halopsa":     {"psa", "HaloPSA", "https://yourcompany.halopsa.com"},
}

// secretField says which credential fields are secrets (a password input,
// never echoed) by name, besides those openapi.yaml marks format:
// password (Tactical RMM's apiKey).
var secretField = regexp.MustCompile(`(?i)secret|private|password`)

type consoleProvider struct {
	Kind           string          `json:"kind"`
	Label          string          `json:"label"`
	BaseURLExample string          `json:"baseUrlExample"`
	Fields         []consoleCredit `json:"fields"`
}

type consoleCredit struct {
	Name     string `json:"name"`
	Required bool   `json:"required"`
	Secret   bool   `json:"secret"`
}

// TestProvidersMatchOpenAPI checks that static/providers.json, the
// credential fields the connection form shows for each provider, is what
// openapi.yaml's per-provider credential schemas say. Run with
// UPDATE_CONSOLE_PROVIDERS=1 to rewrite it.
func TestProvidersMatchOpenAPI(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join("..", "..", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	enum := doc.Components.Schemas["Provider"].Value.Enum
	want := map[string]consoleProvider{}
	for _, ref := range doc.Components.Schemas["Credentials"].Value.AnyOf {
		name := strings.TrimPrefix(ref.Ref, "#/components/schemas/")
		id := strings.ToLower(strings.TrimSuffix(name, "Credentials"))
		info, ok := providerInfo[id]
		if !ok {
			t.Fatalf("openapi.yaml credential schema %s is for provider %q, which providerInfo lacks", name, id)
		}
		p := consoleProvider{Kind: info.kind, Label: info.label, BaseURLExample: info.example}
		s := ref.Value
		for _, f := range keys(s.Properties) {
			p.Fields = append(p.Fields, consoleCredit{Name: f, Required: contains(s.Required, f), Secret: s.Properties[f].Value.Format == "password" || secretField.MatchString(f)})
		}
		sort.SliceStable(p.Fields, func(i, j int) bool { return p.Fields[i].Required && !p.Fields[j].Required })
		want[id] = p
	}
	if len(want) != len(enum) {
		t.Errorf("%d credential schemas for %d providers %v", len(want), len(enum), enum)
	}
	path := filepath.Join("static", "providers.json")
	if os.Getenv("UPDATE_CONSOLE_PROVIDERS") != "" {
		b, _ := json.MarshalIndent(want, "", " ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var got map[string]consoleProvider
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s (-openapi.yaml +file); rerun with UPDATE_CONSOLE_PROVIDERS=1:\n%s", path, diff)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// fileBody is the served body of a listed file.
func fileBody(t *testing.T, c *Console, p string) string {
	t.Helper()
	f, ok, err := c.lookup(p)
	if err != nil || !ok {
		t.Fatalf("%s: listed but not served (found %v, %v)", p, ok, err)
	}
	return f.body
}
