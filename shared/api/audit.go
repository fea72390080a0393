package api

import (
	"context"
	"net/http"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
)

// AuditLog pages a tenant's audit events, newest first
// (dynamostore.Mappings).
type AuditLog interface {
	ListAudit(ctx context.Context, tenantID string, limit int, cursor string) ([]account.AuditEvent, string, error)
}

type auditEventView struct {
	At     time.Time    `json:"at"`
	Actor  string       `json:"actor"`
	Action string       `json:"action"`
	Target string       `json:"target"`
	Before *mappingView `json:"before"`
	After  *mappingView `json:"after"`
}

func viewOptionalMapping(m *account.Mapping) *mappingView {
	if m == nil {
		return nil
	}
	v := viewMapping(*m)
	if v.Sites == nil {
		v.Sites = map[string]string{}
	}
	return &v
}

// listAudit is GET /v1/audit: the caller's tenant's changes, newest first.
func listAudit(d Deps) httpapi.HandlerFunc {
	if d.Audit == nil {
		return httpapi.NotImplemented("listing the audit log")
	}
	return func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		limit, cursor, err := r.Page()
		if err != nil {
			return nil, err
		}
		evs, next, err := d.Audit.ListAudit(ctx, r.Principal.TenantID, limit, cursor)
		if err != nil {
			return nil, httpapi.QueryError(err, "limit", "cursor")
		}
		out := httpapi.List[auditEventView]{Items: make([]auditEventView, 0, len(evs)), NextCursor: next}
		for _, e := range evs {
			out.Items = append(out.Items, auditEventView{At: e.At, Actor: e.Actor, Action: e.Action, Target: e.Target,
				Before: viewOptionalMapping(e.Before), After: viewOptionalMapping(e.After)})
		}
		return httpapi.JSON(http.StatusOK, out), nil
	}
}

type meView struct {
	TenantID string `json:"tenantId"`
	Role     string `json:"role"`
	KeyID    string `json:"keyId,omitempty"`
	UserID   string `json:"userId,omitempty"`
	Email    string `json:"email,omitempty"`
}

// me is GET /v1/me: who the credential is (tenant and role), so a client
// such as the console knows which actions to offer.
func me(_ context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	p := r.Principal
	return httpapi.JSON(http.StatusOK, meView{TenantID: p.TenantID, Role: p.Role, KeyID: p.KeyID, UserID: p.UserID, Email: p.Email}), nil
}
