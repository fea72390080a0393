// Command alert-worker is the alert-to-ticket worker on the AlertQueue.
// It only starts the function: shared/lambdas/alertworkerfn builds its handlers.
package main

import (
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/alertworkerfn"
)

func main() { lambdafn.Main("alert-worker", alertworkerfn.Build) }
