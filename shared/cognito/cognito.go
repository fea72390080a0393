// Package cognito is rmmbridge's adapter for its Amazon Cognito user pool:
// the identity store behind user.Directory (identities, the tenant
// attribute, the role groups, sign-in on and off, global sign-out) and
// user.Authenticator (USER_PASSWORD_AUTH sign-in, the new-password
// challenge, refresh tokens).
//
// Errors are classified by Cognito's error code only. Cognito's messages are
// never passed on: they can quote the email or, as moto's do, the token.
//
// moto (the local stack and the tests) differs from Cognito in ways this
// package and its callers design around: an unknown email at sign-in is
// UserNotFoundException (Cognito with PreventUserExistenceErrors answers
// NotAuthorizedException; both are Unauthorized here); a disabled user can
// still refresh tokens (user.SignIn checks the record after a refresh);
// AdminCreateUser without TemporaryPassword sets no password and mails
// nothing (the local stack always passes one); immutable attributes and the
// app client's WriteAttributes are not enforced (template.yaml sets both,
// checked by the template tests); every pool signs with the same key, kid
// "dummy" (the issuer check tells pools apart); a global sign-out revokes
// only the tokens issued to the name given (SignOut passes the email too).
package cognito

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/smithy-go"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/user"
)

// TenantAttribute is the user pool's custom attribute holding a user's
// tenant (immutable, not writable by the app client: template.yaml).
const TenantAttribute = "custom:tenant_id"

// api lists the Cognito operations the adapter uses.
type api interface {
	AdminCreateUser(context.Context, *cip.AdminCreateUserInput, ...func(*cip.Options)) (*cip.AdminCreateUserOutput, error)
	AdminGetUser(context.Context, *cip.AdminGetUserInput, ...func(*cip.Options)) (*cip.AdminGetUserOutput, error)
	AdminSetUserPassword(context.Context, *cip.AdminSetUserPasswordInput, ...func(*cip.Options)) (*cip.AdminSetUserPasswordOutput, error)
	AdminListGroupsForUser(context.Context, *cip.AdminListGroupsForUserInput, ...func(*cip.Options)) (*cip.AdminListGroupsForUserOutput, error)
	AdminAddUserToGroup(context.Context, *cip.AdminAddUserToGroupInput, ...func(*cip.Options)) (*cip.AdminAddUserToGroupOutput, error)
	AdminRemoveUserFromGroup(context.Context, *cip.AdminRemoveUserFromGroupInput, ...func(*cip.Options)) (*cip.AdminRemoveUserFromGroupOutput, error)
	AdminEnableUser(context.Context, *cip.AdminEnableUserInput, ...func(*cip.Options)) (*cip.AdminEnableUserOutput, error)
	AdminDisableUser(context.Context, *cip.AdminDisableUserInput, ...func(*cip.Options)) (*cip.AdminDisableUserOutput, error)
	AdminUserGlobalSignOut(context.Context, *cip.AdminUserGlobalSignOutInput, ...func(*cip.Options)) (*cip.AdminUserGlobalSignOutOutput, error)
	AdminUpdateUserAttributes(context.Context, *cip.AdminUpdateUserAttributesInput, ...func(*cip.Options)) (*cip.AdminUpdateUserAttributesOutput, error)
	AdminDeleteUser(context.Context, *cip.AdminDeleteUserInput, ...func(*cip.Options)) (*cip.AdminDeleteUserOutput, error)
	InitiateAuth(context.Context, *cip.InitiateAuthInput, ...func(*cip.Options)) (*cip.InitiateAuthOutput, error)
	RespondToAuthChallenge(context.Context, *cip.RespondToAuthChallengeInput, ...func(*cip.Options)) (*cip.RespondToAuthChallengeOutput, error)
}

var _ api = (*cip.Client)(nil)

// AdminActions are the IAM actions the adapter's calls need: its admin
// operations (InitiateAuth and RespondToAuthChallenge need none).
// template.yaml grants the API function exactly these on the user pool.
var AdminActions = []string{
	"cognito-idp:AdminAddUserToGroup",
	"cognito-idp:AdminCreateUser",
	"cognito-idp:AdminDeleteUser",
	"cognito-idp:AdminDisableUser",
	"cognito-idp:AdminEnableUser",
	"cognito-idp:AdminGetUser",
	"cognito-idp:AdminListGroupsForUser",
	"cognito-idp:AdminRemoveUserFromGroup",
	"cognito-idp:AdminSetUserPassword",
	"cognito-idp:AdminUpdateUserAttributes",
	"cognito-idp:AdminUserGlobalSignOut",
}

// Pool is one user pool and its app client.
type Pool struct {
	api      api
	poolID   string
	clientID string
}

var (
	_ user.Directory     = (*Pool)(nil)
	_ user.Authenticator = (*Pool)(nil)
)

// New returns the adapter for a pool and app client (a client without a
// secret: template.yaml's UserPoolClient); client is a *cip.Client, or
// what builds one on first use.
func New(client api, poolID, clientID string) *Pool {
	return &Pool{api: client, poolID: poolID, clientID: clientID}
}

// classify turns a Cognito error into an apperr kind with a safe message,
// by error code. what names the operation for logs.
func classify(what string, err error) error {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return apperr.Wrap(apperr.Unavailable, err, "the user pool did not answer in time")
		}
		return apperr.Wrap(apperr.Unavailable, errors.New(what+": request failed"), "the user pool is unavailable")
	}
	// Only the code goes into the cause: Cognito's messages can quote
	// emails and tokens.
	cause := fmt.Errorf("%s: %s", what, ae.ErrorCode())
	switch ae.ErrorCode() {
	case "NotAuthorizedException", "UserNotFoundException", "UserNotConfirmedException", "PasswordResetRequiredException":
		return apperr.Wrap(apperr.Unauthorized, cause, "not authorized")
	case "UsernameExistsException", "AliasExistsException":
		return apperr.Wrap(apperr.Conflict, cause, "the email address is already registered with rmmbridge")
	case "InvalidPasswordException":
		return apperr.Wrap(apperr.Invalid, cause, "the password does not meet the policy: at least 12 characters with upper and lower case letters, digits and symbols")
	case "CodeMismatchException", "ExpiredCodeException":
		return apperr.Wrap(apperr.Unauthorized, cause, "the sign-in session is invalid or expired")
	case "TooManyRequestsException", "LimitExceededException", "TooManyFailedAttemptsException":
		return apperr.Wrap(apperr.Throttled, cause, "the user pool is busy; try again later")
	case "ResourceNotFoundException":
		return apperr.Wrap(apperr.Internal, cause, "the user pool or app client is missing")
	case "InvalidParameterException":
		return apperr.Wrap(apperr.Invalid, cause, "the user pool refused a value")
	case "InternalErrorException", "ServiceUnavailable", "ServiceUnavailableException":
		return apperr.Wrap(apperr.Unavailable, cause, "the user pool is unavailable")
	}
	return apperr.Wrap(apperr.Internal, cause, "the user pool refused the request")
}

// notFound classifies a Cognito error where UserNotFoundException means
// the identity is gone (admin calls), not a refused sign-in.
func notFound(what string, err error) error {
	var nf *types.UserNotFoundException
	if errors.As(err, &nf) {
		return apperr.Wrap(apperr.NotFound, fmt.Errorf("%s: UserNotFoundException", what), "no such identity")
	}
	return classify(what, err)
}

func attr(name, value string) types.AttributeType {
	return types.AttributeType{Name: aws.String(name), Value: aws.String(value)}
}

func attrs(as []types.AttributeType) map[string]string {
	m := map[string]string{}
	for _, a := range as {
		m[aws.ToString(a.Name)] = aws.ToString(a.Value)
	}
	return m
}

// CreateUser implements user.Directory. The email is the sign-in name (the
// pool's username attribute) and is marked verified: it comes from the
// MSP's own PSA, and the invitation goes to it.
func (p *Pool) CreateUser(ctx context.Context, n user.NewIdentity) (string, error) {
	in := &cip.AdminCreateUserInput{
		UserPoolId: aws.String(p.poolID),
		Username:   aws.String(n.Email),
		UserAttributes: []types.AttributeType{
			attr("email", n.Email), attr("email_verified", "true"), attr("name", n.Name), attr(TenantAttribute, n.TenantID),
		},
	}
	if n.TemporaryPassword != "" {
		in.TemporaryPassword = aws.String(n.TemporaryPassword)
		in.MessageAction = types.MessageActionTypeSuppress
	} else {
		in.DesiredDeliveryMediums = []types.DeliveryMediumType{types.DeliveryMediumTypeEmail}
	}
	out, err := p.api.AdminCreateUser(ctx, in)
	if err != nil {
		return "", classify("AdminCreateUser", err)
	}
	if sub := attrs(out.User.Attributes)["sub"]; sub != "" {
		return sub, nil
	}
	return aws.ToString(out.User.Username), nil
}

// FindUser implements user.Directory.
func (p *Pool) FindUser(ctx context.Context, email string) (user.Identity, error) {
	out, err := p.api.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(p.poolID), Username: aws.String(email)})
	if err != nil {
		return user.Identity{}, notFound("AdminGetUser", err)
	}
	a := attrs(out.UserAttributes)
	id := a["sub"]
	if id == "" {
		id = aws.ToString(out.Username)
	}
	return user.Identity{ID: id, Email: a["email"], TenantID: a[TenantAttribute], Enabled: out.Enabled}, nil
}

// Reinvite implements user.Directory: a given temporary password is set
// (nothing is mailed); without one the pool resends its invitation with a
// new one.
func (p *Pool) Reinvite(ctx context.Context, id, email, temp string) error {
	if temp != "" {
		_, err := p.api.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{UserPoolId: aws.String(p.poolID), Username: aws.String(id),
			Password: aws.String(temp), Permanent: false})
		if err != nil {
			return notFound("AdminSetUserPassword", err)
		}
		return nil
	}
	_, err := p.api.AdminCreateUser(ctx, &cip.AdminCreateUserInput{UserPoolId: aws.String(p.poolID), Username: aws.String(email),
		MessageAction: types.MessageActionTypeResend, DesiredDeliveryMediums: []types.DeliveryMediumType{types.DeliveryMediumTypeEmail}})
	if err != nil {
		return classify("AdminCreateUser RESEND", err)
	}
	return nil
}

// SetRole implements user.Directory: the identity ends in the role's group
// and in no other role group (groups that are not roles are left alone).
func (p *Pool) SetRole(ctx context.Context, id, role string) error {
	if !user.ValidRole(role) {
		return apperr.New(apperr.Invalid, "role %q is not a role", role)
	}
	var current []string
	var token *string
	for {
		out, err := p.api.AdminListGroupsForUser(ctx, &cip.AdminListGroupsForUserInput{UserPoolId: aws.String(p.poolID), Username: aws.String(id), NextToken: token})
		if err != nil {
			return notFound("AdminListGroupsForUser", err)
		}
		for _, g := range out.Groups {
			current = append(current, aws.ToString(g.GroupName))
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	// Add first: a moment in two role groups is refused by the authorizer
	// (RoleOf), a moment in none likewise; neither grants anything.
	if !slices.Contains(current, role) {
		if _, err := p.api.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{UserPoolId: aws.String(p.poolID), Username: aws.String(id), GroupName: aws.String(role)}); err != nil {
			return notFound("AdminAddUserToGroup", err)
		}
	}
	for _, g := range current {
		if g != role && user.ValidRole(g) {
			if _, err := p.api.AdminRemoveUserFromGroup(ctx, &cip.AdminRemoveUserFromGroupInput{UserPoolId: aws.String(p.poolID), Username: aws.String(id), GroupName: aws.String(g)}); err != nil {
				return notFound("AdminRemoveUserFromGroup", err)
			}
		}
	}
	return nil
}

// SetEnabled implements user.Directory.
func (p *Pool) SetEnabled(ctx context.Context, id string, enabled bool) error {
	var err error
	if enabled {
		_, err = p.api.AdminEnableUser(ctx, &cip.AdminEnableUserInput{UserPoolId: aws.String(p.poolID), Username: aws.String(id)})
	} else {
		_, err = p.api.AdminDisableUser(ctx, &cip.AdminDisableUserInput{UserPoolId: aws.String(p.poolID), Username: aws.String(id)})
	}
	if err != nil {
		return notFound("AdminEnableUser/AdminDisableUser", err)
	}
	return nil
}

// SignOut implements user.Directory (AdminUserGlobalSignOut: the
// identity's refresh tokens stop working). It signs out by the email too:
// moto revokes only the tokens issued to the name given at sign-in (the
// email), where Cognito takes either.
func (p *Pool) SignOut(ctx context.Context, id string) error {
	out, err := p.api.AdminGetUser(ctx, &cip.AdminGetUserInput{UserPoolId: aws.String(p.poolID), Username: aws.String(id)})
	if err != nil {
		return notFound("AdminGetUser", err)
	}
	names := []string{id}
	if email := attrs(out.UserAttributes)["email"]; email != "" {
		names = append(names, email)
	}
	for _, n := range names {
		if _, err := p.api.AdminUserGlobalSignOut(ctx, &cip.AdminUserGlobalSignOutInput{UserPoolId: aws.String(p.poolID), Username: aws.String(n)}); err != nil {
			return notFound("AdminUserGlobalSignOut", err)
		}
	}
	return nil
}

// UpdateProfile implements user.Directory.
func (p *Pool) UpdateProfile(ctx context.Context, id, email, name string) error {
	_, err := p.api.AdminUpdateUserAttributes(ctx, &cip.AdminUpdateUserAttributesInput{UserPoolId: aws.String(p.poolID), Username: aws.String(id),
		UserAttributes: []types.AttributeType{attr("email", email), attr("email_verified", "true"), attr("name", name)}})
	if err != nil {
		return notFound("AdminUpdateUserAttributes", err)
	}
	return nil
}

// DeleteUser implements user.Directory.
func (p *Pool) DeleteUser(ctx context.Context, id string) error {
	if _, err := p.api.AdminDeleteUser(ctx, &cip.AdminDeleteUserInput{UserPoolId: aws.String(p.poolID), Username: aws.String(id)}); err != nil {
		return notFound("AdminDeleteUser", err)
	}
	return nil
}

// SetPassword implements user.Directory (a permanent password).
func (p *Pool) SetPassword(ctx context.Context, id, password string) error {
	_, err := p.api.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{UserPoolId: aws.String(p.poolID), Username: aws.String(id),
		Password: aws.String(password), Permanent: true})
	if err != nil {
		return notFound("AdminSetUserPassword", err)
	}
	return nil
}

func tokens(r *types.AuthenticationResultType) (user.Tokens, error) {
	if r == nil || r.IdToken == nil {
		return user.Tokens{}, apperr.New(apperr.Internal, "the user pool answered without tokens")
	}
	return user.Tokens{IDToken: aws.ToString(r.IdToken), AccessToken: aws.ToString(r.AccessToken),
		RefreshToken: aws.ToString(r.RefreshToken), ExpiresIn: int(r.ExpiresIn)}, nil
}

// SignIn implements user.Authenticator with USER_PASSWORD_AUTH.
func (p *Pool) SignIn(ctx context.Context, email, password string) (user.AuthResult, error) {
	out, err := p.api.InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: aws.String(p.clientID), AuthFlow: types.AuthFlowTypeUserPasswordAuth,
		AuthParameters: map[string]string{"USERNAME": email, "PASSWORD": password}})
	if err != nil {
		return user.AuthResult{}, classify("InitiateAuth", err)
	}
	switch out.ChallengeName {
	case "":
		t, err := tokens(out.AuthenticationResult)
		if err != nil {
			return user.AuthResult{}, err
		}
		return user.AuthResult{Tokens: &t}, nil
	case types.ChallengeNameTypeNewPasswordRequired:
		return user.AuthResult{Challenge: user.ChallengeNewPassword, Session: aws.ToString(out.Session)}, nil
	}
	// MFA and other challenges are not configured on the pool.
	return user.AuthResult{}, apperr.New(apperr.NotImplemented, "sign-in challenge %s is not supported", out.ChallengeName)
}

// AnswerNewPassword implements user.Authenticator.
func (p *Pool) AnswerNewPassword(ctx context.Context, email, session, newPassword string) (user.Tokens, error) {
	out, err := p.api.RespondToAuthChallenge(ctx, &cip.RespondToAuthChallengeInput{ClientId: aws.String(p.clientID),
		ChallengeName: types.ChallengeNameTypeNewPasswordRequired, Session: aws.String(session),
		ChallengeResponses: map[string]string{"USERNAME": email, "NEW_PASSWORD": newPassword}})
	if err != nil {
		var rnf *types.ResourceNotFoundException
		if errors.As(err, &rnf) { // moto: an unknown session
			return user.Tokens{}, apperr.Wrap(apperr.Unauthorized, errors.New("RespondToAuthChallenge: ResourceNotFoundException"), "the sign-in session is invalid or expired")
		}
		e := classify("RespondToAuthChallenge", err)
		if apperr.Is(e, apperr.Invalid) {
			ae, _ := apperr.As(e)
			return user.Tokens{}, apperr.InvalidFields(apperr.FieldError{Field: "newPassword", Message: ae.Message})
		}
		return user.Tokens{}, e
	}
	if out.ChallengeName != "" {
		return user.Tokens{}, apperr.New(apperr.NotImplemented, "sign-in challenge %s is not supported", out.ChallengeName)
	}
	return tokens(out.AuthenticationResult)
}

// Refresh implements user.Authenticator (REFRESH_TOKEN_AUTH).
func (p *Pool) Refresh(ctx context.Context, refreshToken string) (user.Tokens, error) {
	out, err := p.api.InitiateAuth(ctx, &cip.InitiateAuthInput{ClientId: aws.String(p.clientID), AuthFlow: types.AuthFlowTypeRefreshTokenAuth,
		AuthParameters: map[string]string{"REFRESH_TOKEN": refreshToken}})
	if err != nil {
		var rnf *types.ResourceNotFoundException
		if errors.As(err, &rnf) { // moto: an empty or unknown token's user
			return user.Tokens{}, apperr.Wrap(apperr.Unauthorized, errors.New("InitiateAuth: ResourceNotFoundException"), "not authorized")
		}
		return user.Tokens{}, classify("InitiateAuth", err)
	}
	return tokens(out.AuthenticationResult)
}
