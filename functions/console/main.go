// Command console serves the operator console's static files. It only
// wires: the handler lives in shared/console and is built by shared/wire.
package main

import (
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/wire"
)

func main() { lambdafn.Main("console", wire.Console) }
