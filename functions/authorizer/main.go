// Command authorizer is the HTTP API Lambda authorizer (API key to tenant).
// It only starts the function: shared/lambdas/authorizerfn builds its handlers.
package main

import (
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/authorizerfn"
)

func main() { lambdafn.Main("authorizer", authorizerfn.Build) }
