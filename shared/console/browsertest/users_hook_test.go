package browsertest

import "testing"

// The users issue (Cognito sign-in, the users API) is merged separately.
// The console's tests of it run in both states of the stack: without the
// routes they check what the console shows then (email sign-in and users
// "not available"); with them they run the whole flow, and need the two
// hooks below, which read the local stack's Cognito users. When merging,
// point them at devstack (env.Users.AdminEmail and AdminPassword, and the
// temporary password of an invitation from env.Invitations()): a stack
// with the routes and an empty hook fails the test, it never skips.

// demoAdmin returns the demo tenant's admin user's email and password.
var demoAdmin = func(t *testing.T) (email, password string) { return "", "" }

// temporaryPassword returns the temporary password the invitation of a
// user just imported carries (the dev mailbox stands for the email).
var temporaryPassword = func(t *testing.T, email string) string { return "" }
