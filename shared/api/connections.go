package api

import (
	"context"
	"net/http"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
)

// connectionView is a connection as the API shows it: never credentials.
type connectionView struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	Kind       string         `json:"kind"`
	Provider   string         `json:"provider"`
	BaseURL    string         `json:"baseUrl"`
	Status     string         `json:"status"`
	TestedAt   time.Time      `json:"testedAt"`
	TestDetail string         `json:"testDetail,omitempty"`
	Settings   map[string]any `json:"settings"`
	CreatedAt  time.Time      `json:"createdAt"`
	UpdatedAt  time.Time      `json:"updatedAt"`
	// Capabilities are what the connection can do ("Test & save" reports
	// them).
	Capabilities []string `json:"capabilities"`
	// Version is the connection's version, its ETag without the quotes.
	Version int64 `json:"version"`
}

func viewConnection(c connection.Connection) connectionView {
	caps := c.Capabilities
	if caps == nil {
		caps = []string{}
	}
	return connectionView{ID: c.ID, Name: c.Name, Kind: c.Kind, Provider: c.Provider, BaseURL: c.BaseURL, Status: c.Status,
		TestedAt: c.TestedAt, TestDetail: c.TestDetail, Settings: c.Settings, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt,
		Capabilities: caps, Version: c.Version}
}

// withETag sets the ETag header of a response showing a resource at version v.
func withETag(r *httpapi.Response, v int64) *httpapi.Response {
	if r.Headers == nil {
		r.Headers = map[string]string{}
	}
	r.Headers["etag"] = httpapi.ETag(v)
	return r
}

type connectionsAPI struct{ svc *connection.Service }

func (a connectionsAPI) create(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	var in connection.CreateInput
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	c, err := a.svc.Create(ctx, r.Principal.TenantID, in)
	if err != nil {
		return nil, err
	}
	return withETag(httpapi.JSON(http.StatusCreated, viewConnection(c)), c.Version), nil
}

func (a connectionsAPI) list(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	limit, cursor, err := r.Page()
	if err != nil {
		return nil, err
	}
	cs, next, err := a.svc.List(ctx, r.Principal.TenantID, limit, cursor)
	if err != nil {
		return nil, httpapi.QueryError(err, "limit", "cursor")
	}
	out := httpapi.List[connectionView]{Items: []connectionView{}, NextCursor: next}
	for _, c := range cs {
		out.Items = append(out.Items, viewConnection(c))
	}
	return httpapi.JSON(http.StatusOK, out), nil
}

func (a connectionsAPI) get(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	c, err := a.svc.Get(ctx, r.Principal.TenantID, r.PathParam("connectionId"))
	if err != nil {
		return nil, err
	}
	return withETag(httpapi.JSON(http.StatusOK, viewConnection(c)), c.Version), nil
}

func (a connectionsAPI) update(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	pre, err := r.IfMatch()
	if err != nil {
		return nil, err
	}
	var in connection.UpdateInput
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	in.IfMatch = pre.Versions()
	c, err := a.svc.Update(ctx, r.Principal.TenantID, r.PathParam("connectionId"), in)
	if err != nil {
		return nil, err
	}
	return withETag(httpapi.JSON(http.StatusOK, viewConnection(c)), c.Version), nil
}

func (a connectionsAPI) delete(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	if err := a.svc.Delete(ctx, r.Principal.TenantID, r.PathParam("connectionId")); err != nil {
		return nil, err
	}
	return &httpapi.Response{Status: http.StatusNoContent}, nil
}

func (a connectionsAPI) test(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	res, err := a.svc.Retest(ctx, r.Principal.TenantID, r.PathParam("connectionId"))
	if err != nil {
		return nil, err
	}
	return httpapi.JSON(http.StatusOK, res), nil
}

type webhookView struct {
	URL    string `json:"url"`
	Secret string `json:"secret,omitempty"`
}

type integrationView struct {
	ID              string              `json:"id"`
	Name            string              `json:"name"`
	RMMConnectionID string              `json:"rmmConnectionId"`
	PSAConnectionID string              `json:"psaConnectionId"`
	Settings        connection.Settings `json:"settings"`
	Webhook         webhookView         `json:"webhook"`
	CreatedAt       time.Time           `json:"createdAt"`
	UpdatedAt       time.Time           `json:"updatedAt"`
	// Version is the integration's version, its ETag without the quotes.
	Version int64 `json:"version"`
}

func viewIntegration(in connection.Integration, secret string) integrationView {
	return integrationView{ID: in.ID, Name: in.Name, RMMConnectionID: in.RMMConnectionID, PSAConnectionID: in.PSAConnectionID,
		Settings: in.Settings, Webhook: webhookView{URL: in.WebhookPath(), Secret: secret}, CreatedAt: in.CreatedAt, UpdatedAt: in.UpdatedAt,
		Version: in.Version}
}

func (a connectionsAPI) createIntegration(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	var in connection.IntegrationInput
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	ig, secret, err := a.svc.CreateIntegration(ctx, r.Principal.TenantID, in)
	if err != nil {
		return nil, err
	}
	return withETag(httpapi.JSON(http.StatusCreated, viewIntegration(ig, secret)), ig.Version), nil
}

func (a connectionsAPI) listIntegrations(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	limit, cursor, err := r.Page()
	if err != nil {
		return nil, err
	}
	igs, next, err := a.svc.ListIntegrations(ctx, r.Principal.TenantID, limit, cursor)
	if err != nil {
		return nil, httpapi.QueryError(err, "limit", "cursor")
	}
	out := httpapi.List[integrationView]{Items: []integrationView{}, NextCursor: next}
	for _, ig := range igs {
		out.Items = append(out.Items, viewIntegration(ig, ""))
	}
	return httpapi.JSON(http.StatusOK, out), nil
}

func (a connectionsAPI) getIntegration(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	ig, err := a.svc.GetIntegration(ctx, r.Principal.TenantID, r.PathParam("integrationId"))
	if err != nil {
		return nil, err
	}
	return withETag(httpapi.JSON(http.StatusOK, viewIntegration(ig, "")), ig.Version), nil
}

func (a connectionsAPI) updateIntegration(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	pre, err := r.IfMatch()
	if err != nil {
		return nil, err
	}
	var p connection.IntegrationPatch
	if err := r.Decode(&p); err != nil {
		return nil, err
	}
	p.IfMatch = pre.Versions()
	ig, err := a.svc.UpdateIntegration(ctx, r.Principal.TenantID, r.PathParam("integrationId"), p)
	if err != nil {
		return nil, err
	}
	return withETag(httpapi.JSON(http.StatusOK, viewIntegration(ig, "")), ig.Version), nil
}

func (a connectionsAPI) deleteIntegration(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	if err := a.svc.DeleteIntegration(ctx, r.Principal.TenantID, r.PathParam("integrationId")); err != nil {
		return nil, err
	}
	return &httpapi.Response{Status: http.StatusNoContent}, nil
}

func (a connectionsAPI) rotateSecret(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	ig, secret, err := a.svc.RotateWebhookSecret(ctx, r.Principal.TenantID, r.PathParam("integrationId"))
	if err != nil {
		return nil, err
	}
	return httpapi.JSON(http.StatusOK, webhookView{URL: ig.WebhookPath(), Secret: secret}), nil
}
