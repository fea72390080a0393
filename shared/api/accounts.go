package api

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
	"github.com/rmmbridge/rmmbridge/shared/limits"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Clients are an integration and its vendor clients, as the account sync
// and import routes use them.
type Clients struct {
	Integration connection.Integration
	RMM         rmm.Client
	PSA         psa.Client
}

// ClientOpener opens an integration's vendor clients (NotFound for an
// integration the tenant does not have).
type ClientOpener interface {
	Open(ctx context.Context, tenantID, integrationID string) (Clients, error)
}

type accountsAPI struct {
	svc     *account.Service
	clients ClientOpener
}

func scope(r *httpapi.Request) tenancy.Scope {
	return tenancy.Scope{TenantID: r.Principal.TenantID, IntegrationID: r.PathParam("integrationId"), Actor: r.Principal.Actor()}
}

func (a accountsAPI) open(ctx context.Context, r *httpapi.Request) (Clients, error) {
	return a.clients.Open(ctx, r.Principal.TenantID, r.PathParam("integrationId"))
}

// creatingAccounts checks, before anything is read or written, that the
// PSA connection can create an account exactly once: create accounts,
// and find them by rmmbridge's reference (a 422 naming the capability
// otherwise).
func creatingAccounts(cl Clients, feature string) error {
	for _, c := range []vendorspec.Capability{vendorspec.AccountsCreate, vendorspec.AccountsFindByRef} {
		if _, err := vendorspec.Require[any](cl.PSA, c, feature); err != nil {
			return err
		}
	}
	return nil
}

type namedItem struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type orgMappingView struct {
	AccountID   string            `json:"accountId"`
	AccountName string            `json:"accountName"`
	Mode        string            `json:"mode"`
	Sites       map[string]string `json:"sites"`
}

type organizationView struct {
	ID      string          `json:"id"`
	Name    string          `json:"name"`
	Sites   []namedItem     `json:"sites"`
	Mapping *orgMappingView `json:"mapping"`
}

type mappingView struct {
	OrganizationID string            `json:"organizationId"`
	AccountID      string            `json:"accountId"`
	AccountName    string            `json:"accountName"`
	Mode           string            `json:"mode"`
	Sites          map[string]string `json:"sites"`
	UpdatedAt      time.Time         `json:"updatedAt"`
}

func viewMapping(m account.Mapping) mappingView {
	return mappingView{OrganizationID: m.OrganizationID, AccountID: m.AccountID, AccountName: m.AccountName,
		Mode: m.Mode, Sites: m.Sites, UpdatedAt: m.UpdatedAt}
}

// offsetPage reads the list parameters of a list paged in memory (limit,
// and an offset cursor): a bad one is a 400 before anything, the vendor
// included, is asked for the list.
func offsetPage(r *httpapi.Request) (limit, start int, err error) {
	limit, cursor, err := r.Page()
	if err != nil {
		return 0, 0, err
	}
	if cursor != "" {
		start, err = strconv.Atoi(cursor)
		if err != nil || start < 0 || strconv.Itoa(start) != cursor {
			return 0, 0, badCursor()
		}
	}
	return limit, start, nil
}

func badCursor() error {
	return httpapi.BadRequest(apperr.FieldError{Field: "cursor", Message: "is not a cursor this list returned"})
}

// checkOffsetPage is offsetPage for handlers that read the list first.
func checkOffsetPage(r *httpapi.Request) error {
	_, _, err := offsetPage(r)
	return err
}

// pageOf slices an in-memory list with an offset cursor.
func pageOf[T any](all []T, r *httpapi.Request) (httpapi.List[T], error) {
	limit, start, err := offsetPage(r)
	if err != nil {
		return httpapi.List[T]{}, err
	}
	if start > len(all) {
		return httpapi.List[T]{}, badCursor()
	}
	end := min(start+limit, len(all))
	out := httpapi.List[T]{Items: append([]T{}, all[start:end]...)}
	if end < len(all) {
		out.NextCursor = strconv.Itoa(end)
	}
	return out, nil
}

func (a accountsAPI) organizations(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	if err := checkOffsetPage(r); err != nil {
		return nil, err
	}
	filter, err := mappingFilter(r)
	if err != nil {
		return nil, err
	}
	cl, err := a.open(ctx, r)
	if err != nil {
		return nil, err
	}
	views, err := a.svc.Organizations(ctx, scope(r), cl.RMM)
	if err != nil {
		return nil, err
	}
	out := make([]organizationView, 0, len(views))
	for _, v := range views {
		ov := organizationView{ID: v.Organization.ID, Name: v.Organization.Name, Sites: []namedItem{}}
		for _, s := range v.Organization.Sites {
			ov.Sites = append(ov.Sites, namedItem{ID: s.ID, Name: s.Name})
		}
		if m := v.Mapping; m != nil {
			ov.Mapping = &orgMappingView{AccountID: m.AccountID, AccountName: m.AccountName, Mode: m.Mode, Sites: m.Sites}
		}
		out = append(out, ov)
	}
	if out, err = filterOrganizations(ctx, cl.PSA, out, filter); err != nil {
		return nil, err
	}
	page, err := pageOf(out, r)
	if err != nil {
		return nil, err
	}
	return httpapi.JSON(http.StatusOK, page), nil
}

type candidateView struct {
	AccountID string   `json:"accountId"`
	Name      string   `json:"name"`
	Status    string   `json:"status,omitempty"`
	Type      string   `json:"type,omitempty"`
	Score     float64  `json:"score"`
	Reasons   []string `json:"reasons"`
}

type matchView struct {
	Outcome    string          `json:"outcome"`
	Candidates []candidateView `json:"candidates"`
}

func (a accountsAPI) match(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	cl, err := a.open(ctx, r)
	if err != nil {
		return nil, err
	}
	_, res, err := a.svc.MatchOrganization(ctx, cl.RMM, cl.PSA, r.PathParam("orgId"))
	if err != nil {
		return nil, err
	}
	out := matchView{Outcome: string(res.Outcome), Candidates: []candidateView{}}
	for _, c := range res.Candidates {
		out.Candidates = append(out.Candidates, candidateView{AccountID: c.Account.ID, Name: c.Account.Name,
			Status: c.Account.Status.Name, Type: c.Account.Type.Name, Score: c.Score, Reasons: c.Reasons})
	}
	return httpapi.JSON(http.StatusOK, out), nil
}

type psaAccountView struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status,omitempty"`
	Type   string `json:"type,omitempty"`
}

func (a accountsAPI) searchAccounts(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	limit, cursor, err := r.Page()
	if err != nil {
		return nil, err
	}
	q := psa.AccountQuery{Limit: limit, Cursor: cursor}
	for _, p := range []struct {
		name string
		dst  *string
		max  int
	}{{"search", &q.Search, limits.MaxSearchLength}, {"status", &q.Status, limits.MaxTextLength}, {"type", &q.Type, limits.MaxTextLength}} {
		max := p.max
		if *p.dst, err = r.QueryChecked(p.name, func(f, s string) *apperr.FieldError { return limits.Text(f, s, max) }); err != nil {
			return nil, err
		}
	}
	cl, err := a.open(ctx, r)
	if err != nil {
		return nil, err
	}
	page, err := cl.PSA.SearchAccounts(ctx, q)
	if err != nil {
		return nil, httpapi.QueryError(err, "search", "status", "type", "limit", "cursor")
	}
	out := httpapi.List[psaAccountView]{Items: []psaAccountView{}, NextCursor: page.NextCursor}
	for _, acct := range page.Items {
		out.Items = append(out.Items, psaAccountView{ID: acct.ID, Name: acct.Name, Status: acct.Status.Name, Type: acct.Type.Name})
	}
	return httpapi.JSON(http.StatusOK, out), nil
}

func refsPage(refs []psa.NamedRef, r *httpapi.Request) (*httpapi.Response, error) {
	items := make([]namedItem, 0, len(refs))
	for _, ref := range refs {
		items = append(items, namedItem{ID: ref.ID, Name: ref.Name})
	}
	page, err := pageOf(items, r)
	if err != nil {
		return nil, err
	}
	return httpapi.JSON(http.StatusOK, page), nil
}

func (a accountsAPI) statuses(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	if err := checkOffsetPage(r); err != nil {
		return nil, err
	}
	cl, err := a.open(ctx, r)
	if err != nil {
		return nil, err
	}
	refs, err := cl.PSA.ListAccountStatuses(ctx)
	if err != nil {
		return nil, err
	}
	return refsPage(refs, r)
}

func (a accountsAPI) types(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	if err := checkOffsetPage(r); err != nil {
		return nil, err
	}
	cl, err := a.open(ctx, r)
	if err != nil {
		return nil, err
	}
	refs, err := cl.PSA.ListAccountTypes(ctx)
	if err != nil {
		return nil, err
	}
	return refsPage(refs, r)
}

func (a accountsAPI) locations(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	if err := checkOffsetPage(r); err != nil {
		return nil, err
	}
	cl, err := a.open(ctx, r)
	if err != nil {
		return nil, err
	}
	locs, err := cl.PSA.ListLocations(ctx, r.PathParam("accountId"))
	if err != nil {
		return nil, err
	}
	refs := make([]psa.NamedRef, 0, len(locs))
	for _, l := range locs {
		refs = append(refs, psa.NamedRef{ID: l.ID, Name: l.Name})
	}
	return refsPage(refs, r)
}

func (a accountsAPI) putMapping(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	var in account.MapInput
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	if fe := checkMapInput(in); len(fe) > 0 {
		return nil, apperr.InvalidFields(limits.Cap(fe)...)
	}
	cl, err := a.open(ctx, r)
	if err != nil {
		return nil, err
	}
	if spec := in.CreateAccount; spec != nil {
		def := cl.Integration.Settings.AccountDefaults
		if spec.Status == "" {
			spec.Status = def.Status
		}
		if spec.Type == "" {
			spec.Type = def.Type
		}
	}
	if in.CreateAccount != nil {
		if err := creatingAccounts(cl, "createAccount"); err != nil {
			return nil, err
		}
	}
	m, err := a.svc.Map(ctx, scope(r), cl.RMM, account.PSAOf(cl.PSA), r.PathParam("orgId"), in)
	if err != nil {
		return nil, err
	}
	return httpapi.JSON(http.StatusOK, viewMapping(m)), nil
}

// checkMapInput bounds a mapping body: ids are ids, names and labels
// short, the site map of reasonable size.
func checkMapInput(in account.MapInput) []apperr.FieldError {
	var fe []apperr.FieldError
	add := func(e *apperr.FieldError) {
		if e != nil {
			fe = append(fe, *e)
		}
	}
	if in.AccountID != "" {
		add(limits.ID("accountId", in.AccountID))
	}
	if c := in.CreateAccount; c != nil {
		add(limits.Text("createAccount.name", c.Name, limits.MaxNameLength))
		add(limits.Text("createAccount.status", c.Status, limits.MaxTextLength))
		add(limits.Text("createAccount.type", c.Type, limits.MaxTextLength))
	}
	fe = append(fe, limits.StringMap("sites", in.Sites, limits.ID, func(f, s string) *apperr.FieldError {
		if s == "create" {
			return nil
		}
		if e := limits.ID(f, s); e != nil {
			return &apperr.FieldError{Field: f, Message: `must be a PSA location id or "create"`}
		}
		return nil
	})...)
	return fe
}

// integrationExists makes the mapping reads answer 404 for an unknown
// integration, as every other integration route does.
func (a accountsAPI) integrationExists(ctx context.Context, r *httpapi.Request) error {
	_, err := a.open(ctx, r)
	return err
}

func (a accountsAPI) listMappings(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	if err := checkOffsetPage(r); err != nil {
		return nil, err
	}
	if err := a.integrationExists(ctx, r); err != nil {
		return nil, err
	}
	ms, err := a.svc.List(ctx, scope(r))
	if err != nil {
		return nil, err
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].OrganizationID < ms[j].OrganizationID })
	views := make([]mappingView, 0, len(ms))
	for _, m := range ms {
		views = append(views, viewMapping(m))
	}
	page, err := pageOf(views, r)
	if err != nil {
		return nil, err
	}
	return httpapi.JSON(http.StatusOK, page), nil
}

func (a accountsAPI) getMapping(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	if err := a.integrationExists(ctx, r); err != nil {
		return nil, err
	}
	m, err := a.svc.Get(ctx, scope(r), r.PathParam("orgId"))
	if err != nil {
		return nil, err
	}
	return httpapi.JSON(http.StatusOK, viewMapping(m)), nil
}

func (a accountsAPI) deleteMapping(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	if err := a.integrationExists(ctx, r); err != nil {
		return nil, err
	}
	if err := a.svc.Unmap(ctx, scope(r), r.PathParam("orgId")); err != nil {
		return nil, err
	}
	return &httpapi.Response{Status: http.StatusNoContent}, nil
}

type provisionView struct {
	OrganizationID string            `json:"organizationId"`
	AccountID      string            `json:"accountId"`
	Sites          map[string]string `json:"sites"`
}

func (a accountsAPI) provision(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	cl, err := a.open(ctx, r)
	if err != nil {
		return nil, err
	}
	if _, err := vendorspec.Require[any](cl.RMM, vendorspec.OrgsCreate, "provisioning an RMM organization"); err != nil {
		return nil, err
	}
	prov, err := a.svc.ProvisionRMM(ctx, scope(r), cl.RMM, account.PSAOf(cl.PSA), r.PathParam("accountId"))
	if err != nil {
		return nil, err
	}
	return httpapi.JSON(http.StatusCreated, provisionView{OrganizationID: prov.OrganizationID, AccountID: prov.AccountID, Sites: prov.Sites}), nil
}

func (a accountsAPI) members(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	if err := checkOffsetPage(r); err != nil {
		return nil, err
	}
	cl, err := a.open(ctx, r)
	if err != nil {
		return nil, err
	}
	members, err := vendorspec.Require[psa.MemberLister](cl.PSA, vendorspec.MembersList, "listing PSA members")
	if err != nil {
		return nil, err
	}
	ms, err := members.ListMembers(ctx)
	if err != nil {
		return nil, err
	}
	type memberView struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		Email  string `json:"email,omitempty"`
		Active bool   `json:"active"`
		Role   string `json:"role,omitempty"`
	}
	views := make([]memberView, 0, len(ms))
	for _, m := range ms {
		views = append(views, memberView{ID: m.ID, Name: m.Name, Email: m.Email, Active: m.Active, Role: m.Role})
	}
	page, err := pageOf(views, r)
	if err != nil {
		return nil, err
	}
	return httpapi.JSON(http.StatusOK, page), nil
}
