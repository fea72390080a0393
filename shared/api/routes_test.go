package api_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/api"
)

// TestRoutesSplitBetweenFunctions: the api function's routes and the users
// function's are the whole API between them, none served twice, and the
// users function serves exactly the users and sign-in routes (the ones
// that reach the Cognito user pool).
func TestRoutesSplitBetweenFunctions(t *testing.T) {
	all := api.NewRoutes(api.Deps{}, api.AllRoutes).RouteKeys()
	mgmt := api.NewRoutes(api.Deps{}, api.ManagementRoutes).RouteKeys()
	users := api.NewRoutes(api.Deps{}, api.UserRoutes).RouteKeys()
	if diff := cmp.Diff(all, api.New(api.Deps{}).RouteKeys()); diff != "" {
		t.Errorf("New vs NewRoutes(AllRoutes) (-want +got):\n%s", diff)
	}
	union := slices.Sorted(slices.Values(append(slices.Clone(mgmt), users...)))
	if diff := cmp.Diff(slices.Sorted(slices.Values(all)), union); diff != "" {
		t.Errorf("every route vs management + users (-want +got):\n%s", diff)
	}
	isUsers := func(k string) bool {
		_, path, _ := strings.Cut(k, " ")
		return path == "/v1/users" || strings.HasPrefix(path, "/v1/users/") || strings.HasPrefix(path, "/v1/auth/")
	}
	for _, k := range mgmt {
		if isUsers(k) {
			t.Errorf("the api function serves %s, a users route", k)
		}
	}
	for _, k := range users {
		if !isUsers(k) {
			t.Errorf("the users function serves %s, not a users route", k)
		}
	}
	if len(users) != 11 {
		t.Errorf("the users function serves %d routes, want the 11 of registerUsers: %v", len(users), users)
	}
}
