// Package usersfn builds the users function (the management API's users
// and sign-in routes, api.UserRoutes) from its environment;
// functions/users/main.go and the local stack call Build. It is the only
// function that links the Cognito SDK and holds the pool's Admin*
// permissions (template.yaml UsersFunction).
package usersfn

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rmmbridge/rmmbridge/shared/api"
	"github.com/rmmbridge/rmmbridge/shared/cognito"
	"github.com/rmmbridge/rmmbridge/shared/config"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/conns"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/fnenv"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/userpool"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/user"
)

// Build builds the users and sign-in routes: the users imported from the
// PSA (its members, read through the integrations' connections in Secrets
// Manager under SECRET_PREFIX) with their sign-in, over the Cognito user
// pool of USER_POOL_ID. Invitations go to the dev mailbox file when
// fnenv.DevMailboxEnv is set (local stack), else the pool mails them.
func Build(_ context.Context, getenv func(string) string, cfg aws.Config) (lambdafn.Handlers, error) {
	r := config.New(getenv)
	table, secretPrefix := r.String("TABLE_NAME"), r.String("SECRET_PREFIX")
	allowLoopback := r.Bool(fnenv.AllowLoopbackEnv, false)
	up := userpool.Read(r)
	if err := r.Err(); err != nil {
		return lambdafn.Handlers{}, fmt.Errorf("users: %w", err)
	}
	v, err := userpool.Verifier(getenv, cfg, up)
	if err != nil {
		return lambdafn.Handlers{}, fmt.Errorf("users: %w", err)
	}
	st := fnenv.Table(cfg, table)
	cs := conns.Service(st, cfg, secretPrefix, allowLoopback)
	clients := opener{conns.Opener(st, cs, allowLoopback)}
	pool := cognito.New(newLazyCognito(cfg), up.ID, up.ClientID)
	o := user.Options{}
	if path := strings.TrimSpace(getenv(fnenv.DevMailboxEnv)); path != "" {
		o.Mailbox = &user.FileMailbox{Path: path}
	}
	users := dynamostore.NewUsers(st)
	rt := api.NewRoutes(api.Deps{
		Logger: slog.Default(),
		Users:  user.NewService(users, pool, api.MemberRoster{Integrations: cs, Clients: clients}, o),
		SignIn: user.NewSignIn(pool, userpool.TokenReader{V: v}, users, pool, dynamostore.NewSignInFailures(st), user.Throttle{}, nil),
	}, api.UserRoutes)
	return lambdafn.Handlers{HTTP: rt.Serve}, nil
}

// opener gives the users routes an integration's clients (the PSA's
// members for the import).
type opener struct{ o *providers.Opener }

func (o opener) Open(ctx context.Context, tenantID, integrationID string) (api.Clients, error) {
	c, err := o.o.Open(ctx, tenantID, integrationID)
	if err != nil {
		return api.Clients{}, err
	}
	return api.Clients{Integration: c.Integration, RMM: c.RMM, PSA: c.PSA}, nil
}
