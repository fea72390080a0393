package samtemplate

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// Cognito resource types the model understands.
const (
	TypeUserPool       = "AWS::Cognito::UserPool"
	TypeUserPoolClient = "AWS::Cognito::UserPoolClient"
	TypeUserPoolGroup  = "AWS::Cognito::UserPoolGroup"
)

// UserPool is an AWS::Cognito::UserPool: the settings the local stack
// creates it with (in moto) and the template tests check.
type UserPool struct {
	LogicalID string
	Line      int
	// PoolName is the explicit name node, nil when unset.
	PoolName                  *yaml.Node
	UsernameAttributes        []string
	UsernameCaseSensitive     bool
	AutoVerifiedAttributes    []string
	AllowAdminCreateUserOnly  bool
	PasswordPolicy            PasswordPolicy
	Schema                    []SchemaAttribute
	MfaConfiguration          string
	AdvancedSecurityMode      string
	Tier                      string
	DeletionProtection        string
	InviteEmailSubject        string
	InviteEmailMessage        string
	AccountRecoveryMechanisms []string
}

// PasswordPolicy is a user pool's password policy.
type PasswordPolicy struct {
	MinimumLength                 int
	RequireLowercase              bool
	RequireUppercase              bool
	RequireNumbers                bool
	RequireSymbols                bool
	TemporaryPasswordValidityDays int
}

// SchemaAttribute is a user pool attribute declared in Schema (custom
// attributes are read as custom:<Name>).
type SchemaAttribute struct {
	Name              string
	AttributeDataType string
	Mutable           bool
	Required          bool
	MinLength         string
	MaxLength         string
}

// UserPoolClient is an AWS::Cognito::UserPoolClient.
type UserPoolClient struct {
	LogicalID                  string
	Line                       int
	PoolRef                    string // logical id of the pool (!Ref)
	ClientName                 string
	GenerateSecret             bool
	ExplicitAuthFlows          []string
	PreventUserExistenceErrors string
	EnableTokenRevocation      bool
	ReadAttributes             []string
	WriteAttributes            []string
	IDTokenValidity            int
	AccessTokenValidity        int
	RefreshTokenValidity       int
	AuthSessionValidity        int
	// TokenValidityUnits maps IdToken, AccessToken, RefreshToken to
	// seconds, minutes, hours or days.
	TokenValidityUnits map[string]string
}

// UserPoolGroup is an AWS::Cognito::UserPoolGroup.
type UserPoolGroup struct {
	LogicalID   string
	Line        int
	PoolRef     string
	GroupName   string
	Description string
	Precedence  int
}

// UserPool returns the user pool with the logical id.
func (t *Template) UserPool(id string) (*UserPool, bool) {
	for i := range t.UserPools {
		if t.UserPools[i].LogicalID == id {
			return &t.UserPools[i], true
		}
	}
	return nil, false
}

func scalars(n *yaml.Node) []string {
	var out []string
	for _, v := range seq(n) {
		if s := scalar(v); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) userPool(id string, line int, props *yaml.Node) error {
	wrap := func(err error) error { return fmt.Errorf("%s: %w", id, err) }
	up := UserPool{LogicalID: id, Line: line, PoolName: lookup(props, "UserPoolName"),
		UsernameAttributes:     scalars(lookup(props, "UsernameAttributes")),
		AutoVerifiedAttributes: scalars(lookup(props, "AutoVerifiedAttributes")),
		MfaConfiguration:       scalar(lookup(props, "MfaConfiguration")),
		AdvancedSecurityMode:   scalar(lookup(lookup(props, "UserPoolAddOns"), "AdvancedSecurityMode")),
		Tier:                   scalar(lookup(props, "UserPoolTier")),
		DeletionProtection:     scalar(lookup(props, "DeletionProtection")),
	}
	var err error
	if uc := lookup(props, "UsernameConfiguration"); uc != nil {
		if up.UsernameCaseSensitive, err = p.boolProp(uc, "CaseSensitive", true); err != nil {
			return wrap(err)
		}
	}
	if ac := lookup(props, "AdminCreateUserConfig"); ac != nil {
		if up.AllowAdminCreateUserOnly, err = p.boolProp(ac, "AllowAdminCreateUserOnly", false); err != nil {
			return wrap(err)
		}
		tmpl := lookup(ac, "InviteMessageTemplate")
		up.InviteEmailSubject, up.InviteEmailMessage = scalar(lookup(tmpl, "EmailSubject")), scalar(lookup(tmpl, "EmailMessage"))
	}
	if pp := lookup(lookup(props, "Policies"), "PasswordPolicy"); pp != nil {
		pol := &up.PasswordPolicy
		for _, f := range []struct {
			key string
			dst *int
			def int
		}{{"MinimumLength", &pol.MinimumLength, 8}, {"TemporaryPasswordValidityDays", &pol.TemporaryPasswordValidityDays, 7}} {
			if *f.dst, err = p.intProp(pp, f.key, f.def); err != nil {
				return wrap(err)
			}
		}
		for _, f := range []struct {
			key string
			dst *bool
		}{{"RequireLowercase", &pol.RequireLowercase}, {"RequireUppercase", &pol.RequireUppercase},
			{"RequireNumbers", &pol.RequireNumbers}, {"RequireSymbols", &pol.RequireSymbols}} {
			if *f.dst, err = p.boolProp(pp, f.key, false); err != nil {
				return wrap(err)
			}
		}
	}
	for _, a := range seq(lookup(props, "Schema")) {
		sa := SchemaAttribute{Name: scalar(lookup(a, "Name")), AttributeDataType: scalar(lookup(a, "AttributeDataType"))}
		if sa.Name == "" {
			return errAt(a, "%s: a Schema attribute has no Name", id)
		}
		if sa.Mutable, err = p.boolProp(a, "Mutable", true); err != nil {
			return wrap(err)
		}
		if sa.Required, err = p.boolProp(a, "Required", false); err != nil {
			return wrap(err)
		}
		sc := lookup(a, "StringAttributeConstraints")
		sa.MinLength, sa.MaxLength = scalar(lookup(sc, "MinLength")), scalar(lookup(sc, "MaxLength"))
		up.Schema = append(up.Schema, sa)
	}
	for _, m := range seq(lookup(lookup(props, "AccountRecoverySetting"), "RecoveryMechanisms")) {
		up.AccountRecoveryMechanisms = append(up.AccountRecoveryMechanisms, scalar(lookup(m, "Name")))
	}
	p.t.UserPools = append(p.t.UserPools, up)
	return nil
}

func (p *parser) userPoolClient(id string, line int, props *yaml.Node) error {
	wrap := func(err error) error { return fmt.Errorf("%s: %w", id, err) }
	ref, err := p.refTarget(lookup(props, "UserPoolId"), TypeUserPool)
	if err != nil {
		return wrap(err)
	}
	c := UserPoolClient{LogicalID: id, Line: line, PoolRef: ref, ClientName: scalar(lookup(props, "ClientName")),
		ExplicitAuthFlows:          scalars(lookup(props, "ExplicitAuthFlows")),
		PreventUserExistenceErrors: scalar(lookup(props, "PreventUserExistenceErrors")),
		ReadAttributes:             scalars(lookup(props, "ReadAttributes")),
		WriteAttributes:            scalars(lookup(props, "WriteAttributes")),
		TokenValidityUnits:         map[string]string{},
	}
	if c.GenerateSecret, err = p.boolProp(props, "GenerateSecret", false); err != nil {
		return wrap(err)
	}
	if c.EnableTokenRevocation, err = p.boolProp(props, "EnableTokenRevocation", true); err != nil {
		return wrap(err)
	}
	for _, f := range []struct {
		key string
		dst *int
		def int
	}{{"IdTokenValidity", &c.IDTokenValidity, 60}, {"AccessTokenValidity", &c.AccessTokenValidity, 60},
		{"RefreshTokenValidity", &c.RefreshTokenValidity, 30}, {"AuthSessionValidity", &c.AuthSessionValidity, 3}} {
		if *f.dst, err = p.intProp(props, f.key, f.def); err != nil {
			return wrap(err)
		}
	}
	units := lookup(props, "TokenValidityUnits")
	for _, k := range []string{"IdToken", "AccessToken", "RefreshToken"} {
		c.TokenValidityUnits[k] = scalar(lookup(units, k))
	}
	p.t.UserPoolClients = append(p.t.UserPoolClients, c)
	return nil
}

func (p *parser) userPoolGroup(id string, line int, props *yaml.Node) error {
	ref, err := p.refTarget(lookup(props, "UserPoolId"), TypeUserPool)
	if err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	g := UserPoolGroup{LogicalID: id, Line: line, PoolRef: ref, GroupName: scalar(lookup(props, "GroupName")),
		Description: scalar(lookup(props, "Description"))}
	if g.GroupName == "" {
		return errAt(props, "%s: a group needs a literal GroupName", id)
	}
	if g.Precedence, err = p.intProp(props, "Precedence", 0); err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	p.t.UserPoolGroups = append(p.t.UserPoolGroups, g)
	return nil
}
