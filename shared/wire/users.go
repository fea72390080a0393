package wire

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/rmmbridge/rmmbridge/shared/api"
	"github.com/rmmbridge/rmmbridge/shared/authorizer"
	"github.com/rmmbridge/rmmbridge/shared/cognito"
	"github.com/rmmbridge/rmmbridge/shared/config"
	"github.com/rmmbridge/rmmbridge/shared/connection"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/idtoken"
	"github.com/rmmbridge/rmmbridge/shared/user"
)

// userPool is the user pool a function reads from its environment
// (template.yaml: USER_POOL_ID, USER_POOL_CLIENT_ID, USER_POOL_ISSUER).
type userPool struct {
	ID, ClientID, Issuer string
}

func readUserPool(r *config.Reader) userPool {
	return userPool{ID: r.String("USER_POOL_ID"), ClientID: r.String("USER_POOL_CLIENT_ID"), Issuer: r.URL("USER_POOL_ISSUER")}
}

// DevMailboxEnv is a local-only switch (never in template.yaml): a file
// where the API function puts the invitations of new users, with their
// temporary password, instead of having the user pool mail them. `make
// dev` prints them; the end-to-end tests read them.
const DevMailboxEnv = "RMMBRIDGE_DEV_MAILBOX"

// cognitoEndpointEnv is the SDK's service-specific endpoint variable for
// Cognito user pools.
const cognitoEndpointEnv = "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"

// jwksURL is where the pool's signing keys are: <issuer>/.well-known/jwks.json
// in AWS; when the SDK is pointed at another endpoint (moto, through the
// SDK's own endpoint settings), that endpoint's /<poolId>/.well-known/jwks.json,
// where moto serves them.
func jwksURL(getenv func(string) string, cfg aws.Config, up userPool) string {
	base := strings.TrimSpace(getenv(cognitoEndpointEnv))
	if base == "" && cfg.BaseEndpoint != nil {
		base = *cfg.BaseEndpoint
	}
	if base != "" {
		return strings.TrimRight(base, "/") + "/" + up.ID + "/.well-known/jwks.json"
	}
	return strings.TrimRight(up.Issuer, "/") + "/.well-known/jwks.json"
}

// verifier builds the ID token verifier of the pool.
func verifier(getenv func(string) string, cfg aws.Config, up userPool) (*idtoken.Verifier, error) {
	v, err := idtoken.New(idtoken.Config{Issuer: up.Issuer, ClientID: up.ClientID, JWKSURL: jwksURL(getenv, cfg, up),
		HTTP: &http.Client{Timeout: 3 * time.Second}})
	if err != nil {
		return nil, fmt.Errorf("user pool token verifier: %w", err)
	}
	return v, nil
}

// tokenReader reads the user of a verified ID token (user.TokenReader).
type tokenReader struct{ v *idtoken.Verifier }

// Read implements user.TokenReader.
func (t tokenReader) Read(ctx context.Context, tok string) (user.TokenUser, error) {
	c, err := t.v.Verify(ctx, tok)
	if err != nil {
		return user.TokenUser{}, err
	}
	role, err := user.RoleOf(c.Groups)
	if err != nil {
		return user.TokenUser{}, err
	}
	return user.TokenUser{UserID: c.Subject, TenantID: c.TenantID, Role: role, IssuedAt: c.IssuedAt}, nil
}

// usersDeps builds the API function's user management and sign-in.
func usersDeps(getenv func(string) string, cfg aws.Config, st *dynamostore.Store, conns *connection.Service, clients api.ClientOpener, up userPool) (*user.Service, *user.SignIn, error) {
	v, err := verifier(getenv, cfg, up)
	if err != nil {
		return nil, nil, err
	}
	pool := cognito.New(cip.NewFromConfig(cfg), up.ID, up.ClientID)
	o := user.Options{}
	if path := strings.TrimSpace(getenv(DevMailboxEnv)); path != "" {
		o.Mailbox = &user.FileMailbox{Path: path}
	}
	users := dynamostore.NewUsers(st)
	svc := user.NewService(users, pool, api.MemberRoster{Integrations: conns, Clients: clients}, o)
	signIn := user.NewSignIn(pool, tokenReader{v}, users, pool, dynamostore.NewSignInFailures(st), user.Throttle{}, nil)
	return svc, signIn, nil
}

// withUsers makes the authorizer accept the pool's ID tokens.
func withUsers(h *authorizer.Handler, getenv func(string) string, cfg aws.Config, st *dynamostore.Store, up userPool) (*authorizer.Handler, error) {
	v, err := verifier(getenv, cfg, up)
	if err != nil {
		return nil, err
	}
	return h.WithUsers(v, dynamostore.NewUsers(st)), nil
}

// DemoAdmin is the local stack's demo admin user.
type DemoAdmin struct {
	Email, Password, UserID string
}

// DemoAdminEmail signs in as the demo admin.
const DemoAdminEmail = "admin@demo-msp.example"

// SeedDemoAdmin makes sure the demo tenant has an admin user who signs in
// with password (a new random one when ""), in the user pool poolID with
// app client clientID: the first admin, who imports the others.
func SeedDemoAdmin(ctx context.Context, cfg aws.Config, table, poolID, clientID, password string) (DemoAdmin, error) {
	if password == "" {
		p, err := user.TemporaryPassword(rand.Reader)
		if err != nil {
			return DemoAdmin{}, err
		}
		password = p
	}
	u, err := SeedUser(ctx, cfg, table, poolID, clientID, user.SeedRequest{TenantID: DemoTenantID, Email: DemoAdminEmail,
		Name: "Demo Admin", Role: user.RoleAdmin, Password: password})
	if err != nil {
		return DemoAdmin{}, fmt.Errorf("seed the demo admin: %w", err)
	}
	return DemoAdmin{Email: DemoAdminEmail, Password: password, UserID: u.ID}, nil
}

// SeedUser makes sure a user exists with a known password (local stack
// and tests only: users are otherwise imported from the PSA).
func SeedUser(ctx context.Context, cfg aws.Config, table, poolID, clientID string, in user.SeedRequest) (user.User, error) {
	svc := user.NewService(dynamostore.NewUsers(store(cfg, table)), cognito.New(cip.NewFromConfig(cfg), poolID, clientID), nil, user.Options{})
	u, err := svc.Seed(ctx, in)
	if err != nil {
		return user.User{}, err
	}
	slog.Default().InfoContext(ctx, "seed user ready", "tenantId", u.TenantID, "userId", u.ID)
	return u, nil
}
