package cognito

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAdminActions: AdminActions names exactly the operations the adapter
// calls that need IAM permission, so the template's policy (checked
// against AdminActions) grants what is used and nothing more.
func TestAdminActions(t *testing.T) {
	var got []string
	it := reflect.TypeOf((*api)(nil)).Elem()
	for i := 0; i < it.NumMethod(); i++ {
		name := it.Method(i).Name
		switch {
		case strings.HasPrefix(name, "Admin"):
			got = append(got, "cognito-idp:"+name)
		case name == "InitiateAuth" || name == "RespondToAuthChallenge":
			// Public sign-in operations: no IAM permission.
		default:
			t.Errorf("the adapter calls %s: does it need a permission? add it to AdminActions", name)
		}
	}
	slices.Sort(got)
	if d := cmp.Diff(AdminActions, got); d != "" {
		t.Errorf("AdminActions (-declared +called):\n%s", d)
	}
}
