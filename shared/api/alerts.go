package api

import (
	"context"
	"net/http"

	"github.com/rmmbridge/rmmbridge/shared/alert"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
)

// alertsAPI lists an integration's alert series from their links (never
// calling the PSA).
type alertsAPI struct {
	svc   *alert.Service
	conns *connection.Service // nil: the integration is not checked
}

// listAlerts is GET /alerts?state=open|closed|unroutable&limit=&cursor=.
func listAlerts(d Deps) httpapi.HandlerFunc {
	if d.Alerts == nil {
		return httpapi.NotImplemented("listing alerts")
	}
	return alertsAPI{svc: d.Alerts, conns: d.Connections}.list
}

func (a alertsAPI) list(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	limit, cursor, err := r.Page()
	if err != nil {
		return nil, err
	}
	q := alert.ListQuery{State: alert.State(r.Query("state")), Limit: limit, Cursor: cursor}
	if a.conns != nil {
		if _, err := a.conns.GetIntegration(ctx, r.Principal.TenantID, r.PathParam("integrationId")); err != nil {
			return nil, err
		}
	}
	links, next, err := a.svc.List(ctx, scope(r), q)
	if err != nil {
		return nil, httpapi.QueryError(err, "state", "limit", "cursor")
	}
	out := httpapi.List[alert.View]{Items: make([]alert.View, 0, len(links)), NextCursor: next}
	for _, l := range links {
		out.Items = append(out.Items, l.View())
	}
	return httpapi.JSON(http.StatusOK, out), nil
}
