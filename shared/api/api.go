// Package api is the management API function: every /v1 route of
// design/API.md that is not the webhook or the asset Sync button, in one
// route table keyed like template.yaml's HttpApi events.
package api

import (
	"context"
	"log/slog"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/asset"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/user"
)

// Version is the build's version, set with -ldflags "-X ...api.Version=...".
var Version = "dev"

// Deps are everything the API needs.
type Deps struct {
	Logger      *slog.Logger
	Version     string
	Connections *connection.Service // nil: the connection routes answer 501
	Accounts    *account.Service    // nil (or no Clients): account sync routes answer 501
	Clients     ClientOpener
	Assets      *asset.Service     // nil: the asset routes answer 501
	Imports     *importjob.Service // nil (or no Clients): the import routes answer 501
	Alerts      *alert.Service     // nil: the alert list answers 501
	Audit       AuditLog           // nil: the audit log answers 501
	Users       *user.Service      // nil: the users routes (UserRoutes) answer 501
	SignIn      *user.SignIn       // nil: the sign-in routes (UserRoutes) answer 501
}

// Routes selects which of the API's routes a router serves: the users and
// sign-in routes are their own function (template.yaml UsersFunction), so
// that only it links the Cognito SDK and holds the pool's Admin* permissions.
type Routes int

const (
	// AllRoutes is every route (tests and tools that want the whole API).
	AllRoutes Routes = iota
	// ManagementRoutes is every route but the users and sign-in ones: the
	// api function (shared/lambdas/apifn).
	ManagementRoutes
	// UserRoutes is only the users and sign-in routes (registerUsers): the
	// users function (shared/lambdas/usersfn).
	UserRoutes
)

// New returns the API's router with every route registered.
func New(d Deps) *httpapi.Router { return NewRoutes(d, AllRoutes) }

// NewRoutes returns the API's router with the routes of which registered.
func NewRoutes(d Deps, which Routes) *httpapi.Router {
	if d.Version == "" {
		d.Version = Version
	}
	rt := httpapi.NewRouter(httpapi.Options{Logger: d.Logger})
	if which != UserRoutes {
		registerManagement(rt, d)
	}
	if which != ManagementRoutes {
		registerUsers(rt, d)
	}
	return rt
}

// registerManagement adds every route but the users and sign-in ones.
func registerManagement(rt *httpapi.Router, d Deps) {
	const i = "/v1/integrations/{integrationId}"
	ni := httpapi.NotImplemented
	V, O, A := httpapi.Viewer, httpapi.Operator, httpapi.Admin

	rt.Handle("GET /v1/health", httpapi.Public, health(d.Version))
	rt.Handle("GET /v1/me", V, me)
	rt.Handle("GET /v1/audit", V, listAudit(d))

	// Connections ("Test & save") and integrations.
	c := connectionsAPI{svc: d.Connections}
	or := func(h httpapi.HandlerFunc, feature string) httpapi.HandlerFunc {
		if d.Connections == nil {
			return ni(feature)
		}
		return h
	}
	rt.Handle("POST /v1/connections", A, or(c.create, "creating connections"))
	rt.Handle("GET /v1/connections", V, or(c.list, "listing connections"))
	rt.Handle("GET /v1/connections/{connectionId}", V, or(c.get, "reading connections"))
	rt.Handle("PATCH /v1/connections/{connectionId}", A, or(c.update, "updating connections"))
	rt.Handle("DELETE /v1/connections/{connectionId}", A, or(c.delete, "deleting connections"))
	rt.Handle("POST /v1/connections/{connectionId}/test", O, or(c.test, "testing connections"))
	rt.Handle("POST /v1/integrations", A, or(c.createIntegration, "creating integrations"))
	rt.Handle("GET /v1/integrations", V, or(c.listIntegrations, "listing integrations"))
	rt.Handle("GET "+i, V, or(c.getIntegration, "reading integrations"))
	rt.Handle("PATCH "+i, A, or(c.updateIntegration, "updating integrations"))
	rt.Handle("DELETE "+i, A, or(c.deleteIntegration, "deleting integrations"))
	rt.Handle("POST "+i+"/webhook-secret", A, or(c.rotateSecret, "rotating webhook secrets"))

	// Organizations, accounts, matching, mappings.
	ac := accountsAPI{svc: d.Accounts, clients: d.Clients}
	orA := func(h httpapi.HandlerFunc, feature string) httpapi.HandlerFunc {
		if d.Accounts == nil || d.Clients == nil {
			return ni(feature)
		}
		return h
	}
	rt.Handle("GET "+i+"/organizations", V, orA(ac.organizations, "listing organizations"))
	rt.Handle("POST "+i+"/organizations/{orgId}/match", O, orA(ac.match, "auto-matching organizations"))
	rt.Handle("GET "+i+"/psa/accounts", V, orA(ac.searchAccounts, "searching PSA accounts"))
	rt.Handle("GET "+i+"/psa/account-statuses", V, orA(ac.statuses, "listing PSA account statuses"))
	rt.Handle("GET "+i+"/psa/account-types", V, orA(ac.types, "listing PSA account types"))
	rt.Handle("GET "+i+"/psa/accounts/{accountId}/locations", V, orA(ac.locations, "listing PSA locations"))
	rt.Handle("POST "+i+"/psa/accounts/{accountId}/provision-rmm", O, orA(ac.provision, "provisioning RMM organizations"))
	rt.Handle("GET "+i+"/psa/members", V, orA(ac.members, "listing PSA members"))
	rt.Handle("GET "+i+"/psa/ticket-picklists", V, orA(ac.ticketPicklists, "listing PSA ticket picklists"))
	rt.Handle("GET "+i+"/mappings", V, orA(ac.listMappings, "listing mappings"))
	rt.Handle("GET "+i+"/mappings/{orgId}", V, orA(ac.getMapping, "reading mappings"))
	rt.Handle("PUT "+i+"/mappings/{orgId}", O, orA(ac.putMapping, "mapping organizations"))
	rt.Handle("DELETE "+i+"/mappings/{orgId}", O, orA(ac.deleteMapping, "unmapping organizations"))

	// Imports.
	rt.Handle("POST "+i+"/imports", O, d.importRoute(importsAPI.create, "starting imports"))
	rt.Handle("GET "+i+"/imports", V, d.importRoute(importsAPI.list, "listing imports"))
	rt.Handle("GET "+i+"/imports/{jobId}", V, d.importRoute(importsAPI.get, "reading imports"))
	rt.Handle("GET "+i+"/imports/{jobId}/items", V, d.importRoute(importsAPI.items, "listing import items"))
	rt.Handle("POST "+i+"/imports/{jobId}/retry", O, d.importRoute(importsAPI.retry, "retrying imports"))
	rt.Handle("POST "+i+"/imports/{jobId}/items/{itemKey}/resolve", O, resolveItem(d))

	// Assets and alerts.
	rt.Handle("GET "+i+"/assets", V, listAssets(d))
	rt.Handle("GET "+i+"/assets/{deviceId}", V, getAsset(d))
	rt.Handle("GET "+i+"/alerts", V, listAlerts(d))
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
