package lambdaset

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"

	"github.com/rmmbridge/rmmbridge/shared/cognito"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/fnenv"
	"github.com/rmmbridge/rmmbridge/shared/user"
)

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
	svc := user.NewService(dynamostore.NewUsers(fnenv.Table(cfg, table)), cognito.New(cip.NewFromConfig(cfg), poolID, clientID), nil, user.Options{})
	u, err := svc.Seed(ctx, in)
	if err != nil {
		return user.User{}, err
	}
	slog.Default().InfoContext(ctx, "seed user ready", "tenantId", u.TenantID, "userId", u.ID)
	return u, nil
}
