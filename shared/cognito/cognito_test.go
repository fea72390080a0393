package cognito_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/cognito"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/idtoken"
	"github.com/rmmbridge/rmmbridge/shared/user"
)

// testPool is a user pool set up the way template.yaml sets it up.
type testPool struct {
	client           *cip.Client
	poolID, clientID string
	pool             *cognito.Pool
	endpoint         string
}

func newPool(t *testing.T) testPool {
	t.Helper()
	ctx := context.Background()
	cfg := motoserver.ForTest(t)
	c := cip.NewFromConfig(cfg)
	out, err := c.CreateUserPool(ctx, &cip.CreateUserPoolInput{PoolName: aws.String(motoserver.UniqueName("pool")),
		UsernameAttributes: []types.UsernameAttributeType{types.UsernameAttributeTypeEmail},
		Schema:             []types.SchemaAttributeType{{Name: aws.String("tenant_id"), AttributeDataType: types.AttributeDataTypeString, Mutable: aws.Bool(false)}},
		Policies: &types.UserPoolPolicyType{PasswordPolicy: &types.PasswordPolicyType{MinimumLength: aws.Int32(12),
			RequireLowercase: true, RequireUppercase: true, RequireNumbers: true, RequireSymbols: true}},
	})
	if err != nil {
		t.Fatalf("create pool: %v", err)
	}
	pid := aws.ToString(out.UserPool.Id)
	cl, err := c.CreateUserPoolClient(ctx, &cip.CreateUserPoolClientInput{UserPoolId: aws.String(pid), ClientName: aws.String("console"),
		ExplicitAuthFlows: []types.ExplicitAuthFlowsType{types.ExplicitAuthFlowsTypeAllowUserPasswordAuth, types.ExplicitAuthFlowsTypeAllowRefreshTokenAuth},
		ReadAttributes:    []string{"email", "name", "custom:tenant_id"}, WriteAttributes: []string{"name"}})
	if err != nil {
		t.Fatalf("create client: %v", err)
	}
	for _, g := range user.Roles {
		if _, err := c.CreateGroup(ctx, &cip.CreateGroupInput{UserPoolId: aws.String(pid), GroupName: aws.String(g)}); err != nil {
			t.Fatal(err)
		}
	}
	cid := aws.ToString(cl.UserPoolClient.ClientId)
	return testPool{client: c, poolID: pid, clientID: cid, pool: cognito.New(c, pid, cid), endpoint: aws.ToString(cfg.BaseEndpoint)}
}

func (p testPool) verifier(t *testing.T, now func() time.Time) *idtoken.Verifier {
	t.Helper()
	v, err := idtoken.New(idtoken.Config{Issuer: "https://cognito-idp.us-east-1.amazonaws.com/" + p.poolID, ClientID: p.clientID,
		JWKSURL: p.endpoint + "/" + p.poolID + "/.well-known/jwks.json", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (p testPool) groups(t *testing.T, id string) []string {
	t.Helper()
	out, err := p.client.AdminListGroupsForUser(context.Background(), &cip.AdminListGroupsForUserInput{UserPoolId: aws.String(p.poolID), Username: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	var gs []string
	for _, g := range out.Groups {
		gs = append(gs, aws.ToString(g.GroupName))
	}
	slices.Sort(gs)
	return gs
}

const (
	temp    = "Temp-pass-1234"
	newPass = "Chosen-pass-5678"
)

// TestDirectory drives the identity lifecycle through the real SDK client
// against moto's cognito-idp: create (with the tenant attribute), find,
// duplicate refused, role groups, disable/enable, global sign-out, profile
// change, delete.
func TestDirectory(t *testing.T) {
	ctx := context.Background()
	p := newPool(t)
	id, err := p.pool.CreateUser(ctx, user.NewIdentity{Email: "alice@msp.example", Name: "Alice", TenantID: "t_a", TemporaryPassword: temp})
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.pool.FindUser(ctx, "alice@msp.example")
	if err != nil || got != (user.Identity{ID: id, Email: "alice@msp.example", TenantID: "t_a", Enabled: true}) {
		t.Fatalf("FindUser = %+v, %v", got, err)
	}
	if _, err := p.pool.CreateUser(ctx, user.NewIdentity{Email: "alice@msp.example", Name: "Alice 2", TenantID: "t_b", TemporaryPassword: temp}); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("second identity with the address = %v, want Conflict", err)
	}
	if _, err := p.pool.FindUser(ctx, "nobody@msp.example"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("FindUser unknown = %v, want NotFound", err)
	}
	for _, role := range []string{"admin", "operator", "operator", "viewer"} {
		if err := p.pool.SetRole(ctx, id, role); err != nil {
			t.Fatal(err)
		}
		if gs := p.groups(t, id); !slices.Equal(gs, []string{role}) {
			t.Errorf("after SetRole(%s) groups = %v", role, gs)
		}
	}
	if err := p.pool.SetRole(ctx, id, "root"); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("SetRole(root) = %v, want Invalid", err)
	}
	// First sign-in: the challenge, then tokens.
	res, err := p.pool.SignIn(ctx, "alice@msp.example", temp)
	if err != nil || res.Challenge != user.ChallengeNewPassword || res.Session == "" || res.Tokens != nil {
		t.Fatalf("first sign-in = %+v, %v; want the new-password challenge", res, err)
	}
	if _, err := p.pool.AnswerNewPassword(ctx, "alice@msp.example", res.Session, "short"); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("weak new password = %v, want Invalid", err)
	} else if e, _ := apperr.As(err); len(e.Fields) != 1 || e.Fields[0].Field != "newPassword" {
		t.Errorf("weak new password fields %+v, want newPassword", e.Fields)
	}
	tok, err := p.pool.AnswerNewPassword(ctx, "alice@msp.example", res.Session, newPass)
	if err != nil || tok.IDToken == "" || tok.RefreshToken == "" || tok.ExpiresIn <= 0 {
		t.Fatalf("answer = %+v, %v", tok, err)
	}
	if _, err := p.pool.AnswerNewPassword(ctx, "alice@msp.example", "not-a-session", newPass); !apperr.Is(err, apperr.Unauthorized) {
		t.Errorf("unknown session = %v, want Unauthorized", err)
	}
	// Disabled: no sign-in; enabled again: sign-in.
	if err := p.pool.SetEnabled(ctx, id, false); err != nil {
		t.Fatal(err)
	}
	if _, err := p.pool.SignIn(ctx, "alice@msp.example", newPass); !apperr.Is(err, apperr.Unauthorized) {
		t.Errorf("disabled sign-in = %v, want Unauthorized", err)
	}
	if err := p.pool.SetEnabled(ctx, id, true); err != nil {
		t.Fatal(err)
	}
	res, err = p.pool.SignIn(ctx, "alice@msp.example", newPass)
	if err != nil || res.Tokens == nil {
		t.Fatalf("sign-in after enable = %+v, %v", res, err)
	}
	if _, err := p.pool.Refresh(ctx, res.Tokens.RefreshToken); err != nil {
		t.Errorf("refresh = %v", err)
	}
	if err := p.pool.SignOut(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := p.pool.Refresh(ctx, res.Tokens.RefreshToken); !apperr.Is(err, apperr.Unauthorized) {
		t.Errorf("refresh after global sign-out = %v, want Unauthorized", err)
	}
	if err := p.pool.UpdateProfile(ctx, id, "alice.b@msp.example", "Alice B"); err != nil {
		t.Fatal(err)
	}
	if got, err := p.pool.FindUser(ctx, "alice.b@msp.example"); err != nil || got.ID != id {
		t.Errorf("after the email change FindUser = %+v, %v", got, err)
	}
	if err := p.pool.Reinvite(ctx, id, "alice.b@msp.example", "Another-temp-123"); err != nil {
		t.Fatal(err)
	}
	if res, err := p.pool.SignIn(ctx, "alice.b@msp.example", "Another-temp-123"); err != nil || res.Challenge != user.ChallengeNewPassword {
		t.Errorf("sign-in after a re-invitation = %+v, %v; want the challenge", res, err)
	}
	if err := p.pool.SetPassword(ctx, id, newPass); err != nil {
		t.Fatal(err)
	}
	if res, err := p.pool.SignIn(ctx, "alice.b@msp.example", newPass); err != nil || res.Tokens == nil {
		t.Errorf("sign-in with a set password = %+v, %v", res, err)
	}
	if err := p.pool.DeleteUser(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := p.pool.DeleteUser(ctx, id); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("second delete = %v, want NotFound", err)
	}
	if err := p.pool.SetEnabled(ctx, id, true); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("enable a deleted identity = %v, want NotFound", err)
	}
}

// TestSignInAnswers: a wrong password and an unknown email are the same
// Unauthorized error, and no error carries the email, the password or a
// token (moto's messages quote tokens).
func TestSignInAnswers(t *testing.T) {
	ctx := context.Background()
	p := newPool(t)
	id, err := p.pool.CreateUser(ctx, user.NewIdentity{Email: "bob@msp.example", Name: "Bob", TenantID: "t_a", TemporaryPassword: temp})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.pool.SetPassword(ctx, id, newPass); err != nil {
		t.Fatal(err)
	}
	_, wrong := p.pool.SignIn(ctx, "bob@msp.example", "Wrong-pass-0000")
	_, unknown := p.pool.SignIn(ctx, "nobody@msp.example", "Wrong-pass-0000")
	for name, err := range map[string]error{"wrong password": wrong, "unknown email": unknown} {
		e, ok := apperr.As(err)
		if !ok || e.Kind != apperr.Unauthorized || e.Message != "not authorized" {
			t.Errorf("%s = %v, want Unauthorized \"not authorized\"", name, err)
		}
		for _, secret := range []string{"bob@msp.example", "nobody@msp.example", "Wrong-pass-0000"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s error quotes %q: %v", name, secret, err)
			}
		}
	}
	res, err := p.pool.SignIn(ctx, "bob@msp.example", newPass)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.pool.SignOut(ctx, id); err != nil {
		t.Fatal(err)
	}
	_, err = p.pool.Refresh(ctx, res.Tokens.RefreshToken)
	if err == nil || strings.Contains(err.Error(), res.Tokens.RefreshToken) {
		t.Errorf("revoked refresh = %v; want refused without quoting the token", err)
	}
}

func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTokens verifies the pool's real tokens against its JWKS (served by
// moto at /<poolId>/.well-known/jwks.json): the ID token passes with the
// tenant, the email and the role group; an access token, a token of
// another pool or another app client, an expired token, a tampered one and
// one naming an unknown key are refused.
func TestTokens(t *testing.T) {
	ctx := context.Background()
	p, other := newPool(t), newPool(t)
	now := time.Now()
	v := p.verifier(t, func() time.Time { return now })
	signIn := func(tp testPool, email string) user.Tokens {
		t.Helper()
		id, err := tp.pool.CreateUser(ctx, user.NewIdentity{Email: email, Name: "C", TenantID: "t_c", TemporaryPassword: temp})
		if err != nil {
			t.Fatal(err)
		}
		if err := tp.pool.SetRole(ctx, id, "operator"); err != nil {
			t.Fatal(err)
		}
		if err := tp.pool.SetPassword(ctx, id, newPass); err != nil {
			t.Fatal(err)
		}
		res, err := tp.pool.SignIn(ctx, email, newPass)
		if err != nil {
			t.Fatal(err)
		}
		return *res.Tokens
	}
	tok := signIn(p, "carol@msp.example")
	c, err := v.Verify(ctx, tok.IDToken)
	if err != nil {
		t.Fatalf("the pool's ID token refused: %v", err)
	}
	if c.TenantID != "t_c" || c.Email != "carol@msp.example" || !slices.Equal(c.Groups, []string{"operator"}) || c.Subject == "" {
		t.Errorf("claims %+v; want tenant t_c, the email, group operator", c)
	}
	// A second app client of the same pool: its tokens are not for us.
	cl2, err := p.client.CreateUserPoolClient(ctx, &cip.CreateUserPoolClientInput{UserPoolId: aws.String(p.poolID), ClientName: aws.String("other"),
		ExplicitAuthFlows: []types.ExplicitAuthFlowsType{types.ExplicitAuthFlowsTypeAllowUserPasswordAuth}})
	if err != nil {
		t.Fatal(err)
	}
	res2, err := cognito.New(p.client, p.poolID, aws.ToString(cl2.UserPoolClient.ClientId)).SignIn(ctx, "carol@msp.example", newPass)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok.IDToken, ".")
	hdr, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "not-in-the-set"})
	later := p.verifier(t, func() time.Time { return now.Add(2 * time.Hour) })
	for _, tc := range []struct {
		name, token, reason string
		v                   *idtoken.Verifier
	}{
		{"access token", tok.AccessToken, "token use", v},
		{"ID token of another pool", signIn(other, "dave@msp.example").IDToken, "wrong issuer", v},
		{"ID token of another app client", res2.Tokens.IDToken, "wrong audience", v},
		{"expired", tok.IDToken, "expired", later},
		{"tampered signature", parts[0] + "." + parts[1] + "." + strings.ToUpper(parts[2][:8]) + parts[2][8:], "bad signature", v},
		{"tampered claims", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(mustDecode(t, parts[1])), "t_c", "t_x", 1))) + "." + parts[2], "bad signature", v},
		{"unknown kid", base64.RawURLEncoding.EncodeToString(hdr) + "." + parts[1] + "." + parts[2], "unknown key id", v},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.v.Verify(ctx, tc.token)
			if !apperr.Is(err, apperr.Unauthorized) || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("Verify = %v, want Unauthorized naming %q", err, tc.reason)
			}
		})
	}
	// Why the API takes the ID token: access tokens carry no tenant.
	if c := claimsOf(t, tok.AccessToken); c["custom:tenant_id"] != nil || c["token_use"] != "access" {
		t.Errorf("access token claims %v: expected no tenant attribute", c)
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
