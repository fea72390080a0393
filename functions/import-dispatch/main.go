// Command import-dispatch is the per-organization import worker on the ImportQueue.
// It only starts the function: shared/lambdas/importdispatchfn builds its handlers.
package main

import (
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/importdispatchfn"
)

func main() { lambdafn.Main("import-dispatch", importdispatchfn.Build) }
