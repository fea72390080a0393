package api

import (
	"context"
	"net/http"

	"github.com/rmmbridge/rmmbridge/shared/asset"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
	"github.com/rmmbridge/rmmbridge/shared/limits"
)

// assetsAPI serves the synced assets from their links (never calling the
// PSA). The Sync button is the asset-refresh function's route.
type assetsAPI struct {
	svc   *asset.Service
	conns *connection.Service // nil: the integration is not checked
}

// listAssets is GET /assets?organizationId=&limit=&cursor=.
func listAssets(d Deps) httpapi.HandlerFunc {
	if d.Assets == nil {
		return httpapi.NotImplemented("listing assets")
	}
	return assetsAPI{svc: d.Assets, conns: d.Connections}.list
}

// getAsset is GET /assets/{deviceId}.
func getAsset(d Deps) httpapi.HandlerFunc {
	if d.Assets == nil {
		return httpapi.NotImplemented("reading assets")
	}
	return assetsAPI{svc: d.Assets, conns: d.Connections}.get
}

// integrationExists answers 404 for an integration the tenant does not
// have, as every other integration route does.
func (a assetsAPI) integrationExists(ctx context.Context, r *httpapi.Request) error {
	if a.conns == nil {
		return nil
	}
	_, err := a.conns.GetIntegration(ctx, r.Principal.TenantID, r.PathParam("integrationId"))
	return err
}

func (a assetsAPI) list(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	limit, cursor, err := r.Page()
	if err != nil {
		return nil, err
	}
	org, err := r.QueryChecked("organizationId", limits.ID)
	if err != nil {
		return nil, err
	}
	if err := a.integrationExists(ctx, r); err != nil {
		return nil, err
	}
	links, next, err := a.svc.List(ctx, scope(r), asset.ListQuery{OrganizationID: org, Limit: limit, Cursor: cursor})
	if err != nil {
		return nil, httpapi.QueryError(err, "organizationId", "limit", "cursor")
	}
	out := httpapi.List[asset.View]{Items: make([]asset.View, 0, len(links)), NextCursor: next}
	for _, l := range links {
		out.Items = append(out.Items, l.View())
	}
	return httpapi.JSON(http.StatusOK, out), nil
}

func (a assetsAPI) get(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	if err := a.integrationExists(ctx, r); err != nil {
		return nil, err
	}
	l, err := a.svc.Get(ctx, scope(r), r.PathParam("deviceId"))
	if err != nil {
		return nil, err
	}
	return httpapi.JSON(http.StatusOK, l.View()), nil
}
