package importjob_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/psa/psafake"
	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// TestAssetIndexMatch checks the index's answers against the ladder's
// rules, over an account listed in pages of 2: the oldest asset carrying
// our reference, else one asset with the real serial (any case) and no
// other device's reference, else a tie naming them all, else none; other
// accounts' assets never count.
func TestAssetIndexMatch(t *testing.T) {
	p := psafake.New(psafake.FirstID(100), psafake.AssetPageSize(2))
	for _, a := range []psa.Asset{
		{ID: "101", AccountID: "250", Name: "a", ExternalRef: "d1", SerialNumber: "S-1"},
		{ID: "102", AccountID: "250", Name: "b", ExternalRef: "d1"}, // our duplicate: the older wins
		{ID: "103", AccountID: "250", Name: "c", SerialNumber: "s-2"},
		{ID: "104", AccountID: "250", Name: "d", SerialNumber: "S-3"},
		{ID: "105", AccountID: "250", Name: "e", SerialNumber: "S-3"},
		{ID: "106", AccountID: "250", Name: "f", SerialNumber: "S-4", ExternalRef: "d9"}, // another device's
		{ID: "107", AccountID: "250", Name: "g", SerialNumber: "To be filled by O.E.M."},
		{ID: "108", AccountID: "999", Name: "h", ExternalRef: "d5", SerialNumber: "S-5"},
	} {
		p.PutAsset(a)
	}
	asOf := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	ix, err := importjob.ListAssetIndex(context.Background(), p.Client(), "250", asOf)
	if err != nil {
		t.Fatal(err)
	}
	if n := p.Calls("ListAccountAssets"); n != 4 {
		t.Errorf("%d list pages for 7 assets in pages of 2, want 4", n)
	}
	m := func(by, id string, cands ...string) queuemsg.AssetMatch {
		return queuemsg.AssetMatch{By: by, AssetID: id, Candidates: cands, AccountID: "250", AsOf: asOf}
	}
	for _, tc := range []struct {
		name string
		d    rmm.Device
		want queuemsg.AssetMatch
	}{
		{"our reference, oldest of two", rmm.Device{ID: "d1", SerialNumber: "S-3"}, m(importjob.MatchByExternalRef, "101")},
		{"a unique serial in another case", rmm.Device{ID: "d2", SerialNumber: "S-2"}, m(importjob.MatchBySerial, "103")},
		{"a shared serial", rmm.Device{ID: "d3", SerialNumber: "s-3"}, m(importjob.MatchTie, "", "104", "105")},
		{"a serial on another device's asset", rmm.Device{ID: "d4", SerialNumber: "S-4"}, m(importjob.MatchNone, "")},
		{"a placeholder serial", rmm.Device{ID: "d6", SerialNumber: "To be filled by O.E.M."}, m(importjob.MatchNone, "")},
		{"another account's asset", rmm.Device{ID: "d5", SerialNumber: "S-5"}, m(importjob.MatchNone, "")},
		{"nothing", rmm.Device{ID: "d7", SerialNumber: "S-7"}, m(importjob.MatchNone, "")},
	} {
		if d := cmp.Diff(tc.want, ix.Match(tc.d)); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, d)
		}
	}
}
