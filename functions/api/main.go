// Command api is the management API (all /v1 routes but the webhook and Sync).
// It only starts the function: shared/lambdas/apifn builds its handlers.
package main

import (
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/apifn"
)

func main() { lambdafn.Main("api", apifn.Build) }
