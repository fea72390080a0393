// Command alert-worker is the alert-to-ticket worker on the AlertQueue.
// It only wires: the handlers live in shared/ and are built by shared/wire.
package main

import (
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/wire"
)

func main() { lambdafn.Main("alert-worker", wire.AlertWorker) }
