// Command import-dispatch is the per-organization import worker on the ImportQueue.
// It only wires: the handlers live in shared/ and are built by shared/wire.
package main

import (
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/wire"
)

func main() { lambdafn.Main("import-dispatch", wire.ImportDispatch) }
