// Command api is the management API (all /v1 routes but the webhook and Sync).
// It only wires: the handlers live in shared/ and are built by shared/wire.
package main

import (
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/wire"
)

func main() { lambdafn.Main("api", wire.API) }
