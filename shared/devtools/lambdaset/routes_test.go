package lambdaset

import (
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/api"
	"github.com/rmmbridge/rmmbridge/shared/console"
	"github.com/rmmbridge/rmmbridge/shared/devtools/apitest"
	"github.com/rmmbridge/rmmbridge/shared/devtools/samtemplate"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/alertwebhookfn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/assetrefreshfn"
)

// TestRouteTablesMatchTemplate checks that each function's route table holds
// exactly the HttpApi routes template.yaml sends to it: a route declared in
// the template but not handled (or the reverse) is a deploy-time 404.
func TestRouteTablesMatchTemplate(t *testing.T) {
	tpl, err := samtemplate.ParseFile(filepath.Join(apitest.RepoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string][]string{}
	for _, fn := range tpl.Functions {
		for _, ev := range fn.Events {
			if ev.HTTPAPI != nil {
				declared[fn.LogicalID] = append(declared[fn.LogicalID], ev.HTTPAPI.Method+" "+ev.HTTPAPI.Path)
			}
		}
		sort.Strings(declared[fn.LogicalID])
	}
	handled := map[string][]string{
		"ApiFunction":          api.NewRoutes(api.Deps{}, api.ManagementRoutes).RouteKeys(),
		"UsersFunction":        api.NewRoutes(api.Deps{}, api.UserRoutes).RouteKeys(),
		"AlertWebhookFunction": {alertwebhookfn.Route},
		"AssetRefreshFunction": {assetrefreshfn.SyncRoute},
		"ConsoleFunction":      console.RouteKeys(),
	}
	for fn, want := range handled {
		if diff := cmp.Diff(want, declared[fn]); diff != "" {
			t.Errorf("%s routes: handled (-) vs template.yaml (+):\n%s", fn, diff)
		}
	}
	for fn := range declared {
		if _, ok := handled[fn]; !ok && len(declared[fn]) > 0 {
			t.Errorf("template.yaml routes HTTP to %s, which serves none", fn)
		}
	}
}
