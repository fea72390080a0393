// Package api is the management API function: every /v1 route of
// design/API.md that is not the webhook or the asset Sync button, in one
// route table keyed like template.yaml's HttpApi events.
package api

import (
	"context"
	"log/slog"

	"github.com/rmmbridge/rmmbridge/shared/httpapi"
)

// Version is the build's version, set with -ldflags "-X ...api.Version=...".
var Version = "dev"

// Deps are everything the API needs.
type Deps struct {
	Logger  *slog.Logger
	Version string
}

// New returns the API's router with every route registered.
func New(d Deps) *httpapi.Router {
	if d.Version == "" {
		d.Version = Version
	}
	rt := httpapi.NewRouter(httpapi.Options{Logger: d.Logger})
	const i = "/v1/integrations/{integrationId}"
	ni := httpapi.NotImplemented
	V, O, A := httpapi.Viewer, httpapi.Operator, httpapi.Admin

	rt.Handle("GET /v1/health", httpapi.Public, health(d.Version))

	// Connections ("Test & save").
	rt.Handle("POST /v1/connections", A, ni("creating connections"))
	rt.Handle("GET /v1/connections", V, ni("listing connections"))
	rt.Handle("GET /v1/connections/{connectionId}", V, ni("reading connections"))
	rt.Handle("PATCH /v1/connections/{connectionId}", A, ni("updating connections"))
	rt.Handle("DELETE /v1/connections/{connectionId}", A, ni("deleting connections"))
	rt.Handle("POST /v1/connections/{connectionId}/test", O, ni("testing connections"))

	// Integrations.
	rt.Handle("POST /v1/integrations", A, ni("creating integrations"))
	rt.Handle("GET /v1/integrations", V, ni("listing integrations"))
	rt.Handle("GET "+i, V, ni("reading integrations"))
	rt.Handle("PATCH "+i, A, ni("updating integrations"))
	rt.Handle("DELETE "+i, A, ni("deleting integrations"))
	rt.Handle("POST "+i+"/webhook-secret", A, ni("rotating webhook secrets"))

	// Organizations, accounts, matching, mappings.
	rt.Handle("GET "+i+"/organizations", V, ni("listing organizations"))
	rt.Handle("POST "+i+"/organizations/{orgId}/match", O, ni("auto-matching organizations"))
	rt.Handle("GET "+i+"/psa/accounts", V, ni("searching PSA accounts"))
	rt.Handle("GET "+i+"/psa/account-statuses", V, ni("listing PSA account statuses"))
	rt.Handle("GET "+i+"/psa/account-types", V, ni("listing PSA account types"))
	rt.Handle("GET "+i+"/psa/accounts/{accountId}/locations", V, ni("listing PSA locations"))
	rt.Handle("POST "+i+"/psa/accounts/{accountId}/provision-rmm", O, ni("provisioning RMM organizations"))
	rt.Handle("GET "+i+"/psa/members", V, ni("listing PSA members"))
	rt.Handle("GET "+i+"/mappings", V, ni("listing mappings"))
	rt.Handle("GET "+i+"/mappings/{orgId}", V, ni("reading mappings"))
	rt.Handle("PUT "+i+"/mappings/{orgId}", O, ni("mapping organizations"))
	rt.Handle("DELETE "+i+"/mappings/{orgId}", O, ni("unmapping organizations"))

	// Imports.
	rt.Handle("POST "+i+"/imports", O, ni("starting imports"))
	rt.Handle("GET "+i+"/imports", V, ni("listing imports"))
	rt.Handle("GET "+i+"/imports/{jobId}", V, ni("reading imports"))
	rt.Handle("GET "+i+"/imports/{jobId}/items", V, ni("listing import items"))
	rt.Handle("POST "+i+"/imports/{jobId}/retry", O, ni("retrying imports"))

	// Assets and alerts.
	rt.Handle("GET "+i+"/assets", V, ni("listing assets"))
	rt.Handle("GET "+i+"/assets/{deviceId}", V, ni("reading assets"))
	rt.Handle("GET "+i+"/alerts", V, ni("listing alerts"))

	// Users.
	rt.Handle("POST /v1/users/import", A, ni("importing users"))
	return rt
}

type healthBody struct {
	Status  string `json:"status"`
	Version string `json:"version"`
}

func health(version string) httpapi.HandlerFunc {
	return func(context.Context, *httpapi.Request) (*httpapi.Response, error) {
		return httpapi.JSON(200, healthBody{Status: "ok", Version: version}), nil
	}
}
