package cognito

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
)

func TestProbe(t *testing.T) {
	ctx := context.Background()
	cfg := motoserver.ForTest(t)
	c := cip.NewFromConfig(cfg)
	pool, err := c.CreateUserPool(ctx, &cip.CreateUserPoolInput{PoolName: aws.String("probe"),
		UsernameAttributes: []types.UsernameAttributeType{types.UsernameAttributeTypeEmail},
		Schema: []types.SchemaAttributeType{{Name: aws.String("tenant_id"), AttributeDataType: types.AttributeDataTypeString, Mutable: aws.Bool(false)}},
		Policies: &types.UserPoolPolicyType{PasswordPolicy: &types.PasswordPolicyType{MinimumLength: aws.Int32(12), RequireLowercase: true, RequireUppercase: true, RequireNumbers: true, RequireSymbols: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	pid := *pool.UserPool.Id
	cl, err := c.CreateUserPoolClient(ctx, &cip.CreateUserPoolClientInput{UserPoolId: &pid, ClientName: aws.String("app"),
		ExplicitAuthFlows: []types.ExplicitAuthFlowsType{types.ExplicitAuthFlowsTypeAllowUserPasswordAuth, types.ExplicitAuthFlowsTypeAllowRefreshTokenAuth},
		ReadAttributes: []string{"email", "custom:tenant_id"}, WriteAttributes: []string{"name"}})
	if err != nil {
		t.Fatal(err)
	}
	cid := *cl.UserPoolClient.ClientId
	for _, g := range []string{"admin", "viewer"} {
		if _, err := c.CreateGroup(ctx, &cip.CreateGroupInput{UserPoolId: &pid, GroupName: aws.String(g)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.CreateGroup(ctx, &cip.CreateGroupInput{UserPoolId: &pid, GroupName: aws.String("admin")})
	t.Logf("dup group: %T %v", err, err)
	u, err := c.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: &pid, Username: aws.String("alice@x.example"), TemporaryPassword: aws.String("Temp-pass-123!"),
		MessageAction: types.MessageActionTypeSuppress,
		UserAttributes: []types.AttributeType{{Name: aws.String("email"), Value: aws.String("alice@x.example")}, {Name: aws.String("custom:tenant_id"), Value: aws.String("t_a")}, {Name: aws.String("email_verified"), Value: aws.String("true")}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("user %s status %s attrs %v", *u.User.Username, u.User.UserStatus, u.User.Attributes)
	_, err = c.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: &pid, Username: aws.String("alice@x.example"), TemporaryPassword: aws.String("Temp-pass-123!")})
	t.Logf("dup user: %T %v", err, err)
	if _, err := c.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: &pid, Username: aws.String("alice@x.example"), GroupName: aws.String("admin")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: &cid, AuthFlow: types.AuthFlowTypeUserPasswordAuth, AuthParameters: map[string]string{"USERNAME": "alice@x.example", "PASSWORD": "wrong"}})
	t.Logf("wrong pw: %T %v", err, err)
	_, err = c.InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: &cid, AuthFlow: types.AuthFlowTypeUserPasswordAuth, AuthParameters: map[string]string{"USERNAME": "nobody@x.example", "PASSWORD": "wrong"}})
	t.Logf("unknown: %T %v", err, err)
	a, err := c.InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: &cid, AuthFlow: types.AuthFlowTypeUserPasswordAuth, AuthParameters: map[string]string{"USERNAME": "alice@x.example", "PASSWORD": "Temp-pass-123!"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("challenge %s params %v session %v", a.ChallengeName, a.ChallengeParameters, a.Session != nil)
	_, err = c.RespondToAuthChallenge(ctx, &cip.RespondToAuthChallengeInput{ClientId: &cid, ChallengeName: types.ChallengeNameTypeNewPasswordRequired, Session: a.Session,
		ChallengeResponses: map[string]string{"USERNAME": "alice@x.example", "NEW_PASSWORD": "short"}})
	t.Logf("weak: %T %v", err, err)
	r, err := c.RespondToAuthChallenge(ctx, &cip.RespondToAuthChallengeInput{ClientId: &cid, ChallengeName: types.ChallengeNameTypeNewPasswordRequired, Session: a.Session,
		ChallengeResponses: map[string]string{"USERNAME": "alice@x.example", "NEW_PASSWORD": "New-pass-12345!"}})
	if err != nil {
		t.Fatal(err)
	}
	ar := r.AuthenticationResult
	for _, tok := range []string{*ar.IdToken, *ar.AccessToken} {
		parts := strings.Split(tok, ".")
		h, _ := base64.RawURLEncoding.DecodeString(parts[0])
		p, _ := base64.RawURLEncoding.DecodeString(parts[1])
		t.Logf("header %s payload %s", h, p)
	}
	t.Logf("refresh %v expires %d", ar.RefreshToken != nil, ar.ExpiresIn)
	resp, err := http.Get(*cfg.BaseEndpoint + "/" + pid + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	t.Logf("jwks %d %s", resp.StatusCode, b)
	ref, err := c.InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: &cid, AuthFlow: types.AuthFlowTypeRefreshTokenAuth, AuthParameters: map[string]string{"REFRESH_TOKEN": *ar.RefreshToken}})
	t.Logf("refresh: %v %v", err, ref != nil && ref.AuthenticationResult != nil)
	if _, err := c.AdminDisableUser(ctx, &cip.AdminDisableUserInput{UserPoolId: &pid, Username: aws.String("alice@x.example")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: &cid, AuthFlow: types.AuthFlowTypeUserPasswordAuth, AuthParameters: map[string]string{"USERNAME": "alice@x.example", "PASSWORD": "New-pass-12345!"}})
	t.Logf("disabled login: %T %v", err, err)
	_, err = c.InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: &cid, AuthFlow: types.AuthFlowTypeRefreshTokenAuth, AuthParameters: map[string]string{"REFRESH_TOKEN": *ar.RefreshToken}})
	t.Logf("disabled refresh: %v", err)
	_, err = c.AdminUserGlobalSignOut(ctx, &cip.AdminUserGlobalSignOutInput{UserPoolId: &pid, Username: aws.String("alice@x.example")})
	t.Logf("admin signout: %v", err)
	_, err = c.InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: &cid, AuthFlow: types.AuthFlowTypeRefreshTokenAuth, AuthParameters: map[string]string{"REFRESH_TOKEN": *ar.RefreshToken}})
	t.Logf("refresh after signout: %T %v", err, err)
	_, err = c.GlobalSignOut(ctx, &cip.GlobalSignOutInput{AccessToken: ar.AccessToken})
	t.Logf("global signout: %v", err)
	g, err := c.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: &pid, Username: aws.String("alice@x.example")})
	t.Logf("get: %v %v", err, g != nil)
	if g != nil {
		t.Logf("get username %s enabled %v attrs %v", *g.Username, g.Enabled, g.UserAttributes)
	}
	g2, err := c.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: &pid, Username: u.User.Username})
	t.Logf("get by sub: %v %v", err, g2 != nil)
	_, err = c.AdminUpdateUserAttributes(ctx, &cip.AdminUpdateUserAttributesInput{UserPoolId: &pid, Username: aws.String("alice@x.example"), UserAttributes: []types.AttributeType{{Name: aws.String("custom:tenant_id"), Value: aws.String("t_b")}}})
	t.Logf("update immutable: %v", err)
	_, err = c.AdminDeleteUser(ctx, &cip.AdminDeleteUserInput{UserPoolId: &pid, Username: aws.String("nobody@x.example")})
	t.Logf("delete unknown: %T %v", err, err)
	pools, _ := c.ListUserPools(ctx, &cip.ListUserPoolsInput{MaxResults: aws.Int32(60)})
	fmt.Println(len(pools.UserPools))
	d, err := c.DescribeUserPool(ctx, &cip.DescribeUserPoolInput{UserPoolId: &pid})
	t.Logf("describe: %v", err)
	if d != nil { t.Logf("%v", d.UserPool.SchemaAttributes)}
}
