package asset

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/rmmbridge/rmmbridge/shared/lease"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// Finder is what the matching ladder asks of the PSA.
type Finder interface {
	FindAssetsByExternalRef(ctx context.Context, ref string) ([]psa.Asset, error)
	FindAssetsBySerial(ctx context.Context, serial string) ([]psa.Asset, error)
}

// Rung is the rung of the matching ladder that found the asset.
type Rung string

// The rungs, in the order they are tried.
const (
	ByLink        Rung = "link"        // our stored link
	ByExternalRef Rung = "externalRef" // our RMM device id, stored in the PSA
	BySerial      Rung = "serial"      // the serial number (never a placeholder)
	Tie           Rung = "tie"         // several assets share the serial: review
	NoMatch       Rung = "none"        // nothing: create
)

// Match is the ladder's answer for one device.
type Match struct {
	// AssetID is the matched asset (empty for Tie and NoMatch).
	AssetID string
	By      Rung
	// Candidates are the tied asset ids, sorted (Tie only).
	Candidates []string
	// Reason explains a Tie for the review list.
	Reason string
}

// Resolve runs the matching ladder for device d: our stored link (link may
// be nil; a link is trusted without a PSA call, and a refresh that finds
// its asset deleted drops the link and resolves again without it), then
// the assets carrying our external reference (the RMM device id; several
// are our own duplicates, and the oldest is adopted, as
// account.EnsureAccount does for accounts), then the serial number —
// skipped for placeholder serials; assets that carry another device's
// reference do not count, and two or more remaining assets are a Tie for a
// human to settle, never a guess — else NoMatch.
func Resolve(ctx context.Context, link *Link, f Finder, d rmm.Device) (Match, error) {
	if link != nil && link.State == StateLinked && link.AssetID != "" {
		return Match{AssetID: link.AssetID, By: ByLink}, nil
	}
	byRef, err := f.FindAssetsByExternalRef(ctx, d.ID)
	if err != nil {
		return Match{}, fmt.Errorf("find assets of device %s by reference: %w", d.ID, err)
	}
	if len(byRef) > 0 {
		return Match{AssetID: lease.Oldest(byRef, func(a psa.Asset) string { return a.ID }).ID, By: ByExternalRef}, nil
	}
	serial := strings.TrimSpace(d.SerialNumber)
	if rmm.IsPlaceholderSerial(serial) {
		return Match{By: NoMatch}, nil
	}
	found, err := f.FindAssetsBySerial(ctx, serial)
	if err != nil {
		return Match{}, fmt.Errorf("find assets of device %s by serial: %w", d.ID, err)
	}
	var ids []string
	for _, a := range found {
		if !strings.EqualFold(strings.TrimSpace(a.SerialNumber), serial) {
			continue // a vendor search that matched more loosely
		}
		if a.ExternalRef != "" && a.ExternalRef != d.ID {
			continue // another device's asset
		}
		ids = append(ids, a.ID)
	}
	switch len(ids) {
	case 0:
		return Match{By: NoMatch}, nil
	case 1:
		return Match{AssetID: ids[0], By: BySerial}, nil
	}
	sort.Slice(ids, func(i, j int) bool { return lease.Older(ids[i], ids[j]) })
	return Match{By: Tie, Candidates: ids,
		Reason: fmt.Sprintf("serial number %s matches %d PSA assets (%s); choose one", serial, len(ids), strings.Join(ids, ", "))}, nil
}
