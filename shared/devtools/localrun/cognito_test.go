package localrun

import (
	"context"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/rmmbridge/rmmbridge/shared/devtools/samtemplate"
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
)

// TestUserPoolFromTemplate: the project template's user pool, app client
// and groups are created in moto with the template's settings, the
// functions get their ids and issuer through the template's intrinsics,
// and a second start against the same moto reuses them.
func TestUserPoolFromTemplate(t *testing.T) {
	const path = "../../../template.yaml"
	tmpl, err := samtemplate.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	stub := func(context.Context, func(string) string, aws.Config) (lambdafn.Handlers, error) {
		return lambdafn.Handlers{
			HTTP: func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
				return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
			},
			Authorizer: func(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
				return events.APIGatewayV2CustomAuthorizerSimpleResponse{}, nil
			},
			SQS: func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
				return events.SQSEventResponse{}, nil
			},
			Scheduled: func(context.Context, events.EventBridgeEvent) error { return nil },
		}, nil
	}
	logs := &syncBuffer{}
	o := testOptions(t, &fakeFuncs{}, logs)
	o.TemplatePath = path
	o.Functions = map[string]lambdafn.Factory{}
	for _, f := range tmpl.Functions {
		o.Functions[f.LogicalID] = stub
	}
	s := start(t, o, logs)
	ctx := context.Background()
	c := cip.NewFromConfig(o.AWS)
	poolID, clientID := s.UserPoolID("UserPool"), s.UserPoolClientID("UserPoolClient")
	if poolID == "" || clientID == "" {
		t.Fatalf("pool %q, client %q: not created", poolID, clientID)
	}
	desc, err := c.DescribeUserPool(ctx, &cip.DescribeUserPoolInput{UserPoolId: aws.String(poolID)})
	if err != nil {
		t.Fatal(err)
	}
	p := desc.UserPool
	if aws.ToString(p.Name) != o.StackName+"-users" || !slices.Equal(toStrings(p.UsernameAttributes), []string{"email"}) ||
		aws.ToInt32(p.Policies.PasswordPolicy.MinimumLength) != 12 || !p.Policies.PasswordPolicy.RequireSymbols {
		t.Errorf("pool %s: name, username attributes %v or password policy %+v not the template's", aws.ToString(p.Name), p.UsernameAttributes, p.Policies.PasswordPolicy)
	}
	var tenantAttr bool
	for _, a := range p.SchemaAttributes {
		if aws.ToString(a.Name) == "custom:tenant_id" && !aws.ToBool(a.Mutable) {
			tenantAttr = true
		}
	}
	if !tenantAttr {
		t.Errorf("no immutable custom:tenant_id in %d schema attributes", len(p.SchemaAttributes))
	}
	cl, err := c.DescribeUserPoolClient(ctx, &cip.DescribeUserPoolClientInput{UserPoolId: aws.String(poolID), ClientId: aws.String(clientID)})
	if err != nil {
		t.Fatal(err)
	}
	if cl.UserPoolClient.ClientSecret != nil || !slices.Contains(toStrings(cl.UserPoolClient.ExplicitAuthFlows), "ALLOW_USER_PASSWORD_AUTH") ||
		slices.Contains(cl.UserPoolClient.WriteAttributes, "custom:tenant_id") {
		t.Errorf("client %+v: want no secret, USER_PASSWORD_AUTH, tenant not writable", cl.UserPoolClient)
	}
	gs, err := c.ListGroups(ctx, &cip.ListGroupsInput{UserPoolId: aws.String(poolID)})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range gs.Groups {
		names = append(names, aws.ToString(g.GroupName))
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"admin", "operator", "viewer"}) {
		t.Errorf("groups %v", names)
	}
	for _, fn := range []string{"UsersFunction", "AuthorizerFunction"} {
		env := s.Env(fn)
		want := map[string]string{"USER_POOL_ID": poolID, "USER_POOL_CLIENT_ID": clientID,
			"USER_POOL_ISSUER": "https://cognito-idp." + o.AWS.Region + ".amazonaws.com/" + poolID}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("%s %s = %q, want %q", fn, k, env[k], v)
			}
		}
	}
	// Again, on the same moto and stack name: the same pool and client.
	o2 := o
	o2.APIAddr = "127.0.0.1:0"
	s2 := start(t, o2, logs)
	if s2.UserPoolID("UserPool") != poolID || s2.UserPoolClientID("UserPoolClient") != clientID {
		t.Errorf("second start: pool %s client %s; want %s %s reused", s2.UserPoolID("UserPool"), s2.UserPoolClientID("UserPoolClient"), poolID, clientID)
	}
}

func toStrings[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}
