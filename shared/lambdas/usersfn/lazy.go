package usersfn

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
)

// lazyCognito is the user pool's client, built on the first request that
// reaches the pool, not at the function's start (cold start): listing and
// reading users, and rejected requests, never reach it.
type lazyCognito struct{ c func() *cip.Client }

// newLazyCognito returns the Cognito client of cfg, built on first use.
func newLazyCognito(cfg aws.Config) lazyCognito {
	return lazyCognito{c: sync.OnceValue(func() *cip.Client { return cip.NewFromConfig(cfg) })}
}

func (l lazyCognito) AdminCreateUser(ctx context.Context, in *cip.AdminCreateUserInput, o ...func(*cip.Options)) (*cip.AdminCreateUserOutput, error) {
	return l.c().AdminCreateUser(ctx, in, o...)
}

func (l lazyCognito) AdminGetUser(ctx context.Context, in *cip.AdminGetUserInput, o ...func(*cip.Options)) (*cip.AdminGetUserOutput, error) {
	return l.c().AdminGetUser(ctx, in, o...)
}

func (l lazyCognito) AdminSetUserPassword(ctx context.Context, in *cip.AdminSetUserPasswordInput, o ...func(*cip.Options)) (*cip.AdminSetUserPasswordOutput, error) {
	return l.c().AdminSetUserPassword(ctx, in, o...)
}

func (l lazyCognito) AdminListGroupsForUser(ctx context.Context, in *cip.AdminListGroupsForUserInput, o ...func(*cip.Options)) (*cip.AdminListGroupsForUserOutput, error) {
	return l.c().AdminListGroupsForUser(ctx, in, o...)
}

func (l lazyCognito) AdminAddUserToGroup(ctx context.Context, in *cip.AdminAddUserToGroupInput, o ...func(*cip.Options)) (*cip.AdminAddUserToGroupOutput, error) {
	return l.c().AdminAddUserToGroup(ctx, in, o...)
}

func (l lazyCognito) AdminRemoveUserFromGroup(ctx context.Context, in *cip.AdminRemoveUserFromGroupInput, o ...func(*cip.Options)) (*cip.AdminRemoveUserFromGroupOutput, error) {
	return l.c().AdminRemoveUserFromGroup(ctx, in, o...)
}

func (l lazyCognito) AdminEnableUser(ctx context.Context, in *cip.AdminEnableUserInput, o ...func(*cip.Options)) (*cip.AdminEnableUserOutput, error) {
	return l.c().AdminEnableUser(ctx, in, o...)
}

func (l lazyCognito) AdminDisableUser(ctx context.Context, in *cip.AdminDisableUserInput, o ...func(*cip.Options)) (*cip.AdminDisableUserOutput, error) {
	return l.c().AdminDisableUser(ctx, in, o...)
}

func (l lazyCognito) AdminUserGlobalSignOut(ctx context.Context, in *cip.AdminUserGlobalSignOutInput, o ...func(*cip.Options)) (*cip.AdminUserGlobalSignOutOutput, error) {
	return l.c().AdminUserGlobalSignOut(ctx, in, o...)
}

func (l lazyCognito) AdminUpdateUserAttributes(ctx context.Context, in *cip.AdminUpdateUserAttributesInput, o ...func(*cip.Options)) (*cip.AdminUpdateUserAttributesOutput, error) {
	return l.c().AdminUpdateUserAttributes(ctx, in, o...)
}

func (l lazyCognito) AdminDeleteUser(ctx context.Context, in *cip.AdminDeleteUserInput, o ...func(*cip.Options)) (*cip.AdminDeleteUserOutput, error) {
	return l.c().AdminDeleteUser(ctx, in, o...)
}

func (l lazyCognito) InitiateAuth(ctx context.Context, in *cip.InitiateAuthInput, o ...func(*cip.Options)) (*cip.InitiateAuthOutput, error) {
	return l.c().InitiateAuth(ctx, in, o...)
}

func (l lazyCognito) RespondToAuthChallenge(ctx context.Context, in *cip.RespondToAuthChallengeInput, o ...func(*cip.Options)) (*cip.RespondToAuthChallengeOutput, error) {
	return l.c().RespondToAuthChallenge(ctx, in, o...)
}
