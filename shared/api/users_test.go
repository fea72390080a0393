package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/user"
)

// noPool is a user pool that must not be reached: every call fails the
// test's request with a 503, which e.call reports.
type noPool struct{}

func unreachable() error { return apperr.New(apperr.Unavailable, "the test has no user pool") }

func (noPool) CreateUser(context.Context, user.NewIdentity) (string, error) { return "", unreachable() }
func (noPool) FindUser(context.Context, string) (user.Identity, error) {
	return user.Identity{}, unreachable()
}
func (noPool) Reinvite(context.Context, string, string, string) error { return unreachable() }
func (noPool) SetRole(context.Context, string, string) error          { return unreachable() }
func (noPool) SetEnabled(context.Context, string, bool) error         { return unreachable() }
func (noPool) SignOut(context.Context, string) error                  { return unreachable() }
func (noPool) UpdateProfile(context.Context, string, string, string) error {
	return unreachable()
}
func (noPool) DeleteUser(context.Context, string) error          { return unreachable() }
func (noPool) SetPassword(context.Context, string, string) error { return unreachable() }
func (noPool) SignIn(context.Context, string, string) (user.AuthResult, error) {
	return user.AuthResult{}, unreachable()
}
func (noPool) AnswerNewPassword(context.Context, string, string, string) (user.Tokens, error) {
	return user.Tokens{}, unreachable()
}
func (noPool) Refresh(context.Context, string) (user.Tokens, error) {
	return user.Tokens{}, unreachable()
}

// TestUsersInput: every users and sign-in route refuses bad input with a
// 4xx naming the field, before the user pool or a vendor is reached.
func TestUsersInput(t *testing.T) {
	e := newInputEnv(t)
	many := make([]string, 51)
	for i := range many {
		many[i] = fmt.Sprintf(`{"memberId":"m%d","role":"viewer"}`, i)
	}
	long := strings.Repeat("p", 300)
	for _, tc := range []struct {
		name, method, route, body string
		query                     map[string]string
		status                    int
		field                     string
	}{
		{"import without members", "POST", "/v1/users/import", `{"integrationId":"i_a","members":[]}`, nil, 422, "members"},
		{"import hostile member id", "POST", "/v1/users/import", `{"integrationId":"i_a","members":[{"memberId":"1#USER#2","role":"viewer"}]}`, nil, 422, "members[0].memberId"},
		{"import bad role", "POST", "/v1/users/import", `{"integrationId":"i_a","members":[{"memberId":"1","role":"root"}]}`, nil, 422, "members[0].role"},
		{"import no role", "POST", "/v1/users/import", `{"integrationId":"i_a","members":[{"memberId":"1"}]}`, nil, 422, "members[0].role"},
		{"import a member twice", "POST", "/v1/users/import", `{"integrationId":"i_a","members":[{"memberId":"1","role":"viewer"},{"memberId":"1","role":"admin"}]}`, nil, 422, "members[1].memberId"},
		{"import 51 members", "POST", "/v1/users/import", `{"integrationId":"i_a","members":[` + strings.Join(many, ",") + `]}`, nil, 422, "members"},
		{"import hostile integration", "POST", "/v1/users/import", `{"integrationId":"i_b#INT","members":[{"memberId":"1","role":"viewer"}]}`, nil, 422, "integrationId"},
		{"import unknown member", "POST", "/v1/users/import", `{"integrationId":"i_a","members":[{"memberId":"1","role":"viewer","apiKey":"x"}]}`, nil, 400, "members[0].apiKey"},
		{"import wrong type", "POST", "/v1/users/import", `{"integrationId":"i_a","members":"all"}`, nil, 400, "members"},
		{"import another tenant's integration", "POST", "/v1/users/import", `{"integrationId":"i_b","members":[{"memberId":"1","role":"viewer"}]}`, nil, 404, ""},
		{"changes without integration", "GET", "/v1/users/import/changes", "", nil, 400, "integrationId"},
		{"changes hostile integration", "GET", "/v1/users/import/changes", "", map[string]string{"integrationId": "i#b"}, 400, "integrationId"},
		{"changes of another tenant's integration", "GET", "/v1/users/import/changes", "", map[string]string{"integrationId": "i_b"}, 404, ""},
		{"apply bad action", "POST", "/v1/users/import/changes", `{"integrationId":"i_a","changes":[{"memberId":"1","action":"erase"}]}`, nil, 422, "changes[0].action"},
		{"apply create without role", "POST", "/v1/users/import/changes", `{"integrationId":"i_a","changes":[{"memberId":"1","action":"create"}]}`, nil, 422, "changes[0].role"},
		{"patch nothing", "PATCH", "/v1/users/{userId}", `{}`, nil, 422, "(body)"},
		{"patch bad role", "PATCH", "/v1/users/{userId}", `{"role":"root"}`, nil, 422, "role"},
		{"patch unknown member", "PATCH", "/v1/users/{userId}", `{"email":"x@y.z"}`, nil, 400, "email"},
		{"patch wrong type", "PATCH", "/v1/users/{userId}", `{"disabled":"yes"}`, nil, 400, "disabled"},
		{"login without password", "POST", "/v1/auth/login", `{"email":"a@b.example"}`, nil, 422, "password"},
		{"login with a 300-byte password", "POST", "/v1/auth/login", `{"email":"a@b.example","password":"` + long + `"}`, nil, 422, "password"},
		{"login unknown member", "POST", "/v1/auth/login", `{"email":"a@b.example","password":"x","remember":true}`, nil, 400, "remember"},
		{"login malformed", "POST", "/v1/auth/login", `{"email":`, nil, 400, ""},
		{"new password without session", "POST", "/v1/auth/new-password", `{"email":"a@b.example","newPassword":"Abc-12345678"}`, nil, 422, "session"},
		{"refresh empty", "POST", "/v1/auth/refresh", `{"refreshToken":""}`, nil, 422, "refreshToken"},
		{"logout with an API key", "POST", "/v1/auth/logout", "", nil, 422, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, detail, fe := e.call(t, request{method: tc.method, route: tc.route, params: map[string]string{"userId": "u-nobody"}, query: tc.query, body: tc.body})
			if st != tc.status {
				t.Fatalf("status %d (%s %+v), want %d", st, detail, fe, tc.status)
			}
			if tc.field != "" && !hasField(fe, tc.field) {
				t.Errorf("errors %+v do not name %s", fe, tc.field)
			}
		})
	}
	if len(e.guard.opened) != 0 {
		t.Errorf("refused requests opened vendor clients: %v", e.guard.opened)
	}
}

// TestUsersOfOtherTenants: a user of tenant B is not found by tenant A's
// admin, whatever the route, and stays as it was.
func TestUsersOfOtherTenants(t *testing.T) {
	ctx := context.Background()
	e := newInputEnv(t)
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	bob := user.User{ID: "u-bob", TenantID: "t_b", Email: "bob@b.example", Name: "Bob", Role: "admin", State: user.StateActive,
		Source: user.Source{Kind: user.SourceSeed}, CreatedAt: now, UpdatedAt: now, Version: 1}
	if _, err := e.users.ClaimEmail(ctx, "t_b", bob.Email, "o", now.Add(time.Minute), now); err != nil {
		t.Fatal(err)
	}
	if err := e.users.CreateUser(ctx, bob, "o", user.AuditEvent{At: now, Actor: "seed", Action: "user.create", Target: "user/u-bob"}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []request{
		{method: "GET", route: "/v1/users/{userId}"},
		{method: "PATCH", route: "/v1/users/{userId}", body: `{"role":"viewer"}`},
		{method: "PATCH", route: "/v1/users/{userId}", body: `{"disabled":true}`},
		{method: "DELETE", route: "/v1/users/{userId}"},
	} {
		q.params = map[string]string{"userId": "u-bob"}
		t.Run(q.method+" "+q.body, func(t *testing.T) {
			if st, detail, _ := e.call(t, q); st != http.StatusNotFound {
				t.Errorf("status %d (%s), want 404", st, detail)
			}
		})
	}
	st, body, _ := e.call(t, request{method: "GET", route: "/v1/users"})
	if st != 200 || strings.Contains(body, "u-bob") {
		t.Errorf("t_a's user list = %d %s; want 200 without t_b's user", st, body)
	}
	if got, err := e.users.GetUser(ctx, "t_b", "u-bob"); err != nil || got != bob {
		t.Errorf("t_b's user changed: %+v, %v", got, err)
	}
}
