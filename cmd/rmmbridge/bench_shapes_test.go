package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxspec"
)

func TestRequestShapesGroupReads(t *testing.T) {
	reqs := []sandboxspec.Request{
		{Method: "GET", Path: "/v4_6_release/apis/3.0/company/configurations?conditions=company/id=12&page=2"},
		{Method: "GET", Path: "/v4_6_release/apis/3.0/company/configurations"},
		{Method: "GET", Path: "/v4_6_release/apis/3.0/company/companies/12"},
		{Method: "GET", Path: "/v4_6_release/apis/3.0/company/companies/977"},
		{Method: "GET", Path: "/v4_6_release/apis/3.0/company/companies/3/sites"},
		{Method: "GET", Path: "/api/Asset/5"},
	}
	counts := map[string]int{}
	for _, r := range reqs {
		counts[requestShape(r)]++
	}
	want := map[string]int{
		"GET /v{n}_{n}_release/apis/{n}.{n}/company/configurations":      2,
		"GET /v{n}_{n}_release/apis/{n}.{n}/company/companies/{n}":       2,
		"GET /v{n}_{n}_release/apis/{n}.{n}/company/companies/{n}/sites": 1,
		"GET /api/Asset/{n}": 1,
	}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("shapes (-want +got):\n%s", diff)
	}
	got := topShapes(counts, 2)
	wantTop := "GET /v{n}_{n}_release/apis/{n}.{n}/company/companies/{n} ×2, GET /v{n}_{n}_release/apis/{n}.{n}/company/configurations ×2, 2 others"
	if got != wantTop {
		t.Errorf("topShapes = %q, want %q", got, wantTop)
	}
}
