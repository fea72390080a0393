package localrun

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"

	"github.com/rmmbridge/rmmbridge/shared/devtools/samtemplate"
)

// poolAdmin is the part of the Cognito API the stack uses to create user
// pools, app clients and groups.
type poolAdmin interface {
	ListUserPools(context.Context, *cip.ListUserPoolsInput, ...func(*cip.Options)) (*cip.ListUserPoolsOutput, error)
	CreateUserPool(context.Context, *cip.CreateUserPoolInput, ...func(*cip.Options)) (*cip.CreateUserPoolOutput, error)
	DescribeUserPool(context.Context, *cip.DescribeUserPoolInput, ...func(*cip.Options)) (*cip.DescribeUserPoolOutput, error)
	ListUserPoolClients(context.Context, *cip.ListUserPoolClientsInput, ...func(*cip.Options)) (*cip.ListUserPoolClientsOutput, error)
	CreateUserPoolClient(context.Context, *cip.CreateUserPoolClientInput, ...func(*cip.Options)) (*cip.CreateUserPoolClientOutput, error)
	CreateGroup(context.Context, *cip.CreateGroupInput, ...func(*cip.Options)) (*cip.CreateGroupOutput, error)
}

type poolInfo struct {
	id, arn, name string
}

// createUserPools creates every template user pool, then its app clients
// and groups, with the template's settings (moto keeps the ones it
// models: the username attribute, the schema, the password policy, the
// client's auth flows and attributes). A pool or client with the same name
// is reused, so a run against a moto that already has them keeps its
// users.
func (s *Stack) createUserPools(ctx context.Context, api poolAdmin) error {
	if len(s.tmpl.UserPools) == 0 {
		return nil
	}
	existing := map[string]string{}
	var token *string
	for {
		out, err := api.ListUserPools(ctx, &cip.ListUserPoolsInput{MaxResults: aws.Int32(60), NextToken: token})
		if err != nil {
			return fmt.Errorf("list user pools: %w", err)
		}
		for _, p := range out.UserPools {
			existing[aws.ToString(p.Name)] = aws.ToString(p.Id)
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	for _, p := range s.tmpl.UserPools {
		name, err := s.resourceName(p.PoolName, p.LogicalID, "")
		if err != nil {
			return fmt.Errorf("user pool %s name: %w", p.LogicalID, err)
		}
		id, ok := existing[name]
		if !ok {
			out, err := api.CreateUserPool(ctx, poolInput(name, p))
			if err != nil {
				return fmt.Errorf("create user pool %s (%s): %w", p.LogicalID, name, err)
			}
			id = aws.ToString(out.UserPool.Id)
		}
		desc, err := api.DescribeUserPool(ctx, &cip.DescribeUserPoolInput{UserPoolId: aws.String(id)})
		if err != nil {
			return fmt.Errorf("describe user pool %s: %w", id, err)
		}
		s.pools[p.LogicalID] = poolInfo{id: id, arn: aws.ToString(desc.UserPool.Arn), name: name}
	}
	for _, c := range s.tmpl.UserPoolClients {
		pool := s.pools[c.PoolRef].id
		id, err := findClient(ctx, api, pool, c.ClientName)
		if err != nil {
			return err
		}
		if id == "" {
			out, err := api.CreateUserPoolClient(ctx, clientInput(pool, c))
			if err != nil {
				return fmt.Errorf("create app client %s: %w", c.LogicalID, err)
			}
			id = aws.ToString(out.UserPoolClient.ClientId)
		}
		s.clients[c.LogicalID] = id
	}
	for _, g := range s.tmpl.UserPoolGroups {
		_, err := api.CreateGroup(ctx, &cip.CreateGroupInput{UserPoolId: aws.String(s.pools[g.PoolRef].id), GroupName: aws.String(g.GroupName),
			Description: aws.String(g.Description), Precedence: aws.Int32(int32(g.Precedence))})
		var exists *ciptypes.GroupExistsException
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("create group %s: %w", g.LogicalID, err)
		}
	}
	return nil
}

func findClient(ctx context.Context, api poolAdmin, poolID, name string) (string, error) {
	var token *string
	for {
		out, err := api.ListUserPoolClients(ctx, &cip.ListUserPoolClientsInput{UserPoolId: aws.String(poolID), MaxResults: aws.Int32(60), NextToken: token})
		if err != nil {
			return "", fmt.Errorf("list app clients of %s: %w", poolID, err)
		}
		for _, c := range out.UserPoolClients {
			if aws.ToString(c.ClientName) == name {
				return aws.ToString(c.ClientId), nil
			}
		}
		if token = out.NextToken; token == nil {
			return "", nil
		}
	}
}

func poolInput(name string, p samtemplate.UserPool) *cip.CreateUserPoolInput {
	in := &cip.CreateUserPoolInput{
		PoolName: aws.String(name),
		Policies: &ciptypes.UserPoolPolicyType{PasswordPolicy: &ciptypes.PasswordPolicyType{
			MinimumLength:                 aws.Int32(int32(p.PasswordPolicy.MinimumLength)),
			RequireLowercase:              p.PasswordPolicy.RequireLowercase,
			RequireUppercase:              p.PasswordPolicy.RequireUppercase,
			RequireNumbers:                p.PasswordPolicy.RequireNumbers,
			RequireSymbols:                p.PasswordPolicy.RequireSymbols,
			TemporaryPasswordValidityDays: int32(p.PasswordPolicy.TemporaryPasswordValidityDays),
		}},
		UsernameConfiguration: &ciptypes.UsernameConfigurationType{CaseSensitive: aws.Bool(p.UsernameCaseSensitive)},
		AdminCreateUserConfig: &ciptypes.AdminCreateUserConfigType{AllowAdminCreateUserOnly: p.AllowAdminCreateUserOnly},
	}
	for _, a := range p.UsernameAttributes {
		in.UsernameAttributes = append(in.UsernameAttributes, ciptypes.UsernameAttributeType(a))
	}
	for _, a := range p.AutoVerifiedAttributes {
		in.AutoVerifiedAttributes = append(in.AutoVerifiedAttributes, ciptypes.VerifiedAttributeType(a))
	}
	if p.MfaConfiguration != "" {
		in.MfaConfiguration = ciptypes.UserPoolMfaType(p.MfaConfiguration)
	}
	if p.AdvancedSecurityMode != "" {
		in.UserPoolAddOns = &ciptypes.UserPoolAddOnsType{AdvancedSecurityMode: ciptypes.AdvancedSecurityModeType(p.AdvancedSecurityMode)}
	}
	for _, a := range p.Schema {
		sa := ciptypes.SchemaAttributeType{Name: aws.String(a.Name), AttributeDataType: ciptypes.AttributeDataType(a.AttributeDataType),
			Mutable: aws.Bool(a.Mutable), Required: aws.Bool(a.Required)}
		if a.MinLength != "" || a.MaxLength != "" {
			sa.StringAttributeConstraints = &ciptypes.StringAttributeConstraintsType{MinLength: strPtr(a.MinLength), MaxLength: strPtr(a.MaxLength)}
		}
		in.Schema = append(in.Schema, sa)
	}
	return in
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func clientInput(poolID string, c samtemplate.UserPoolClient) *cip.CreateUserPoolClientInput {
	in := &cip.CreateUserPoolClientInput{
		UserPoolId: aws.String(poolID), ClientName: aws.String(c.ClientName), GenerateSecret: c.GenerateSecret,
		PreventUserExistenceErrors: ciptypes.PreventUserExistenceErrorTypes(c.PreventUserExistenceErrors),
		EnableTokenRevocation:      aws.Bool(c.EnableTokenRevocation),
		ReadAttributes:             c.ReadAttributes, WriteAttributes: c.WriteAttributes,
		IdTokenValidity: aws.Int32(int32(c.IDTokenValidity)), AccessTokenValidity: aws.Int32(int32(c.AccessTokenValidity)),
		RefreshTokenValidity: int32(c.RefreshTokenValidity), AuthSessionValidity: aws.Int32(int32(c.AuthSessionValidity)),
		TokenValidityUnits: &ciptypes.TokenValidityUnitsType{
			IdToken: ciptypes.TimeUnitsType(c.TokenValidityUnits["IdToken"]), AccessToken: ciptypes.TimeUnitsType(c.TokenValidityUnits["AccessToken"]),
			RefreshToken: ciptypes.TimeUnitsType(c.TokenValidityUnits["RefreshToken"])},
	}
	for _, f := range c.ExplicitAuthFlows {
		in.ExplicitAuthFlows = append(in.ExplicitAuthFlows, ciptypes.ExplicitAuthFlowsType(f))
	}
	return in
}

// UserPoolID returns the id of a template user pool, "" for an unknown one.
func (s *Stack) UserPoolID(logicalID string) string { return s.pools[logicalID].id }

// UserPoolClientID returns the id of a template app client, "" for an
// unknown one.
func (s *Stack) UserPoolClientID(logicalID string) string { return s.clients[logicalID] }

// poolProviderName is a pool's ProviderName attribute; ProviderURL is the
// same with https://, the iss of the pool's tokens (moto's too).
func (s *Stack) poolProviderName(id string) string {
	return "cognito-idp." + s.region + ".amazonaws.com/" + id
}
