package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/limits"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

type importsAPI struct {
	svc     *importjob.Service
	clients ClientOpener
}

func jobRef(r *httpapi.Request) importjob.Ref {
	return importjob.Ref{TenantID: r.Principal.TenantID, IntegrationID: r.PathParam("integrationId"), JobID: r.PathParam("jobId")}
}

type importQueuedView struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Status string `json:"status"`
}

type importCountsView struct {
	Total     int `json:"total"`
	Created   int `json:"created"`
	Linked    int `json:"linked"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Skipped   int `json:"skipped"`
	Failed    int `json:"failed"`
	Review    int `json:"review"`
}

type importJobView struct {
	ID         string                  `json:"id"`
	Kind       string                  `json:"kind"`
	Status     string                  `json:"status"`
	DryRun     bool                    `json:"dryRun"`
	Counts     importCountsView        `json:"counts"`
	CreatedAt  time.Time               `json:"createdAt"`
	StartedAt  time.Time               `json:"startedAt,omitzero"`
	FinishedAt time.Time               `json:"finishedAt,omitzero"`
	Preview    []importjob.PreviewItem `json:"preview,omitzero"`
}

type importItemView struct {
	Key            string `json:"key"`
	Status         string `json:"status"`
	Reason         string `json:"reason"`
	OrganizationID string `json:"organizationId,omitempty"`
}

func viewJob(j importjob.Job) importJobView {
	c := j.Counts
	return importJobView{ID: j.ID, Kind: string(j.Kind), Status: string(j.Status), DryRun: j.DryRun,
		Counts: importCountsView{Total: c.Total, Created: c.Created, Linked: c.Linked, Updated: c.Updated,
			Unchanged: c.Unchanged, Skipped: c.Skipped, Failed: c.Failed, Review: c.Review},
		CreatedAt: j.CreatedAt, StartedAt: j.StartedAt, FinishedAt: j.FinishedAt, Preview: j.Preview}
}

// create starts a job: 202 with the queued job.
func (a importsAPI) create(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	var in importjob.CreateInput
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	if fe := checkImportInput(in); len(fe) > 0 {
		return nil, apperr.InvalidFields(limits.Cap(fe)...)
	}
	cl, err := a.clients.Open(ctx, r.Principal.TenantID, r.PathParam("integrationId"))
	if err != nil {
		return nil, err
	}
	if err := importCapabilities(cl, in); err != nil {
		return nil, err
	}
	in.StartedBy = r.Principal.Actor()
	j, err := a.svc.Create(ctx, r.Principal.TenantID, r.PathParam("integrationId"), in, cl.RMM)
	if err != nil {
		return nil, err
	}
	return httpapi.JSON(http.StatusAccepted, importQueuedView{ID: j.ID, Kind: string(j.Kind), Status: string(j.Status)}), nil
}

// importCapabilities refuses (422) an import the PSA connection cannot
// carry out: an organization import makes the account decision, which
// looks accounts up by rmmbridge's reference, and creating missing
// accounts (the default) creates them exactly once. An asset import that
// creates no account asks nothing up front: its unmapped organizations
// become failed items naming the capability. An unknown kind is left to
// the import service's validation.
func importCapabilities(cl Clients, in importjob.CreateInput) error {
	creating := (in.CreateMissingAccounts == nil || *in.CreateMissingAccounts) && !in.DryRun
	var need []vendorspec.Capability
	feature := "an import creating missing accounts"
	switch in.Kind {
	case importjob.KindOrganizations:
		need = append(need, vendorspec.AccountsFindByRef)
		if creating {
			need = append(need, vendorspec.AccountsCreate)
		} else {
			feature = "an organization import (the account decision)"
		}
	case importjob.KindAssets:
		if creating {
			need = append(need, vendorspec.AccountsFindByRef, vendorspec.AccountsCreate)
		}
	}
	for _, c := range need {
		if _, err := vendorspec.Require[any](cl.PSA, c, feature); err != nil {
			return err
		}
	}
	return nil
}

// checkImportInput bounds an import body: organization ids are ids (they
// become keys of the job's items), and not too many of them.
func checkImportInput(in importjob.CreateInput) []apperr.FieldError {
	if len(in.OrganizationIDs) > importjob.MaxOrganizations {
		return []apperr.FieldError{{Field: "organizationIds", Message: fmt.Sprintf("at most %d organizations per job", importjob.MaxOrganizations)}}
	}
	var fe []apperr.FieldError
	for i, id := range in.OrganizationIDs {
		if e := limits.ID(fmt.Sprintf("organizationIds[%d]", i), strings.TrimSpace(id)); e != nil {
			fe = append(fe, *e)
		}
	}
	return fe
}

func (a importsAPI) list(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	limit, cursor, err := r.Page()
	if err != nil {
		return nil, err
	}
	// A bad cursor is a 400 before the integration's clients are opened.
	jobs, next, err := a.svc.List(ctx, r.Principal.TenantID, r.PathParam("integrationId"), limit, cursor)
	if err != nil {
		return nil, httpapi.QueryError(err, "limit", "cursor")
	}
	// An unknown integration is a 404, as on every integration route.
	if _, err := a.clients.Open(ctx, r.Principal.TenantID, r.PathParam("integrationId")); err != nil {
		return nil, err
	}
	out := httpapi.List[importJobView]{Items: make([]importJobView, 0, len(jobs)), NextCursor: next}
	for _, j := range jobs {
		out.Items = append(out.Items, viewJob(j))
	}
	return httpapi.JSON(http.StatusOK, out), nil
}

func (a importsAPI) get(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	j, err := a.svc.Get(ctx, jobRef(r))
	if err != nil {
		return nil, err
	}
	return httpapi.JSON(http.StatusOK, viewJob(j)), nil
}

func (a importsAPI) items(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	limit, cursor, err := r.Page()
	if err != nil {
		return nil, err
	}
	items, next, err := a.svc.Items(ctx, jobRef(r), importjob.Outcome(r.Query("status")), limit, cursor)
	if err != nil {
		return nil, httpapi.QueryError(err, "status", "limit", "cursor")
	}
	out := httpapi.List[importItemView]{Items: make([]importItemView, 0, len(items)), NextCursor: next}
	for _, it := range items {
		out.Items = append(out.Items, importItemView{Key: it.Key, Status: string(it.Status), Reason: it.Reason, OrganizationID: it.OrganizationID})
	}
	return httpapi.JSON(http.StatusOK, out), nil
}

func (a importsAPI) retry(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	j, _, err := a.svc.Retry(ctx, jobRef(r))
	if err != nil {
		return nil, err
	}
	return httpapi.JSON(http.StatusAccepted, importQueuedView{ID: j.ID, Kind: string(j.Kind), Status: string(j.Status)}), nil
}

// importRoute returns the handler of an imports route: h over the imports
// service, or a 501 while the API has no service or client opener.
func (d Deps) importRoute(h func(importsAPI, context.Context, *httpapi.Request) (*httpapi.Response, error), feature string) httpapi.HandlerFunc {
	if d.Imports == nil || d.Clients == nil {
		return httpapi.NotImplemented(feature)
	}
	a := importsAPI{svc: d.Imports, clients: d.Clients}
	return func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) { return h(a, ctx, r) }
}
