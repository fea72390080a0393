// Command alert-webhook is the RMM alert webhook receiver.
// It only starts the function: shared/lambdas/alertwebhookfn builds its handlers.
package main

import (
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/alertwebhookfn"
)

func main() { lambdafn.Main("alert-webhook", alertwebhookfn.Build) }
