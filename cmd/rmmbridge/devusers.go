package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/devtools/devstack"
)

// printUsers prints how to sign in as the demo admin.
func printUsers(w io.Writer, env *devstack.Env, chosen bool) {
	u, api := env.Users, env.Stack.APIURL()
	source := "generated for this run; set RMMBRIDGE_DEV_ADMIN_PASSWORD to choose one"
	if chosen {
		source = "from RMMBRIDGE_DEV_ADMIN_PASSWORD"
	}
	fmt.Fprintf(w, `
Users (Cognito user pool %[1]s in moto, app client %[2]s)
  demo admin    %[3]s
  password      %[4]s  (%[5]s)
  sign in       curl -s -X POST %[6]s/v1/auth/login -H 'Content-Type: application/json' \
                  -d '{"email":"%[3]s","password":"%[4]s"}'
                then send its idToken: curl -s -H "Authorization: Bearer $ID_TOKEN" %[6]s/v1/users
  invitations   of imported users, with their temporary passwords, are printed here
                (the dev mailbox %[7]s; in AWS Cognito mails them)
`, u.PoolID, u.ClientID, u.AdminEmail, u.AdminPassword, source, api, u.Mailbox)
}

// watchMailbox prints each invitation the API delivers to the dev
// mailbox, until ctx ends.
func watchMailbox(ctx context.Context, w io.Writer, env *devstack.Env) {
	printed := 0
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		invs, err := env.Invitations()
		if err != nil {
			fmt.Fprintln(w, "dev mailbox:", err)
			return
		}
		for _, inv := range invs[printed:] {
			fmt.Fprintf(w, "invitation    %s (%s, user %s): temporary password %s — sign in, then answer the NEW_PASSWORD_REQUIRED challenge at /v1/auth/new-password\n",
				inv.Email, inv.Name, inv.UserID, inv.TemporaryPassword)
		}
		printed = len(invs)
	}
}
