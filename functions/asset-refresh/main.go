// Command asset-refresh is the asset upsert worker on the AssetQueue and the Sync button.
// It only wires: the handlers live in shared/ and are built by shared/wire.
package main

import (
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/wire"
)

func main() { lambdafn.Main("asset-refresh", wire.AssetRefresh) }
