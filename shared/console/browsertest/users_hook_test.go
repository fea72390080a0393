package browsertest

import (
	"strings"
	"testing"
	"time"
)

// The console's tests of the users issue (Cognito sign-in, the users API)
// run the whole flow against the local stack's Cognito users: the demo
// admin devstack seeds, and the invitations the API function delivers to
// the dev mailbox (env.Invitations()) instead of mailing them. A stack
// with the routes and a hook that finds nothing fails the test, it never
// skips.

// demoAdmin returns the demo tenant's admin user's email and password.
var demoAdmin = func(t *testing.T) (email, password string) {
	t.Helper()
	return env.Users.AdminEmail, env.Users.AdminPassword
}

// temporaryPassword returns the temporary password the invitation of a
// user just imported carries (the dev mailbox stands for the email): the
// latest invitation to email, waiting up to 10 s for it.
var temporaryPassword = func(t *testing.T, email string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		invs, err := env.Invitations()
		if err != nil {
			t.Fatalf("read the dev mailbox: %v", err)
		}
		for i := len(invs) - 1; i >= 0; i-- {
			if strings.EqualFold(invs[i].Email, strings.TrimSpace(email)) {
				return invs[i].TemporaryPassword
			}
		}
		if time.Now().After(deadline) {
			t.Errorf("no invitation to %s in the dev mailbox (%d invitations)", email, len(invs))
			return ""
		}
		time.Sleep(200 * time.Millisecond)
	}
}
