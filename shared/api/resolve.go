package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/limits"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

type resolveInput struct {
	AccountID string `json:"accountId"`
}

type resolvedView struct {
	importQueuedView
	Resolved       int    `json:"resolved"`
	OrganizationID string `json:"organizationId"`
	AccountID      string `json:"accountId"`
}

// resolveItem is POST /imports/{jobId}/items/{itemKey}/resolve: a person
// chose the PSA account of a review item's organization. The organization
// is mapped to it (as PUT /mappings/{orgId} does) and the job's review
// items of that organization are settled: an organization import's item
// becomes linked; an asset import's devices of the organization are queued
// again and imported.
func resolveItem(d Deps) httpapi.HandlerFunc {
	if d.Imports == nil || d.Accounts == nil || d.Clients == nil {
		return httpapi.NotImplemented("resolving import review items")
	}
	return func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		var in resolveInput
		if err := r.Decode(&in); err != nil {
			return nil, err
		}
		if in.AccountID == "" {
			return nil, apperr.InvalidFields(apperr.FieldError{Field: "accountId", Message: "is required"})
		}
		if fe := limits.ID("accountId", in.AccountID); fe != nil {
			return nil, apperr.InvalidFields(*fe)
		}
		ref, key := jobRef(r), r.PathParam("itemKey")
		cl, err := d.Clients.Open(ctx, r.Principal.TenantID, ref.IntegrationID)
		if err != nil {
			return nil, err
		}
		j, err := d.Imports.Get(ctx, ref)
		if err != nil {
			return nil, err
		}
		it, err := d.Imports.Item(ctx, ref, key)
		if err != nil {
			return nil, err
		}
		if it.Status != importjob.Review {
			return nil, apperr.New(apperr.Conflict, "item %s of import %s is %s, not waiting for review", key, ref.JobID, it.Status)
		}
		if j.DryRun {
			return nil, apperr.New(apperr.Invalid, "import %s is a dry run, which writes nothing: map the organization, then run the import", ref.JobID)
		}
		// The item's organization, and the job's items that stand for it.
		orgID, keys := key, []string{key}
		if !j.PerOrganizationItems() {
			dev, err := cl.RMM.GetDevice(ctx, key)
			if err != nil {
				return nil, fmt.Errorf("read device %s from the RMM: %w", key, err)
			}
			orgID = dev.OrganizationID
			devs, err := rmm.AllDevices(ctx, cl.RMM, orgID)
			if err != nil {
				return nil, fmt.Errorf("list the devices of organization %s: %w", orgID, err)
			}
			keys = keys[:0]
			for _, dv := range devs {
				keys = append(keys, dv.ID)
			}
		}
		m, err := d.Accounts.Map(ctx, scope(r), cl.RMM, account.PSAOf(cl.PSA), orgID, account.MapInput{AccountID: in.AccountID})
		if err != nil {
			return nil, err
		}
		reason := fmt.Sprintf("linked to PSA account %s (%s), chosen in review by %s", m.AccountName, m.AccountID, scope(r).Actor)
		j, n, err := d.Imports.Resolve(ctx, ref, keys, reason)
		if err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusAccepted, resolvedView{importQueuedView: importQueuedView{ID: j.ID, Kind: string(j.Kind), Status: string(j.Status)},
			Resolved: n, OrganizationID: orgID, AccountID: m.AccountID}), nil
	}
}
