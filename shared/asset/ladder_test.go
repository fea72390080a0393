package asset_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/asset"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

func TestResolve(t *testing.T) {
	dev := rmm.Device{ID: "1001", SerialNumber: "5CG3211XYZ"}
	linked := &asset.Link{DeviceID: "1001", AssetID: "77", State: asset.StateLinked}
	tests := []struct {
		name   string
		link   *asset.Link
		device rmm.Device
		psa    []psa.Asset
		want   asset.Match
		// calls are the PSA lookups the ladder must make.
		calls map[string]int
	}{
		{
			name: "link hit costs no PSA request", link: linked, device: dev,
			psa:   []psa.Asset{{ID: "90", ExternalRef: "1001"}},
			want:  asset.Match{AssetID: "77", By: asset.ByLink},
			calls: map[string]int{},
		},
		{
			name: "a creating claim is not a link", link: &asset.Link{DeviceID: "1001", State: asset.StateCreating}, device: dev,
			psa:   []psa.Asset{{ID: "90", ExternalRef: "1001"}},
			want:  asset.Match{AssetID: "90", By: asset.ByExternalRef},
			calls: map[string]int{"findByRef": 1},
		},
		{
			name: "external reference hit; the oldest of our duplicates", device: dev,
			psa:   []psa.Asset{{ID: "120", ExternalRef: "1001"}, {ID: "95", ExternalRef: "1001"}, {ID: "60", SerialNumber: "5CG3211XYZ"}},
			want:  asset.Match{AssetID: "95", By: asset.ByExternalRef},
			calls: map[string]int{"findByRef": 1},
		},
		{
			name: "serial hit", device: dev,
			psa:   []psa.Asset{{ID: "60", SerialNumber: "5cg3211xyz"}},
			want:  asset.Match{AssetID: "60", By: asset.BySerial},
			calls: map[string]int{"findByRef": 1, "findBySerial": 1},
		},
		{
			name: "placeholder serial is never looked up", device: rmm.Device{ID: "1001", SerialNumber: "System Serial Number"},
			psa:   []psa.Asset{{ID: "60", SerialNumber: "System Serial Number"}},
			want:  asset.Match{By: asset.NoMatch},
			calls: map[string]int{"findByRef": 1},
		},
		{
			name: "empty serial is never looked up", device: rmm.Device{ID: "1001"},
			want:  asset.Match{By: asset.NoMatch},
			calls: map[string]int{"findByRef": 1},
		},
		{
			name: "serial tie goes to review", device: dev,
			psa: []psa.Asset{{ID: "612", SerialNumber: "5CG3211XYZ"}, {ID: "61", SerialNumber: "5CG3211XYZ"}},
			want: asset.Match{By: asset.Tie, Candidates: []string{"61", "612"},
				Reason: "serial number 5CG3211XYZ matches 2 PSA assets (61, 612); choose one"},
			calls: map[string]int{"findByRef": 1, "findBySerial": 1},
		},
		{
			name: "another device's asset with the same serial does not count", device: dev,
			psa:   []psa.Asset{{ID: "61", SerialNumber: "5CG3211XYZ", ExternalRef: "2002"}, {ID: "62", SerialNumber: "5CG3211XYZ"}},
			want:  asset.Match{AssetID: "62", By: asset.BySerial},
			calls: map[string]int{"findByRef": 1, "findBySerial": 1},
		},
		{
			name: "a looser vendor match is not a serial match", device: dev,
			psa:   []psa.Asset{{ID: "63", SerialNumber: "5CG3211XYZ-2"}},
			want:  asset.Match{By: asset.NoMatch},
			calls: map[string]int{"findByRef": 1, "findBySerial": 1},
		},
		{
			name: "nothing: create", device: dev,
			psa:   []psa.Asset{{ID: "64", SerialNumber: "OTHER", ExternalRef: "3003"}},
			want:  asset.Match{By: asset.NoMatch},
			calls: map[string]int{"findByRef": 1, "findBySerial": 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newFakePSA(tc.psa...)
			got, err := asset.Resolve(context.Background(), tc.link, p, tc.device)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Resolve (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.calls, p.calls()); diff != "" {
				t.Errorf("PSA calls (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveLookupFailure(t *testing.T) {
	p := newFakePSA()
	p.fail = func(op string) error {
		if op == "findBySerial" {
			return apperr.New(apperr.Unavailable, "PSA down")
		}
		return nil
	}
	_, err := asset.Resolve(context.Background(), nil, p, rmm.Device{ID: "1001", SerialNumber: "ABC123"})
	if !apperr.Is(err, apperr.Unavailable) {
		t.Errorf("Resolve = %v, want the lookup's Unavailable error", err)
	}
}
