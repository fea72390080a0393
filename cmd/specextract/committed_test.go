package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// contractsDir holds the committed vendor extracts and their keep-lists.
const contractsDir = "../../testdata/vendor-contracts"

// maxExtractBytes keeps the extracts small: an extract that grows past it
// most likely pulls in far more of the vendor's document than we use.
const maxExtractBytes = 150 << 10

var headerCommand = regexp.MustCompile(`(?m)^#   go run \./cmd/specextract -src <vendor-specs>/(\S+) -keep (\S+) -out (\S+) -date (\d{4}-\d{2}-\d{2})$`)

// TestCommittedExtracts checks each extract in testdata/vendor-contracts
// without the vendor's document (which is not in the repository): its
// header records the command that made it from its keep-list, it holds
// exactly the keep-list's operations, extracting it again changes nothing
// (every reference resolves inside it, nothing unreferenced or
// descriptive is left), it loads and validates with kin-openapi, and it
// stays small.
func TestCommittedExtracts(t *testing.T) {
	keeps, err := filepath.Glob(filepath.Join(contractsDir, "*.keep"))
	if err != nil {
		t.Fatal(err)
	}
	yamls, err := filepath.Glob(filepath.Join(contractsDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var gotNames, wantNames []string
	for _, k := range keeps {
		wantNames = append(wantNames, strings.TrimSuffix(filepath.Base(k), ".keep")+".yaml")
	}
	for _, y := range yamls {
		gotNames = append(gotNames, filepath.Base(y))
	}
	if diff := cmp.Diff([]string{"autotask-rest-v1.yaml", "datto-rmm-openapi.yaml", "ninjaone-openapi.yaml"}, wantNames); diff != "" {
		t.Errorf("keep-lists (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantNames, gotNames); diff != "" {
		t.Errorf("extracts without a keep-list or keep-lists without an extract (-keep-lists +extracts):\n%s", diff)
	}

	for _, keepPath := range keeps {
		base := strings.TrimSuffix(filepath.Base(keepPath), ".keep")
		t.Run(base, func(t *testing.T) {
			keepData := readFile(t, keepPath)
			kl := mustKeep(t, keepData)
			extract := readFile(t, filepath.Join(contractsDir, base+".yaml"))
			if len(extract) > maxExtractBytes {
				t.Errorf("%s.yaml is %d bytes, over the %d budget: trim its keep-list", base, len(extract), maxExtractBytes)
			}

			m := headerCommand.FindSubmatch(extract)
			if m == nil {
				t.Fatalf("the header records no specextract command:\n%s", extract[:min(len(extract), 1200)])
			}
			srcName, keepArg, outArg, date := string(m[1]), string(m[2]), string(m[3]), string(m[4])
			if want := "testdata/vendor-contracts/" + base + ".keep"; keepArg != want {
				t.Errorf("header -keep %s, want %s", keepArg, want)
			}
			if want := "testdata/vendor-contracts/" + base + ".yaml"; outArg != want {
				t.Errorf("header -out %s, want %s", outArg, want)
			}
			if !strings.Contains(string(extract), "\n# Source:   "+srcName+" (") {
				t.Errorf("the header's Source line does not name %s", srcName)
			}
			for _, o := range kl.Origin {
				if !strings.Contains(string(extract), "\n# Origin:   "+o+"\n") {
					t.Errorf("the header does not carry the keep-list's origin %q", o)
				}
			}

			var doc map[string]any
			if err := yaml.Unmarshal(extract, &doc); err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, op := range kl.Ops {
				want = append(want, op.String())
			}
			sort.Strings(want)
			if diff := cmp.Diff(want, operations(doc)); diff != "" {
				t.Errorf("operations of the extract (-keep-list +extract):\n%s", diff)
			}

			again, _, err := Extract(extract, kl, Options{SourceName: srcName, KeepPath: keepArg, OutPath: outArg, Date: date})
			if err != nil {
				t.Fatalf("extracting the extract again: %v", err)
			}
			if diff := cmp.Diff(string(body(extract)), string(body(again))); diff != "" {
				t.Errorf("extracting the extract again changed it (-committed +again):\n%s", diff)
			}

			if err := loadAndValidate(extract); err != nil {
				t.Error(err)
			}
		})
	}
}

// loadAndValidate loads an extract with kin-openapi (Swagger 2.0 through
// its conversion to OpenAPI 3) and validates it. The vendors name some
// components with characters OpenAPI's component-name charset excludes
// ("Account Descriptor", "Expression[Func[TicketNote,Int64]]"); the
// extract keeps the vendor's names, so only '/' (which would break a
// reference) is refused there.
func loadAndValidate(extract []byte) error {
	saved := openapi3.IdentifierRegExp
	openapi3.IdentifierRegExp = regexp.MustCompile(`^[^/]+$`)
	defer func() { openapi3.IdentifierRegExp = saved }()

	var probe struct {
		Swagger string `yaml:"swagger"`
	}
	if err := yaml.Unmarshal(extract, &probe); err != nil {
		return err
	}
	var doc *openapi3.T
	if probe.Swagger == "" {
		d, err := openapi3.NewLoader().LoadFromData(extract)
		if err != nil {
			return fmt.Errorf("load: %w", err)
		}
		doc = d
	} else {
		var v any
		if err := yaml.Unmarshal(extract, &v); err != nil {
			return err
		}
		j, err := json.Marshal(v)
		if err != nil {
			return err
		}
		var d2 openapi2.T
		if err := json.Unmarshal(j, &d2); err != nil {
			return fmt.Errorf("load Swagger 2.0: %w", err)
		}
		if doc, err = openapi2conv.ToV3(&d2); err != nil {
			return fmt.Errorf("convert Swagger 2.0 to OpenAPI 3: %w", err)
		}
	}
	if err := doc.Validate(context.Background()); err != nil {
		return fmt.Errorf("validate: %w", err)
	}
	return nil
}
