package samtemplate

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"

	"github.com/rmmbridge/rmmbridge/shared/cognito"
	"github.com/rmmbridge/rmmbridge/shared/user"
)

// TestInvariantUserPool checks what the sign-in and the authorizer rely on
// in template.yaml's user pool: email sign-in, an immutable
// custom:tenant_id the app client cannot write, the password policy the
// temporary passwords meet, threat protection, an app client without a
// secret for USER_PASSWORD_AUTH and refresh tokens that hides whether a
// user exists, and exactly the role groups.
func TestInvariantUserPool(t *testing.T) {
	tp, _ := invProjectTemplate(t)
	if len(tp.UserPools) != 1 {
		t.Fatalf("%d user pools, want 1", len(tp.UserPools))
	}
	p := tp.UserPools[0]
	if !slices.Equal(p.UsernameAttributes, []string{"email"}) || p.UsernameCaseSensitive || !p.AllowAdminCreateUserOnly {
		t.Errorf("sign-in: username attributes %v, case-sensitive %v, admin-only creation %v; want [email], false, true",
			p.UsernameAttributes, p.UsernameCaseSensitive, p.AllowAdminCreateUserOnly)
	}
	want := PasswordPolicy{MinimumLength: 12, RequireLowercase: true, RequireUppercase: true, RequireNumbers: true, RequireSymbols: true, TemporaryPasswordValidityDays: 7}
	if d := cmp.Diff(want, p.PasswordPolicy); d != "" {
		t.Errorf("password policy (-want +got), which user.TemporaryPassword meets:\n%s", d)
	}
	var tenantAttr *SchemaAttribute
	for i, a := range p.Schema {
		if a.Name == "tenant_id" {
			tenantAttr = &p.Schema[i]
		}
	}
	if tenantAttr == nil || tenantAttr.Mutable || tenantAttr.AttributeDataType != "String" || tenantAttr.MaxLength != "128" {
		t.Errorf("custom:tenant_id = %+v; want an immutable String of at most 128 characters", tenantAttr)
	}
	if p.AdvancedSecurityMode != "ENFORCED" || p.Tier != "PLUS" {
		t.Errorf("threat protection %q on tier %q; want ENFORCED on PLUS", p.AdvancedSecurityMode, p.Tier)
	}
	if p.MfaConfiguration != "OFF" {
		t.Errorf("MFA %q: the sign-in answers only the new-password challenge", p.MfaConfiguration)
	}
	if p.DeletionProtection != "ACTIVE" {
		t.Errorf("deletion protection %q, want ACTIVE", p.DeletionProtection)
	}
	if !strings.Contains(p.InviteEmailMessage, "{username}") || !strings.Contains(p.InviteEmailMessage, "{####}") {
		t.Errorf("the invitation %q must carry {username} and {####}", p.InviteEmailMessage)
	}

	if len(tp.UserPoolClients) != 1 {
		t.Fatalf("%d app clients, want 1", len(tp.UserPoolClients))
	}
	c := tp.UserPoolClients[0]
	if c.PoolRef != p.LogicalID || c.GenerateSecret {
		t.Errorf("client of %s with secret %v; want of %s without a secret", c.PoolRef, c.GenerateSecret, p.LogicalID)
	}
	flows := slices.Clone(c.ExplicitAuthFlows)
	slices.Sort(flows)
	if !slices.Equal(flows, []string{"ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"}) {
		t.Errorf("auth flows %v, want exactly USER_PASSWORD_AUTH and REFRESH_TOKEN_AUTH", c.ExplicitAuthFlows)
	}
	if c.PreventUserExistenceErrors != "ENABLED" || !c.EnableTokenRevocation {
		t.Errorf("PreventUserExistenceErrors %q, token revocation %v; want ENABLED, true", c.PreventUserExistenceErrors, c.EnableTokenRevocation)
	}
	if !slices.Contains(c.ReadAttributes, "custom:tenant_id") {
		t.Errorf("ReadAttributes %v: the ID token must carry custom:tenant_id", c.ReadAttributes)
	}
	if len(c.WriteAttributes) == 0 || slices.Contains(c.WriteAttributes, "custom:tenant_id") || slices.Contains(c.WriteAttributes, "email") {
		t.Errorf("WriteAttributes %v: must be set (unset means all) and exclude custom:tenant_id and email", c.WriteAttributes)
	}
	if c.IDTokenValidity > 60 || c.TokenValidityUnits["IdToken"] != "minutes" {
		t.Errorf("ID tokens live %d %s; want at most 60 minutes", c.IDTokenValidity, c.TokenValidityUnits["IdToken"])
	}

	var groups []string
	for _, g := range tp.UserPoolGroups {
		if g.PoolRef != p.LogicalID {
			t.Errorf("group %s is in pool %s", g.GroupName, g.PoolRef)
		}
		groups = append(groups, g.GroupName)
	}
	slices.Sort(groups)
	roles := slices.Clone(user.Roles)
	slices.Sort(roles)
	if !slices.Equal(groups, roles) {
		t.Errorf("groups %v, want the roles %v", groups, roles)
	}
}

// TestInvariantUserPoolPermissions: the users function (the users and
// sign-in routes, the only one linking the Cognito SDK) may make exactly
// the user pool calls the adapter makes, on the pool only; no other
// function, the management API's included, may touch the pool.
func TestInvariantUserPoolPermissions(t *testing.T) {
	tp, raw := invProjectTemplate(t)
	for _, f := range tp.Functions {
		var actions []string
		var resources []*yaml.Node
		var pols []*yaml.Node // none for a function without policies (the console's)
		if p := invPath(raw, "Resources", f.LogicalID, "Properties", "Policies"); p != nil {
			pols = p.Content
		}
		for _, pol := range pols {
			st := invPath(pol, "Statement")
			if st == nil {
				continue
			}
			for _, s := range st.Content {
				acts := invScalars(invPath(s, "Action"))
				if a := invScalar(invPath(s, "Action")); a != "" {
					acts = []string{a}
				}
				for _, a := range acts {
					if strings.HasPrefix(a, "cognito-idp:") {
						actions = append(actions, a)
						resources = append(resources, invPath(s, "Resource"))
					}
				}
			}
		}
		slices.Sort(actions)
		t.Run(f.LogicalID, func(t *testing.T) {
			if f.LogicalID != "UsersFunction" {
				if len(actions) > 0 {
					t.Errorf("may call the user pool: %v", actions)
				}
				return
			}
			if d := cmp.Diff(cognito.AdminActions, actions); d != "" {
				t.Errorf("user pool actions (-adapter +template):\n%s", d)
			}
			for _, r := range resources {
				if r == nil || r.Tag != "!GetAtt" || r.Value != "UserPool.Arn" {
					t.Errorf("user pool actions on %+v, want !GetAtt UserPool.Arn", r)
				}
			}
		})
	}
	if !slices.ContainsFunc(tp.Functions, func(f Function) bool { return f.LogicalID == "UsersFunction" }) {
		t.Error("template.yaml has no UsersFunction: nobody may manage the pool's users")
	}
}
