// Command users is the management API's users and sign-in routes
// (/v1/users*, /v1/auth/*): the only function that links the Cognito SDK.
// It only starts the function: shared/lambdas/usersfn builds its handlers.
package main

import (
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/usersfn"
)

func main() { lambdafn.Main("users", usersfn.Build) }
