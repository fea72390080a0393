// Command scheduler is the periodic work on an EventBridge schedule (reverse provisioning).
// It only wires: the handlers live in shared/ and are built by shared/wire.
package main

import (
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/wire"
)

func main() { lambdafn.Main("scheduler", wire.Scheduler) }
