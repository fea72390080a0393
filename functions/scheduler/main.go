// Command scheduler is the periodic work on an EventBridge schedule (reverse provisioning).
// It only starts the function: shared/lambdas/schedulerfn builds its handlers.
package main

import (
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/schedulerfn"
)

func main() { lambdafn.Main("scheduler", schedulerfn.Build) }
