// Command authorizer is the HTTP API Lambda authorizer (API key to tenant).
// It only wires: the handlers live in shared/ and are built by shared/wire.
package main

import (
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/wire"
)

func main() { lambdafn.Main("authorizer", wire.Authorizer) }
