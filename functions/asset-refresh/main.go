// Command asset-refresh is the asset upsert worker on the AssetQueue and the Sync button.
// It only starts the function: shared/lambdas/assetrefreshfn builds its handlers.
package main

import (
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/assetrefreshfn"
)

func main() { lambdafn.Main("asset-refresh", assetrefreshfn.Build) }
