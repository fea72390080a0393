package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
	"github.com/rmmbridge/rmmbridge/shared/limits"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/user"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// registerUsers adds the users and sign-in routes.
func registerUsers(rt *httpapi.Router, d Deps) {
	ni := httpapi.NotImplemented
	u := usersAPI{svc: d.Users, signIn: d.SignIn}
	or := func(h httpapi.HandlerFunc, feature string) httpapi.HandlerFunc {
		if d.Users == nil {
			return ni(feature)
		}
		return h
	}
	orSignIn := func(h httpapi.HandlerFunc, feature string) httpapi.HandlerFunc {
		if d.SignIn == nil {
			return ni(feature)
		}
		return h
	}
	A, V := httpapi.Admin, httpapi.Viewer
	rt.Handle("POST /v1/users/import", A, or(u.importUsers, "importing users"))
	rt.Handle("GET /v1/users/import/changes", A, or(u.changes, "listing re-import changes"))
	rt.Handle("POST /v1/users/import/changes", A, or(u.applyChanges, "applying re-import changes"))
	rt.Handle("GET /v1/users", A, or(u.list, "listing users"))
	rt.Handle("GET /v1/users/{userId}", A, or(u.get, "reading users"))
	rt.Handle("PATCH /v1/users/{userId}", A, or(u.update, "changing users"))
	rt.Handle("DELETE /v1/users/{userId}", A, or(u.delete, "deleting users"))

	rt.Handle("POST /v1/auth/login", httpapi.Public, orSignIn(u.login, "signing in"))
	rt.Handle("POST /v1/auth/new-password", httpapi.Public, orSignIn(u.newPassword, "choosing a password"))
	rt.Handle("POST /v1/auth/refresh", httpapi.Public, orSignIn(u.refresh, "refreshing tokens"))
	rt.Handle("POST /v1/auth/logout", V, orSignIn(u.logout, "signing out"))
}

type usersAPI struct {
	svc    *user.Service
	signIn *user.SignIn
}

type memberSnapshotView struct {
	Name   string `json:"name"`
	Email  string `json:"email,omitempty"`
	Active bool   `json:"active"`
	Role   string `json:"role,omitempty"`
}

func viewSnapshot(m *user.MemberSnapshot) *memberSnapshotView {
	if m == nil {
		return nil
	}
	return &memberSnapshotView{Name: m.Name, Email: m.Email, Active: m.Active, Role: m.Role}
}

type userSourceView struct {
	Kind          string              `json:"kind"`
	IntegrationID string              `json:"integrationId,omitempty"`
	ConnectionID  string              `json:"connectionId,omitempty"`
	MemberID      string              `json:"memberId,omitempty"`
	Member        *memberSnapshotView `json:"member,omitempty"`
}

// userView is a user as the API shows it.
type userView struct {
	ID        string         `json:"id"`
	Email     string         `json:"email"`
	Name      string         `json:"name"`
	Role      string         `json:"role"`
	Disabled  bool           `json:"disabled"`
	State     string         `json:"state"`
	Source    userSourceView `json:"source"`
	CreatedAt time.Time      `json:"createdAt"`
	UpdatedAt time.Time      `json:"updatedAt"`
}

func viewUser(u user.User) userView {
	src := userSourceView{Kind: u.Source.Kind, IntegrationID: u.Source.IntegrationID, ConnectionID: u.Source.ConnectionID, MemberID: u.Source.MemberID}
	if u.Source.Kind == user.SourcePSA {
		src.Member = viewSnapshot(&u.Source.Member)
	}
	return userView{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Disabled: u.Disabled, State: u.State, Source: src,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

type itemResultView struct {
	MemberID string `json:"memberId"`
	Name     string `json:"name,omitempty"`
	Email    string `json:"email,omitempty"`
	Role     string `json:"role,omitempty"`
	Action   string `json:"action,omitempty"`
	Status   string `json:"status"`
	Reason   string `json:"reason,omitempty"`
	UserID   string `json:"userId,omitempty"`
}

type importResultView struct {
	DryRun bool             `json:"dryRun"`
	Items  []itemResultView `json:"items"`
}

// multiStatus answers per-item results: 207 when something was done, 200
// for a dry run.
func multiStatus(res user.ImportResult) *httpapi.Response {
	out := importResultView{DryRun: res.DryRun, Items: []itemResultView{}}
	for _, it := range res.Items {
		out.Items = append(out.Items, itemResultView{MemberID: it.MemberID, Name: it.Name, Email: it.Email, Role: it.Role,
			Action: it.Action, Status: it.Status, Reason: it.Reason, UserID: it.UserID})
	}
	status := http.StatusMultiStatus
	if res.DryRun {
		status = http.StatusOK
	}
	return httpapi.JSON(status, out)
}

type memberChoiceBody struct {
	MemberID string `json:"memberId"`
	Role     string `json:"role"`
}

type importBody struct {
	IntegrationID string             `json:"integrationId"`
	Members       []memberChoiceBody `json:"members"`
	DryRun        bool               `json:"dryRun"`
}

func (a usersAPI) importUsers(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	var in importBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	req := user.ImportRequest{TenantID: r.Principal.TenantID, IntegrationID: in.IntegrationID, Actor: r.Principal.Actor(), DryRun: in.DryRun}
	for _, m := range in.Members {
		req.Members = append(req.Members, user.MemberChoice{MemberID: m.MemberID, Role: m.Role})
	}
	res, err := a.svc.Import(ctx, req)
	if err != nil {
		return nil, err
	}
	return multiStatus(res), nil
}

type changeView struct {
	MemberID string              `json:"memberId"`
	Change   string              `json:"change"`
	Action   string              `json:"action"`
	UserID   string              `json:"userId,omitempty"`
	Before   *memberSnapshotView `json:"before,omitempty"`
	After    *memberSnapshotView `json:"after,omitempty"`
}

type changesView struct {
	IntegrationID string       `json:"integrationId"`
	ConnectionID  string       `json:"connectionId"`
	Items         []changeView `json:"items"`
}

func (a usersAPI) changes(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	iid, err := r.QueryChecked("integrationId", limits.ID)
	if err != nil {
		return nil, err
	}
	if iid == "" {
		return nil, httpapi.BadRequest(apperr.FieldError{Field: "integrationId", Message: "is required"})
	}
	roster, changes, err := a.svc.Changes(ctx, r.Principal.TenantID, iid)
	if err != nil {
		return nil, err
	}
	out := changesView{IntegrationID: roster.IntegrationID, ConnectionID: roster.ConnectionID, Items: []changeView{}}
	for _, c := range changes {
		out.Items = append(out.Items, changeView{MemberID: c.MemberID, Change: c.Kind, Action: c.Action, UserID: c.UserID,
			Before: viewSnapshot(c.Before), After: viewSnapshot(c.After)})
	}
	return httpapi.JSON(http.StatusOK, out), nil
}

type changeChoiceBody struct {
	MemberID string `json:"memberId"`
	Action   string `json:"action"`
	Role     string `json:"role,omitempty"`
}

type applyBody struct {
	IntegrationID string             `json:"integrationId"`
	Changes       []changeChoiceBody `json:"changes"`
	DryRun        bool               `json:"dryRun"`
}

func (a usersAPI) applyChanges(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	var in applyBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	req := user.ApplyRequest{TenantID: r.Principal.TenantID, IntegrationID: in.IntegrationID, Actor: r.Principal.Actor(), DryRun: in.DryRun}
	for _, c := range in.Changes {
		req.Changes = append(req.Changes, user.ChangeChoice{MemberID: c.MemberID, Action: c.Action, Role: c.Role})
	}
	res, err := a.svc.ApplyChanges(ctx, req)
	if err != nil {
		return nil, err
	}
	return multiStatus(res), nil
}

func (a usersAPI) list(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	limit, cursor, err := r.Page()
	if err != nil {
		return nil, err
	}
	us, next, err := a.svc.List(ctx, r.Principal.TenantID, limit, cursor)
	if err != nil {
		return nil, httpapi.QueryError(err, "limit", "cursor")
	}
	out := httpapi.List[userView]{Items: []userView{}, NextCursor: next}
	for _, u := range us {
		out.Items = append(out.Items, viewUser(u))
	}
	return httpapi.JSON(http.StatusOK, out), nil
}

func (a usersAPI) get(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	u, err := a.svc.Get(ctx, r.Principal.TenantID, r.PathParam("userId"))
	if err != nil {
		return nil, err
	}
	return httpapi.JSON(http.StatusOK, viewUser(u)), nil
}

type userPatchBody struct {
	Role     *string `json:"role"`
	Disabled *bool   `json:"disabled"`
}

func (a usersAPI) update(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	var in userPatchBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	u, err := a.svc.Update(ctx, r.Principal.TenantID, r.PathParam("userId"), user.Patch{Role: in.Role, Disabled: in.Disabled}, r.Principal.Actor())
	if err != nil {
		return nil, err
	}
	return httpapi.JSON(http.StatusOK, viewUser(u)), nil
}

func (a usersAPI) delete(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	if err := a.svc.Delete(ctx, r.Principal.TenantID, r.PathParam("userId"), r.Principal.Actor()); err != nil {
		return nil, err
	}
	return nil, nil
}

// tokensView is a sign-in's answer. The ID token is the API's bearer
// token; the refresh token only comes with a sign-in.
type tokensView struct {
	IDToken      string `json:"idToken"`
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken,omitempty"`
	ExpiresIn    int    `json:"expiresIn"`
	TokenType    string `json:"tokenType"`
}

func viewTokens(t user.Tokens) tokensView {
	return tokensView{IDToken: t.IDToken, AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, ExpiresIn: t.ExpiresIn, TokenType: "Bearer"}
}

// challengeView asks for a new password (first sign-in).
type challengeView struct {
	Challenge string `json:"challenge"`
	Session   string `json:"session"`
}

type loginBody struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// noStore keeps tokens out of caches.
var noStore = map[string]string{"cache-control": "no-store"}

func withNoStore(resp *httpapi.Response) *httpapi.Response {
	resp.Headers = noStore
	return resp
}

func (a usersAPI) login(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	var in loginBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	res, err := a.signIn.Login(ctx, in.Email, in.Password, r.Event.RequestContext.HTTP.SourceIP)
	if err != nil {
		return nil, err
	}
	if res.Tokens == nil {
		return withNoStore(httpapi.JSON(http.StatusOK, challengeView{Challenge: res.Challenge, Session: res.Session})), nil
	}
	return withNoStore(httpapi.JSON(http.StatusOK, viewTokens(*res.Tokens))), nil
}

type newPasswordBody struct {
	Email       string `json:"email"`
	Session     string `json:"session"`
	NewPassword string `json:"newPassword"`
}

func (a usersAPI) newPassword(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	var in newPasswordBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	t, err := a.signIn.NewPassword(ctx, in.Email, in.Session, in.NewPassword)
	if err != nil {
		return nil, err
	}
	return withNoStore(httpapi.JSON(http.StatusOK, viewTokens(t))), nil
}

type refreshBody struct {
	RefreshToken string `json:"refreshToken"`
}

func (a usersAPI) refresh(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	var in refreshBody
	if err := r.Decode(&in); err != nil {
		return nil, err
	}
	t, err := a.signIn.Refresh(ctx, in.RefreshToken)
	if err != nil {
		return nil, err
	}
	return withNoStore(httpapi.JSON(http.StatusOK, viewTokens(t))), nil
}

func (a usersAPI) logout(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	if err := a.signIn.Logout(ctx, r.Principal.TenantID, r.Principal.UserID); err != nil {
		return nil, err
	}
	return nil, nil
}

// IntegrationReader reads an integration (connection.Service).
type IntegrationReader interface {
	GetIntegration(ctx context.Context, tenantID, id string) (connection.Integration, error)
}

// MemberRoster is the user.MemberSource of the API: an integration's PSA
// members, read through its PSA connection's client (any PSA whose client
// lists members: ConnectWise members, Autotask resources, HaloPSA agents).
type MemberRoster struct {
	Integrations IntegrationReader
	Clients      ClientOpener
}

var _ user.MemberSource = MemberRoster{}

// Roster implements user.MemberSource.
func (m MemberRoster) Roster(ctx context.Context, tenantID, integrationID string) (user.Roster, error) {
	ig, err := m.Integrations.GetIntegration(ctx, tenantID, integrationID)
	if err != nil {
		return user.Roster{}, err
	}
	cl, err := m.Clients.Open(ctx, tenantID, integrationID)
	if err != nil {
		return user.Roster{}, err
	}
	members, err := vendorspec.Require[psa.MemberLister](cl.PSA, vendorspec.MembersList, "importing users")
	if err != nil {
		return user.Roster{}, err
	}
	ms, err := members.ListMembers(ctx)
	if err != nil {
		return user.Roster{}, fmt.Errorf("list the PSA's members: %w", err)
	}
	return user.Roster{IntegrationID: ig.ID, ConnectionID: ig.PSAConnectionID, Members: ms}, nil
}
