// Package asset is asset sync: it turns an RMM device into the PSA asset
// that mirrors it, finds that asset with the matching ladder, upserts it,
// and keeps the link between the two (DEV#<deviceId>) with what the API
// lists.
//
// A refresh costs no PSA write when nothing changed: the link keeps a
// content hash of the fields last written (Hash), and a device whose new
// hash equals it is "unchanged". The last check-in time and the storage
// figures are written fields, so a device that checked in (or whose free
// space moved) since the last sync is "updated" — unchanged means that
// nothing the PSA shows would change.
//
// Creating an asset happens once per device however many refreshes race
// (the same claim → look up → create → finalize pattern as
// account.EnsureAccount): a refresh that finds no link claims the device
// with a conditional put of a "creating" link that holds a lease, looks the
// asset up in the PSA by our external reference (adopting one that a
// crashed refresh created) and by serial number, creates it only if both
// find nothing, and writes the final link only while its claim stands.
// Refreshes that lose the claim wait for the winner's link.
package asset

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// ToPSA converts a device into the PSA asset that mirrors it, under the
// given account and location (locationID may be empty). The asset's ID is
// left empty. Placeholder serial numbers ("To be filled by O.E.M.") are not
// written; the first IP and MAC address are; storage is written as totals
// plus a per-volume summary ("C: 237.9 GB, 41% free", one line per volume,
// sorted by volume name); the last check-in is kept to the second.
func ToPSA(d rmm.Device, accountID, locationID string) psa.Asset {
	st := d.Storage()
	a := psa.Asset{
		AccountID:        accountID,
		LocationID:       locationID,
		Name:             deviceName(d),
		ExternalRef:      d.ID,
		OS:               d.OS.String(),
		Manufacturer:     strings.TrimSpace(d.Manufacturer),
		Model:            strings.TrimSpace(d.Model),
		LastLoggedInUser: strings.TrimSpace(d.LastLoggedInUser),
		LastCheckIn:      checkIn(d.LastCheckIn),
		IPAddress:        first(d.IPAddresses),
		MACAddress:       first(d.MACAddresses),
		TotalBytes:       st.CapacityBytes,
		FreeBytes:        st.FreeBytes,
		Volumes:          VolumeSummary(d.Volumes),
		DeviceType:       string(d.DeviceType),
	}
	if s := strings.TrimSpace(d.SerialNumber); !rmm.IsPlaceholderSerial(s) {
		a.SerialNumber = s
	}
	return a
}

func deviceName(d rmm.Device) string {
	for _, s := range []string{d.Name, d.DisplayName, d.ID} {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

func checkIn(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Second)
}

func first(xs []string) string {
	for _, x := range xs {
		if x = strings.TrimSpace(x); x != "" {
			return x
		}
	}
	return ""
}

// sortedVolumes returns the volumes ordered by name, so that a vendor
// listing them in another order does not change the hash.
func sortedVolumes(vs []rmm.Volume) []rmm.Volume {
	out := append([]rmm.Volume(nil), vs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// VolumeSummary renders volumes one per line, sorted by name, as
// "C: 237.9 GB, 41% free" ("/: 49.1 GB, 62% free"). Sizes are in binary
// units labelled the way Windows labels them (1 GB = 2^30 bytes); a volume
// of unknown capacity reads "C: size unknown".
func VolumeSummary(vs []rmm.Volume) string {
	lines := make([]string, 0, len(vs))
	for _, v := range sortedVolumes(vs) {
		name := strings.TrimSpace(v.Name)
		if name == "" {
			name = strings.TrimSpace(v.Label)
		}
		if !strings.HasSuffix(name, ":") {
			name += ":"
		}
		if v.CapacityBytes <= 0 {
			lines = append(lines, name+" size unknown")
			continue
		}
		free := math.Round(float64(v.FreeBytes) * 100 / float64(v.CapacityBytes))
		lines = append(lines, fmt.Sprintf("%s %s, %d%% free", name, FormatBytes(v.CapacityBytes), int(free)))
	}
	return strings.Join(lines, "\n")
}

// FormatBytes renders a size in binary units with one decimal ("237.9 GB",
// "1.8 TB", "512.0 MB").
func FormatBytes(n int64) string {
	units := []string{"B", "KB", "MB", "GB", "TB", "PB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}

// hashVersion changes whenever the hashed encoding changes, so that every
// asset is rewritten once rather than compared against an old encoding.
const hashVersion = "asset/v1"

// hashed is the canonical encoding of the fields a refresh writes: the
// order is fixed by the struct and the check-in is RFC 3339 in UTC to the
// second. The asset id is not a written field and is left out.
type hashed struct {
	V                string `json:"v"`
	AccountID        string `json:"accountId"`
	LocationID       string `json:"locationId"`
	Name             string `json:"name"`
	ExternalRef      string `json:"externalRef"`
	SerialNumber     string `json:"serialNumber"`
	OS               string `json:"os"`
	Manufacturer     string `json:"manufacturer"`
	Model            string `json:"model"`
	LastLoggedInUser string `json:"lastLoggedInUser"`
	LastCheckIn      string `json:"lastCheckIn"`
	IPAddress        string `json:"ipAddress"`
	MACAddress       string `json:"macAddress"`
	TotalBytes       int64  `json:"totalBytes"`
	FreeBytes        int64  `json:"freeBytes"`
	Volumes          string `json:"volumes"`
	DeviceType       string `json:"deviceType"`
}

// Hash returns the hex SHA-256 of the canonical encoding of a's written
// fields — everything ToPSA sets, the last check-in included; not the
// asset id. Two assets with equal hashes look the same in the PSA.
func Hash(a psa.Asset) string {
	h := hashed{V: hashVersion, AccountID: a.AccountID, LocationID: a.LocationID, Name: a.Name,
		ExternalRef: a.ExternalRef, SerialNumber: a.SerialNumber, OS: a.OS, Manufacturer: a.Manufacturer,
		Model: a.Model, LastLoggedInUser: a.LastLoggedInUser, IPAddress: a.IPAddress, MACAddress: a.MACAddress,
		TotalBytes: a.TotalBytes, FreeBytes: a.FreeBytes, Volumes: a.Volumes, DeviceType: a.DeviceType}
	if !a.LastCheckIn.IsZero() {
		h.LastCheckIn = a.LastCheckIn.UTC().Truncate(time.Second).Format(time.RFC3339)
	}
	b, err := json.Marshal(h)
	if err != nil {
		// A struct of strings and integers always marshals.
		panic("asset: hash encoding: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
