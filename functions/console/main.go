// Command console serves the operator console's static files (shared/console).
package main

import (
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/consolefn"
)

func main() { lambdafn.Main("console", consolefn.Build) }
