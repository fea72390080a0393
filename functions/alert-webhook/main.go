// Command alert-webhook is the RMM alert webhook receiver.
// It only wires: the handlers live in shared/ and are built by shared/wire.
package main

import (
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/wire"
)

func main() { lambdafn.Main("alert-webhook", wire.AlertWebhook) }
