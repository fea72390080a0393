package tacticalrmm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rmmbridge/rmmbridge/shared/vendors/tacticalrmm/sandbox"
)

// TestREADMEDocumentsTheURLActions: the README's Tactical section holds the
// exact failure and resolved bodies and the headers this package parses
// (and the sandbox posts), so what users paste is what is tested.
func TestREADMEDocumentsTheURLActions(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "## Tactical RMM")
	if i < 0 {
		t.Fatal("README has no Tactical RMM section")
	}
	section := readme[i:]
	headers := strings.Replace(sandbox.HeadersTemplate, "<secret>", "whsec_…", 1)
	for name, want := range map[string]string{"failure body": sandbox.FailureBody, "resolved body": sandbox.ResolvedBody, "headers": headers,
		"make dev line": "make dev RMM=tacticalrmm"} {
		if !strings.Contains(section, want) && !strings.Contains(readme, want) {
			t.Errorf("the README does not hold the %s:\n%s", name, want)
		}
	}
}
