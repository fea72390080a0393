package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite the golden extracts in testdata")

// synthetic are the hand-written documents of testdata, one per format.
var synthetic = []struct {
	name, src, keep, golden string
}{
	{"openapi3 yaml", "testdata/petstore-openapi3.yaml", "testdata/petstore-openapi3.keep", "testdata/petstore-openapi3.golden.yaml"},
	{"swagger2 json", "testdata/inventory-swagger2.json", "testdata/inventory-swagger2.keep", "testdata/inventory-swagger2.golden.yaml"},
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustKeep(t *testing.T, data []byte) *KeepList {
	t.Helper()
	kl, err := ParseKeepList(data)
	if err != nil {
		t.Fatal(err)
	}
	return kl
}

// options names the inputs the way the command does from the repository
// root.
func options(src, keep, out string) Options {
	return Options{
		SourceName: filepath.Base(src),
		KeepPath:   "cmd/specextract/" + keep,
		OutPath:    "cmd/specextract/" + out,
		Date:       "2026-01-02",
	}
}

// TestExtractGolden compares each synthetic extract with its reviewed
// golden file, and checks that a second run gives the same bytes.
func TestExtractGolden(t *testing.T) {
	for _, tt := range synthetic {
		t.Run(tt.name, func(t *testing.T) {
			src, kl := readFile(t, tt.src), mustKeep(t, readFile(t, tt.keep))
			got, _, err := Extract(src, kl, options(tt.src, tt.keep, tt.golden))
			if err != nil {
				t.Fatal(err)
			}
			again, _, err := Extract(src, kl, options(tt.src, tt.keep, tt.golden))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, again) {
				t.Errorf("two runs on the same inputs differ:\n%s", cmp.Diff(string(got), string(again)))
			}
			if *update {
				if err := os.WriteFile(tt.golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(string(readFile(t, tt.golden)), string(got)); diff != "" {
				t.Errorf("extract differs from %s (-want +got):\n%s", tt.golden, diff)
			}
		})
	}
}

// parseYAML decodes an extract into plain values.
func parseYAML(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("the extract is not YAML: %v", err)
	}
	return m
}

func keys(m any) []string {
	mm, _ := m.(map[string]any)
	var out []string
	for k := range mm {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func dig(m any, path ...string) any {
	for _, p := range path {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[p]
	}
	return m
}

// operations lists "METHOD /path" of a parsed document.
func operations(doc map[string]any) []string {
	var out []string
	for _, p := range keys(doc["paths"]) {
		for _, m := range keys(dig(doc, "paths", p)) {
			if httpMethods[m] {
				out = append(out, strings.ToUpper(m)+" "+p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestExtractKeepsWhatIsListedAndWhatItNeeds checks the synthetic OpenAPI 3
// extract by content, independently of the golden file: the listed
// operations only, every component reachable from them (through a cycle,
// a path-level parameter, a response reference and a discriminator
// mapping), nothing else, and documentation dropped only where it is a
// keyword.
func TestExtractKeepsWhatIsListedAndWhatItNeeds(t *testing.T) {
	src := readFile(t, "testdata/petstore-openapi3.yaml")
	kl := mustKeep(t, readFile(t, "testdata/petstore-openapi3.keep"))
	out, st, err := Extract(src, kl, options("petstore-openapi3.yaml", "k", "o"))
	if err != nil {
		t.Fatal(err)
	}
	doc := parseYAML(t, out)

	if diff := cmp.Diff([]string{"GET /pets", "GET /pets/{petId}", "POST /pets"}, operations(doc)); diff != "" {
		t.Errorf("operations (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Address", "Dog", "Kind", "NewPet", "Owner", "Pet", "PetSummary", "Problem"}, keys(dig(doc, "components", "schemas"))); diff != "" {
		t.Errorf("schemas (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Limit"}, keys(dig(doc, "components", "parameters"))); diff != "" {
		t.Errorf("parameters (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Problem"}, keys(dig(doc, "components", "responses"))); diff != "" {
		t.Errorf("responses (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"apiKey"}, keys(dig(doc, "components", "securitySchemes"))); diff != "" {
		t.Errorf("security schemes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"info", "openapi", "paths", "components", "security", "servers"}, keys(doc), cmp.Transformer("sort", func(s []string) []string {
		c := append([]string(nil), s...)
		sort.Strings(c)
		return c
	})); diff != "" {
		t.Errorf("top-level keys (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"title": "Synthetic Pet Store", "version": "1.2.3", "license": map[string]any{"name": "MIT"}}, doc["info"]); diff != "" {
		t.Errorf("info (-want +got):\n%s", diff)
	}
	want := Stats{Operations: 3, Paths: 2, Components: map[string]int{"schemas": 8, "parameters": 1, "responses": 1, "securitySchemes": 1}}
	if diff := cmp.Diff(want, st); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}

	// Names that look like dropped keywords survive; data keeps its keys.
	if diff := cmp.Diff([]string{"description", "id", "kind", "name", "owner", "status", "summary", "tags"}, keys(dig(doc, "components", "schemas", "Pet", "properties"))); diff != "" {
		t.Errorf("Pet properties (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"description": "defaults are data and keep their keys", "example": true},
		dig(doc, "components", "schemas", "NewPet", "properties", "settings", "default")); diff != "" {
		t.Errorf("default value (-want +got):\n%s", diff)
	}
	if got := dig(doc, "components", "schemas", "Pet", "x-entity"); got != "pet" {
		t.Errorf("x-entity = %v, want pet", got)
	}
	// The alias is expanded, not dropped.
	if got := dig(doc, "paths", "/pets", "get"); !strings.Contains(string(out), "before") || got == nil {
		t.Error("the aliased parameter schema is missing")
	}
	// Required response descriptions are kept, empty.
	if got, ok := dig(doc, "paths", "/pets", "get", "responses", "200", "description").(string); !ok || got != "" {
		t.Errorf("response description = %#v, want an empty string", dig(doc, "paths", "/pets", "get", "responses", "200", "description"))
	}
	for _, gone := range []string{"Long prose", "Lists pets", "Keyset cursor", "Paging links", "Two pets", "Rex", "The tenant's key", "nobody@example.com", "Production", "What the owner wrote", "Unused", "listStores", "deletePet", "/stores", "Store:"} {
		if strings.Contains(string(out), gone) {
			t.Errorf("the extract still contains %q", gone)
		}
	}
}

// TestExtractIsAFixedPoint extracts each synthetic extract again with its
// keep-list: the body must not change (nothing dangling, nothing extra,
// nothing left to strip).
func TestExtractIsAFixedPoint(t *testing.T) {
	for _, tt := range synthetic {
		t.Run(tt.name, func(t *testing.T) {
			kl := mustKeep(t, readFile(t, tt.keep))
			first, _, err := Extract(readFile(t, tt.src), kl, options(tt.src, tt.keep, tt.golden))
			if err != nil {
				t.Fatal(err)
			}
			second, _, err := Extract(first, kl, options(tt.src, tt.keep, tt.golden))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(body(first)), string(body(second))); diff != "" {
				t.Errorf("re-extraction changed the body (-first +second):\n%s", diff)
			}
		})
	}
}

// body returns an extract without its comment header.
func body(b []byte) []byte {
	for len(b) > 0 && b[0] == '#' {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return nil
		}
		b = b[i+1:]
	}
	return b
}

// TestExtractRejects lists the inputs that must fail, with a message naming
// the problem.
func TestExtractRejects(t *testing.T) {
	petstore := string(readFile(t, "testdata/petstore-openapi3.yaml"))
	tests := []struct {
		name, src, keep, want string
	}{
		{name: "operation not in the document", src: petstore, keep: "GET /pets\nDELETE /stores\nGET /pets/{id}\n",
			want: "not operations of the document: DELETE /stores (keep-list line 2), GET /pets/{id} (keep-list line 3)"},
		{name: "path spelt in another case", src: petstore, keep: "GET /Pets\n", want: "GET /Pets (keep-list line 1)"},
		{name: "external reference", src: strings.Replace(petstore, "'#/components/schemas/PetSummary'", "'common.yaml#/Summary'", 1),
			keep: "GET /pets\n", want: `reference "common.yaml#/Summary" is not local`},
		{name: "dangling reference", src: strings.Replace(petstore, "'#/components/schemas/PetSummary'", "'#/components/schemas/Nope'", 1),
			keep: "GET /pets\n", want: "reference to schemas/Nope: no such component"},
		{name: "reference outside the components", src: strings.Replace(petstore, "'#/components/schemas/PetSummary'", "'#/paths/~1stores'", 1),
			keep: "GET /pets\n", want: `reference "#/paths/~1stores" points outside the reusable components`},
		{name: "openapi 2.x", src: strings.Replace(petstore, "openapi: 3.0.3", "openapi: 2.0.0", 1), keep: "GET /pets\n", want: "only 3.x is supported"},
		{name: "swagger 1.2", src: "swagger: '1.2'\npaths: {}\n", keep: "GET /pets\n", want: "neither an OpenAPI 3.x nor a Swagger 2.0 document"},
		{name: "no paths", src: "openapi: 3.0.0\ninfo: {title: t, version: v}\n", keep: "GET /pets\n", want: "the document has no paths"},
		{name: "not a mapping", src: "- a\n- b\n", keep: "GET /pets\n", want: "not a mapping document"},
		{name: "not YAML", src: "openapi: [3\n", keep: "GET /pets\n", want: "parse doc.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kl := mustKeep(t, []byte(tt.keep))
			out, _, err := Extract([]byte(tt.src), kl, Options{SourceName: "doc.yaml", KeepPath: "k", OutPath: "o", Date: "2026-01-02"})
			if err == nil {
				t.Fatalf("no error; extract:\n%s", out)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestParseKeepList(t *testing.T) {
	got, err := ParseKeepList([]byte("# heading\norigin: upstream repo at abc123\n\n  get /a/{id}   # why\nPOST /a\n#GET /commented\norigin: second\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := &KeepList{
		Origin: []string{"upstream repo at abc123", "second"},
		Ops:    []Op{{Method: "get", Path: "/a/{id}", Line: 4}, {Method: "post", Path: "/a", Line: 5}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("keep-list (-want +got):\n%s", diff)
	}

	bad := []struct{ name, in, want string }{
		{"empty", "# nothing\n\n", "lists no operation"},
		{"unknown method", "FETCH /a\n", `line 1: unknown method "FETCH"`},
		{"relative path", "GET a/b\n", `line 1: path "a/b" does not start with /`},
		{"three fields", "GET /a extra\n", `line 1: want "METHOD /path"`},
		{"path only", "\n/a\n", `line 2: want "METHOD /path"`},
		{"duplicate", "GET /a\nget /a\n", "line 2: GET /a is already listed on line 1"},
		{"empty origin", "origin:\nGET /a\n", "line 1: empty origin"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseKeepList([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestRunWritesAndChecks drives the command: it writes the extract, -check
// accepts it unchanged and reports a hand edit, and bad flags are refused.
func TestRunWritesAndChecks(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "extract.yaml")
	args := []string{"-src", "testdata/petstore-openapi3.yaml", "-keep", "testdata/petstore-openapi3.keep", "-out", out, "-date", "2026-01-02"}
	var stdout bytes.Buffer
	if err := run(args, &stdout); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "3 operations on 2 paths") {
		t.Errorf("summary %q does not count the operations", stdout.String())
	}
	written := readFile(t, out)
	if !strings.Contains(string(written), "-keep testdata/petstore-openapi3.keep -out "+filepath.ToSlash(out)+" -date 2026-01-02\n") {
		t.Errorf("the header does not record the command:\n%s", written[:600])
	}
	if !strings.Contains(string(written), "# Source:   petstore-openapi3.yaml (") {
		t.Error("the header does not name the source by its file name")
	}

	stdout.Reset()
	if err := run(append(args, "-check"), &stdout); err != nil {
		t.Errorf("-check on a fresh extract: %v", err)
	}
	// Re-running on the same inputs rewrites the same bytes.
	if err := run(args, &stdout); err != nil {
		t.Fatal(err)
	}
	if again := readFile(t, out); !bytes.Equal(written, again) {
		t.Error("a second run wrote different bytes")
	}

	edited := bytes.Replace(written, []byte("maximum: 100"), []byte("maximum: 1000"), 1)
	if err := os.WriteFile(out, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	err := run(append(args, "-check"), &stdout)
	if err == nil || !strings.Contains(err.Error(), errDiffers.Error()) {
		t.Errorf("-check on an edited extract: %v, want %q", err, errDiffers)
	}
	// A different date is a different header.
	if err := run(append(append([]string(nil), args[:len(args)-1]...), "2026-01-03", "-check"), &stdout); err == nil {
		t.Error("-check with another -date passed")
	}

	for _, bad := range [][]string{
		{"-src", "testdata/petstore-openapi3.yaml", "-keep", "testdata/petstore-openapi3.keep"},
		{"-src", "testdata/petstore-openapi3.yaml", "-keep", "testdata/petstore-openapi3.keep", "-out", out, "-date", "03/12/2026"},
		{"-src", "testdata/missing.yaml", "-keep", "testdata/petstore-openapi3.keep", "-out", out},
		{"-nope"},
	} {
		if err := run(bad, &stdout); err == nil {
			t.Errorf("run %q: no error", bad)
		}
	}
}
