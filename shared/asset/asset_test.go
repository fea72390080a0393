package asset_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/asset"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

var checkInAt = time.Date(2026, 11, 21, 8, 30, 15, 0, time.UTC)

// laptop is a fully populated device (a 256 GB system disk shows as
// 237.9 GB, as Windows shows it).
func laptop() rmm.Device {
	return rmm.Device{
		ID: "1001", OrganizationID: "o1", SiteID: "s1", Name: "ACME-LT-042", DisplayName: "Reception laptop",
		DeviceType:   rmm.DeviceWorkstation,
		OS:           rmm.OS{Name: "Windows 11 Pro", Version: "23H2", Build: "22631"},
		Manufacturer: "Dell Inc.", Model: "Latitude 7440", SerialNumber: "5CG3211XYZ",
		LastLoggedInUser: `ACME\jdoe`, LastCheckIn: checkInAt.Add(420 * time.Millisecond),
		Volumes: []rmm.Volume{
			{Name: "D:", Label: "Data", CapacityBytes: 1 << 40, FreeBytes: 3 << 38},
			{Name: "C:", Label: "OS", CapacityBytes: 255_438_000_000, FreeBytes: 104_730_000_000},
		},
		IPAddresses:  []string{"10.0.4.17", "fe80::1"},
		MACAddresses: []string{"", "3C:52:82:AA:BB:CC"},
	}
}

func TestToPSA(t *testing.T) {
	tests := []struct {
		name   string
		device func() rmm.Device
		want   psa.Asset
	}{
		{
			name:   "every attribute",
			device: laptop,
			want: psa.Asset{AccountID: "250", LocationID: "31", Name: "ACME-LT-042", ExternalRef: "1001",
				SerialNumber: "5CG3211XYZ", OS: "Windows 11 Pro 23H2 (22631)", Manufacturer: "Dell Inc.",
				Model: "Latitude 7440", LastLoggedInUser: `ACME\jdoe`, LastCheckIn: checkInAt,
				IPAddress: "10.0.4.17", MACAddress: "3C:52:82:AA:BB:CC",
				TotalBytes: 255_438_000_000 + 1<<40, FreeBytes: 104_730_000_000 + 3<<38,
				Volumes: "C: 237.9 GB, 41% free\nD: 1.0 TB, 75% free", DeviceType: "workstation"},
		},
		{
			name: "placeholder serial is not written, display name stands in for a missing hostname",
			device: func() rmm.Device {
				return rmm.Device{ID: "1002", OrganizationID: "o1", DisplayName: "Front desk", SerialNumber: "To be filled by O.E.M.",
					DeviceType: rmm.DeviceServer}
			},
			want: psa.Asset{AccountID: "250", LocationID: "31", Name: "Front desk", ExternalRef: "1002", DeviceType: "server"},
		},
		{
			name: "nameless device is named by its id; unknown capacity",
			device: func() rmm.Device {
				return rmm.Device{ID: "1003", Volumes: []rmm.Volume{{Name: "/", CapacityBytes: 0}}}
			},
			want: psa.Asset{AccountID: "250", LocationID: "31", Name: "1003", ExternalRef: "1003", Volumes: "/: size unknown"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := asset.ToPSA(tc.device(), "250", "31")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ToPSA (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1000: "1000 B", 1536: "1.5 KB", 512 << 20: "512.0 MB", 255_438_000_000: "237.9 GB", 2 << 40: "2.0 TB",
	} {
		if got := asset.FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestHash(t *testing.T) {
	base := asset.ToPSA(laptop(), "250", "31")
	h := asset.Hash(base)
	// Pinned: a change of the encoding must bump hashVersion (every asset
	// is then rewritten once), and this value with it.
	const pinned = "df31e9fea1f7a772d48bf6f3720d8fe32ee11576962f1bd3072c5d6fe1a94e6a"
	if h != pinned {
		t.Errorf("Hash(base) = %s, want %s", h, pinned)
	}
	same := []struct {
		name   string
		change func(a *psa.Asset)
	}{
		{"asset id is not a written field", func(a *psa.Asset) { a.ID = "777" }},
		{"sub-second check-in difference", func(a *psa.Asset) { a.LastCheckIn = a.LastCheckIn.Add(900 * time.Millisecond) }},
		{"check-in in another zone", func(a *psa.Asset) { a.LastCheckIn = a.LastCheckIn.In(time.FixedZone("CET", 3600)) }},
	}
	for _, tc := range same {
		t.Run(tc.name, func(t *testing.T) {
			a := base
			tc.change(&a)
			if got := asset.Hash(a); got != h {
				t.Errorf("hash changed to %s, want %s", got, h)
			}
		})
	}
	differ := []struct {
		name   string
		change func(a *psa.Asset)
	}{
		{"check-in", func(a *psa.Asset) { a.LastCheckIn = a.LastCheckIn.Add(time.Minute) }},
		{"free space", func(a *psa.Asset) { a.FreeBytes-- }},
		{"account", func(a *psa.Asset) { a.AccountID = "251" }},
		{"location", func(a *psa.Asset) { a.LocationID = "" }},
		{"user", func(a *psa.Asset) { a.LastLoggedInUser = `ACME\asmith` }},
		{"volumes", func(a *psa.Asset) { a.Volumes = "C: 237.9 GB, 40% free" }},
		{"device type", func(a *psa.Asset) { a.DeviceType = "server" }},
		{"external reference", func(a *psa.Asset) { a.ExternalRef = "" }},
	}
	for _, tc := range differ {
		t.Run(tc.name, func(t *testing.T) {
			a := base
			tc.change(&a)
			if got := asset.Hash(a); got == h {
				t.Errorf("hash unchanged after changing the %s", tc.name)
			}
		})
	}
	t.Run("volume order from the RMM", func(t *testing.T) {
		d := laptop()
		d.Volumes[0], d.Volumes[1] = d.Volumes[1], d.Volumes[0]
		if got := asset.Hash(asset.ToPSA(d, "250", "31")); got != h {
			t.Errorf("hash depends on the RMM's volume order")
		}
	})
}
