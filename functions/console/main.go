// Command console serves the operator console's static files (shared/console).
package main

import (
	"github.com/rmmbridge/rmmbridge/shared/console"
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
)

func main() { lambdafn.Main("console", console.Factory) }
