package registry

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/rmmbridge/rmmbridge/shared/limits"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// TestSpecsOpenClientsMatchingTheirCapabilities: the list builds a catalog
// (every spec valid, names unique), and every spoken vendor's opener gives
// a client of its kind that implements the role of every capability it
// declares (opening makes no request).
func TestSpecsOpenClientsMatchingTheirCapabilities(t *testing.T) {
	cat, err := vendorspec.NewCatalog(Specs()...)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"autotask", "connectwise", "dattormm", "halopsa", "ninjaone", "tacticalrmm"}, cat.Names()); diff != "" {
		t.Errorf("vendors (-want +got):\n%s", diff)
	}
	for _, v := range cat.Vendors() {
		if v.Planned() {
			continue
		}
		t.Run(v.Name, func(t *testing.T) {
			creds := map[string]string{}
			for _, f := range v.Credentials {
				creds[f.Name] = "x-" + f.Name
			}
			settings, fe := v.CheckSettings(nil)
			if len(fe) > 0 {
				t.Fatalf("settings with defaults: %v", fe)
			}
			p := vendorspec.Params{BaseURL: "https://vendor.example.com", Credentials: creds, Settings: settings}
			var client any
			if v.Kind == vendorspec.KindRMM {
				client, err = v.OpenRMM(p)
			} else {
				client, err = v.OpenPSA(p)
			}
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			if err := vendorspec.CheckRoles(v.Spec, client); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestOpenAPIMatchesTheSpecs compares openapi.yaml with the vendor specs,
// both ways: the provider enum, one credentials schema per vendor (marked
// x-rmmbridge-provider, in Credentials' anyOf) with the same fields,
// required ones, secret ones (format: password), lengths and patterns; one
// settings schema (in Settings' anyOf) per vendor that declares settings,
// with the same names, types, bounds, enums, defaults and required ones;
// and the Capability enum.
func TestOpenAPIMatchesTheSpecs(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	problems := compareOpenAPI(doc, Catalog())
	for _, p := range problems {
		t.Error(p)
	}
}

// compareOpenAPI lists every disagreement between an OpenAPI document and
// the catalog.
func compareOpenAPI(doc map[string]any, cat *vendorspec.Catalog) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	schemas := dig(doc, "components", "schemas")
	if schemas == nil {
		return []string{"openapi.yaml has no components.schemas"}
	}
	schema := func(name string) map[string]any { m, _ := schemas[name].(map[string]any); return m }

	if got, want := sortedStrings(schema("Provider")["enum"]), cat.Names(); !slices.Equal(got, want) {
		bad("Provider enum is %v; the vendors are %v", got, want)
	}
	var all []string
	for _, c := range vendorspec.All() {
		all = append(all, string(c))
	}
	if got := sortedStrings(schema("Capability")["enum"]); !slices.Equal(got, all) {
		bad("Capability enum is %v; the capabilities are %v", got, all)
	}

	// byProvider maps each provider to the schemas of an anyOf marked
	// x-rmmbridge-provider.
	byProvider := func(of string) map[string]map[string]any {
		out := map[string]map[string]any{}
		list, _ := schema(of)["anyOf"].([]any)
		for _, it := range list {
			ref, _ := it.(map[string]any)["$ref"].(string)
			if ref == "" {
				continue
			}
			name := strings.TrimPrefix(ref, "#/components/schemas/")
			s := schema(name)
			p, _ := s["x-rmmbridge-provider"].(string)
			switch _, known := cat.Vendor(p); {
			case p == "":
				bad("%s in %s.anyOf has no x-rmmbridge-provider", name, of)
			case !known:
				bad("%s is for provider %q, which no vendor spec declares", name, p)
			case out[p] != nil:
				bad("%s.anyOf has two schemas for %s", of, p)
			default:
				out[p] = s
			}
		}
		return out
	}
	credentials, settings := byProvider("Credentials"), byProvider("Settings")

	// The budget settings every connection has: one schema, in Settings'
	// allOf, matching vendorspec.BudgetSettings.
	refs := map[string]bool{}
	for _, it := range asList(schema("Settings")["allOf"]) {
		ref, _ := it.(map[string]any)["$ref"].(string)
		refs[strings.TrimPrefix(ref, "#/components/schemas/")] = true
	}
	if bs := schema("BudgetSettings"); bs == nil || !refs["BudgetSettings"] {
		bad("Settings.allOf does not name BudgetSettings, the settings every connection has")
	} else {
		compareSettings(&vendorspec.Vendor{Spec: vendorspec.Spec{Name: "every connection", Settings: vendorspec.BudgetSettings}}, bs, bad)
	}

	for _, v := range cat.Vendors() {
		cs := credentials[v.Name]
		if cs == nil {
			bad("%s: no credentials schema in Credentials.anyOf", v.Name)
		} else {
			compareCredentials(v, cs, bad)
		}
		ss := settings[v.Name]
		switch {
		case len(v.Settings) == 0 && ss != nil:
			bad("%s declares no settings; openapi.yaml documents some", v.Name)
		case len(v.Settings) > 0 && ss == nil:
			bad("%s: no settings schema in Settings.anyOf", v.Name)
		case ss != nil:
			compareSettings(v, ss, bad)
		}
	}
	return problems
}

func compareCredentials(v *vendorspec.Vendor, s map[string]any, bad func(string, ...any)) {
	props, _ := s["properties"].(map[string]any)
	var want, wantReq []string
	for _, f := range v.Credentials {
		want = append(want, f.Name)
		if f.Required {
			wantReq = append(wantReq, f.Name)
		}
		p, _ := props[f.Name].(map[string]any)
		if p == nil {
			continue
		}
		if secret := p["format"] == "password"; secret != f.Secret {
			bad("%s credential %s: secret %v in the spec, format password %v in openapi.yaml", v.Name, f.Name, f.Secret, secret)
		}
		max := limits.MaxCredentialLength
		if f.MaxLength > 0 && f.MaxLength < max {
			max = f.MaxLength
		}
		if got := p["maxLength"]; got != max {
			bad("%s credential %s: maxLength %v in openapi.yaml, %d in the spec", v.Name, f.Name, got, max)
		}
		if got, _ := p["pattern"].(string); got != f.Pattern {
			bad("%s credential %s: pattern %q in openapi.yaml, %q in the spec", v.Name, f.Name, got, f.Pattern)
		}
	}
	sort.Strings(want)
	sort.Strings(wantReq)
	if got := keys(props); !slices.Equal(got, want) {
		bad("%s credentials: openapi.yaml has %v, the spec %v", v.Name, got, want)
	}
	if got := sortedStrings(s["required"]); !slices.Equal(got, wantReq) {
		bad("%s credentials: openapi.yaml requires %v, the spec %v", v.Name, got, wantReq)
	}
}

func compareSettings(v *vendorspec.Vendor, s map[string]any, bad func(string, ...any)) {
	props, _ := s["properties"].(map[string]any)
	var want, wantReq []string
	for _, st := range v.Settings {
		want = append(want, st.Name)
		if st.Required {
			wantReq = append(wantReq, st.Name)
		}
		p, _ := props[st.Name].(map[string]any)
		if p == nil {
			continue
		}
		diff := func(what string, got, want any) {
			if fmt.Sprint(got) != fmt.Sprint(want) {
				bad("%s setting %s: %s %v in openapi.yaml, %v in the spec", v.Name, st.Name, what, got, want)
			}
		}
		if d, _ := p["description"].(string); strings.TrimSpace(d) == "" {
			bad("%s setting %s has no description in openapi.yaml", v.Name, st.Name)
		}
		diff("default", p["default"], orNil(st.Default))
		text := p
		switch st.Type {
		case vendorspec.String:
			diff("type", p["type"], "string")
		case vendorspec.Integer:
			diff("type", p["type"], "integer")
			diff("minimum", p["minimum"], intOrNil(st.Min))
			diff("maximum", p["maximum"], intOrNil(st.Max))
		case vendorspec.Boolean:
			diff("type", p["type"], "boolean")
		case vendorspec.StringList:
			diff("type", p["type"], "array")
			items := limits.MaxMapEntries
			if st.MaxItems > 0 {
				items = st.MaxItems
			}
			diff("maxItems", p["maxItems"], items)
			text, _ = p["items"].(map[string]any)
			diff("items type", text["type"], "string")
		}
		if st.Type == vendorspec.String || st.Type == vendorspec.StringList {
			max := limits.MaxTextLength
			if st.MaxLength > 0 {
				max = st.MaxLength
			}
			diff("maxLength", text["maxLength"], max)
			pattern, _ := text["pattern"].(string)
			diff("pattern", pattern, st.Pattern)
			var enum []string
			for _, e := range asList(text["enum"]) {
				enum = append(enum, fmt.Sprint(e))
			}
			diff("enum", enum, st.Enum)
		}
	}
	sort.Strings(want)
	sort.Strings(wantReq)
	if got := keys(props); !slices.Equal(got, want) {
		bad("%s settings: openapi.yaml has %v, the spec %v", v.Name, got, want)
	}
	if got := sortedStrings(s["required"]); !slices.Equal(got, wantReq) {
		bad("%s settings: openapi.yaml requires %v, the spec %v", v.Name, got, wantReq)
	}
}

func dig(m map[string]any, path ...string) map[string]any {
	for _, p := range path {
		next, ok := m[p].(map[string]any)
		if !ok {
			return nil
		}
		m = next
	}
	return m
}

func asList(v any) []any { l, _ := v.([]any); return l }

func sortedStrings(v any) []string {
	var out []string
	for _, x := range asList(v) {
		out = append(out, fmt.Sprint(x))
	}
	sort.Strings(out)
	return out
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func orNil(v any) any {
	if v == nil {
		return nil
	}
	return v
}

func intOrNil(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

// TestOpenAPIComparisonCatchesDrift: each kind of disagreement between
// openapi.yaml and a spec is reported.
func TestOpenAPIComparisonCatchesDrift(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		edit  func(schemas map[string]any)
		want  string
		specs func() []vendorspec.Spec
	}{
		{name: "secret field not marked", want: "ninjaone credential clientSecret: secret true",
			edit: func(s map[string]any) { delete(prop(s, "NinjaOneCredentials", "clientSecret"), "format") }},
		{name: "field only in openapi", want: "connectwise credentials: openapi.yaml has [clientId companyId privateKey publicKey site]",
			edit: func(s map[string]any) { props(s, "ConnectWiseCredentials")["site"] = map[string]any{"type": "string"} }},
		{name: "required only in openapi", want: "halopsa credentials: openapi.yaml requires [clientId clientSecret tenant]",
			edit: func(s map[string]any) {
				s["HaloPsaCredentials"].(map[string]any)["required"] = []any{"clientId", "clientSecret", "tenant"}
			}},
		{name: "setting of another type", want: "connectwise setting accountRefFieldId: type string in openapi.yaml, integer in the spec",
			edit: func(s map[string]any) { prop(s, "ConnectWiseSettings", "accountRefFieldId")["type"] = "string" }},
		{name: "setting missing in openapi", want: "connectwise settings: openapi.yaml has [accountRefFieldId apiMember assetCheckInFieldId closedStatus ignoreMembers]",
			edit: func(s map[string]any) { delete(props(s, "ConnectWiseSettings"), "reopenStatus") }},
		{name: "provider without spec", want: "Provider enum is",
			edit: func(s map[string]any) {
				s["Provider"].(map[string]any)["enum"] = append(s["Provider"].(map[string]any)["enum"].([]any), "kaseya")
			}},
		{name: "spec setting missing in openapi", want: "ninjaone: no settings schema in Settings.anyOf",
			specs: func() []vendorspec.Spec {
				out := Specs()
				for i := range out {
					if out[i].Name == "ninjaone" {
						out[i].Settings = []vendorspec.Setting{{Name: "tokenPath", Type: vendorspec.String}}
					}
				}
				return out
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var doc map[string]any
			if err := yaml.Unmarshal(b, &doc); err != nil {
				t.Fatal(err)
			}
			if tc.edit != nil {
				tc.edit(dig(doc, "components", "schemas"))
			}
			cat := Catalog()
			if tc.specs != nil {
				cat = vendorspec.MustCatalog(tc.specs()...)
			}
			problems := compareOpenAPI(doc, cat)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("problems %q do not report %q", problems, tc.want)
			}
		})
	}
}

func props(schemas map[string]any, name string) map[string]any {
	return schemas[name].(map[string]any)["properties"].(map[string]any)
}

func prop(schemas map[string]any, name, field string) map[string]any {
	return props(schemas, name)[field].(map[string]any)
}
