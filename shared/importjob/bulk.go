package importjob

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/lease"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// The bulk path of an asset import: the dispatcher reads an organization's
// devices with every attribute in bulk (rmm.DeviceSnapshotLister) and its
// account's assets once (psa.AssetLister), and puts in each AssetMessage
// the device's snapshot and the index's answer for it, so the asset worker
// of a new device needs no RMM request and one PSA write. A vendor without
// a role keeps the per-device path for it.

// The index answers (queuemsg.AssetMatch.By), the names of the asset
// package's ladder rungs.
const (
	MatchByExternalRef = "externalRef"
	MatchBySerial      = "serial"
	MatchTie           = "tie"
	MatchNone          = "none"
)

// maxListPages bounds one account's asset listing (a vendor whose cursor
// never ends is an error, not a loop).
const maxListPages = 10000

// snapshotDevices pages through an organization's device snapshots to the
// end.
func snapshotDevices(ctx context.Context, l rmm.DeviceSnapshotLister, orgID string) ([]rmm.Device, error) {
	var all []rmm.Device
	seen := map[string]bool{}
	cursor := ""
	for range maxListPages {
		p, err := l.ListDeviceSnapshots(ctx, orgID, cursor)
		if err != nil {
			return nil, err
		}
		all = append(all, p.Devices...)
		if p.NextCursor == "" {
			return all, nil
		}
		if seen[p.NextCursor] {
			return nil, fmt.Errorf("the device snapshot of organization %s repeated cursor %q", orgID, p.NextCursor)
		}
		seen[p.NextCursor] = true
		cursor = p.NextCursor
	}
	return nil, fmt.Errorf("the device snapshot of organization %s did not end after %d pages", orgID, maxListPages)
}

// AssetIndex is one account's assets indexed by our reference and serial
// number, as of the listing.
type AssetIndex struct {
	accountID string
	asOf      time.Time
	byRef     map[string][]psa.Asset
	bySerial  map[string][]psa.Asset
}

// ListAssetIndex pages through an account's assets to the end and indexes
// them.
func ListAssetIndex(ctx context.Context, l psa.AssetLister, accountID string, now time.Time) (*AssetIndex, error) {
	ix := &AssetIndex{accountID: accountID, asOf: now.UTC(), byRef: map[string][]psa.Asset{}, bySerial: map[string][]psa.Asset{}}
	seen := map[string]bool{}
	cursor := ""
	for range maxListPages {
		p, err := l.ListAccountAssets(ctx, accountID, cursor)
		if err != nil {
			return nil, err
		}
		for _, a := range p.Items {
			ix.add(a)
		}
		if p.NextCursor == "" {
			return ix, nil
		}
		if seen[p.NextCursor] {
			return nil, fmt.Errorf("the asset listing of account %s repeated cursor %q", accountID, p.NextCursor)
		}
		seen[p.NextCursor] = true
		cursor = p.NextCursor
	}
	return nil, fmt.Errorf("the asset listing of account %s did not end after %d pages", accountID, maxListPages)
}

func (ix *AssetIndex) add(a psa.Asset) {
	if a.ID == "" {
		return
	}
	if ref := strings.TrimSpace(a.ExternalRef); ref != "" {
		ix.byRef[ref] = append(ix.byRef[ref], a)
	}
	if s := strings.ToLower(strings.TrimSpace(a.SerialNumber)); s != "" && !rmm.IsPlaceholderSerial(s) {
		ix.bySerial[s] = append(ix.bySerial[s], a)
	}
}

// Match answers device d as the asset package's ladder does, from the
// index: the oldest asset carrying our reference; else, for a real serial,
// the one asset with that serial and no other device's reference, or a
// tie naming them all; else none.
func (ix *AssetIndex) Match(d rmm.Device) queuemsg.AssetMatch {
	m := queuemsg.AssetMatch{AccountID: ix.accountID, AsOf: ix.asOf, By: MatchNone}
	if ours := ix.byRef[d.ID]; len(ours) > 0 {
		m.By, m.AssetID = MatchByExternalRef, lease.Oldest(ours, func(a psa.Asset) string { return a.ID }).ID
		return m
	}
	serial := strings.TrimSpace(d.SerialNumber)
	if rmm.IsPlaceholderSerial(serial) {
		return m
	}
	var ids []string
	for _, a := range ix.bySerial[strings.ToLower(serial)] {
		if a.ExternalRef != "" && a.ExternalRef != d.ID {
			continue // another device's asset
		}
		ids = append(ids, a.ID)
	}
	switch len(ids) {
	case 0:
	case 1:
		m.By, m.AssetID = MatchBySerial, ids[0]
	default:
		sort.Slice(ids, func(i, j int) bool { return lease.Older(ids[i], ids[j]) })
		m.By, m.Candidates = MatchTie, ids
	}
	return m
}

// bulkAssetMessage is the AssetMessage of device d of an import, with its
// snapshot (snap) and index answer (match) when known and small enough:
// a body over queuemsg.MaxAssetMessageBytes drops the snapshot, then the
// match (the worker then reads the device, or runs the ladder).
func bulkAssetMessage(ref Ref, d rmm.Device, snap bool, match *queuemsg.AssetMatch) Message {
	m := queuemsg.AssetRefresh{TenantID: ref.TenantID, IntegrationID: ref.IntegrationID, JobID: ref.JobID, DeviceID: d.ID, Reason: "import", Match: match}
	if snap {
		dv := d
		m.Device = &dv
	}
	b, _ := json.Marshal(m)
	if len(b) > queuemsg.MaxAssetMessageBytes && m.Device != nil {
		m.Device = nil
		b, _ = json.Marshal(m)
	}
	if len(b) > queuemsg.MaxAssetMessageBytes && m.Match != nil {
		m.Match = nil
		b, _ = json.Marshal(m)
	}
	return Message{Body: string(b), GroupID: ref.TenantID}
}
