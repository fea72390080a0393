package halopsa

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// assetKeys are the properties a listed asset must carry to be read from
// the list (else it is read by id).
var assetKeys = []string{"third_party_id_string", "fields", "client_id", "assettype_id"}

// disksHeader is the first line of the disks field the client writes; it
// carries the storage totals in bytes so that they read back exactly.
var disksHeader = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^Total: (\d+) bytes, free: (\d+) bytes`) })

func formatDisks(total, free int64, volumes string) string {
	var lines []string
	if total > 0 {
		used := float64(total-free) / float64(total) * 100
		lines = append(lines, fmt.Sprintf("Total: %d bytes, free: %d bytes (%.1f%% used)", total, free, used))
	}
	if v := strings.TrimSpace(volumes); v != "" {
		lines = append(lines, v)
	}
	return strings.Join(lines, "\n")
}

func parseDisks(s string) (total, free int64, volumes string) {
	first, rest, _ := strings.Cut(s, "\n")
	m := disksHeader().FindStringSubmatch(first)
	if m == nil {
		return 0, 0, strings.TrimSpace(s)
	}
	total, _ = strconv.ParseInt(m[1], 10, 64)
	free, _ = strconv.ParseInt(m[2], 10, 64)
	return total, free, strings.TrimSpace(rest)
}

func (c *Client) toAsset(a apiAsset) psa.Asset {
	f := c.cfg.AssetFields
	out := psa.Asset{
		ID: strconv.Itoa(a.ID), AccountID: itoa(a.ClientID), LocationID: itoa(a.SiteID), Name: a.InventoryNumber,
		ExternalRef: a.ThirdPartyIDString, SerialNumber: a.field(f.Serial), OS: a.field(f.OS), LastLoggedInUser: a.field(f.LastUser),
		Manufacturer: a.field(f.Manufacturer), Model: a.field(f.Model), IPAddress: a.field(f.IP), MACAddress: a.field(f.MAC),
	}
	if s := a.field(f.CheckIn); s != "" {
		out.LastCheckIn = parseTime(s)
	}
	out.TotalBytes, out.FreeBytes, out.Volumes = parseDisks(a.field(f.Disks))
	for _, m := range c.cfg.AssetTypes {
		if m.TypeID == a.AssetTypeID {
			out.DeviceType = m.DeviceType
			break
		}
	}
	return out
}

// assetType is the asset type of a device class.
func (c *Client) assetType(deviceType string) (int, error) {
	for _, m := range c.cfg.AssetTypes {
		if strings.EqualFold(m.DeviceType, deviceType) {
			return m.TypeID, nil
		}
	}
	if c.cfg.DefaultAssetTypeID != 0 {
		return c.cfg.DefaultAssetTypeID, nil
	}
	return 0, apperr.InvalidFields(apperr.FieldError{Field: "settings.assetTypeMap",
		Message: fmt.Sprintf("maps no HaloPSA asset type for device class %q, and settings.defaultAssetTypeId is not set", deviceType)})
}

// body is the asset as Halo saves it: every configured field is sent,
// empty ones too, so that an update clears what the device lost.
func (c *Client) assetBody(a psa.Asset, id int) (apiAsset, error) {
	client, err := parseID("client", a.AccountID)
	if err != nil {
		return apiAsset{}, apperr.InvalidFields(apperr.FieldError{Field: "accountId", Message: "is not a HaloPSA client id"})
	}
	typ, err := c.assetType(a.DeviceType)
	if err != nil {
		return apiAsset{}, err
	}
	body := apiAsset{ID: id, InventoryNumber: a.Name, ClientID: client, SiteID: atoi(a.LocationID), AssetTypeID: typ,
		ThirdPartyIDString: a.ExternalRef, Fields: []assetField{}}
	f := c.cfg.AssetFields
	checkIn := ""
	if !a.LastCheckIn.IsZero() {
		checkIn = a.LastCheckIn.UTC().Format(time.RFC3339)
	}
	for _, v := range []struct {
		id    int
		value string
	}{
		{f.Serial, a.SerialNumber}, {f.OS, a.OS}, {f.LastUser, a.LastLoggedInUser}, {f.Manufacturer, a.Manufacturer},
		{f.Model, a.Model}, {f.IP, a.IPAddress}, {f.MAC, a.MACAddress}, {f.CheckIn, checkIn},
		{f.Disks, formatDisks(a.TotalBytes, a.FreeBytes, a.Volumes)},
	} {
		if v.id != 0 {
			body.Fields = append(body.Fields, assetField{ID: v.id, Value: textValue(v.value)})
		}
	}
	return body, nil
}

// GetAsset implements psa.AssetFinder.
func (c *Client) GetAsset(ctx context.Context, id string) (psa.Asset, error) {
	n, err := parseID("asset", id)
	if err != nil {
		return psa.Asset{}, err
	}
	var a apiAsset
	if err := c.get(ctx, "/api/Asset/{id}", "/Asset/"+strconv.Itoa(n), nil, &a); err != nil {
		return psa.Asset{}, fmt.Errorf("get HaloPSA asset %d: %w", n, err)
	}
	return c.toAsset(a), nil
}

// FindAssetsByExternalRef implements psa.AssetFinder: assets (active and
// inactive) whose third_party_id_string is ref. Halo's search narrows the
// candidates (§6 [U] whether it covers third_party_id_string: if not, the
// lookup finds nothing and the ladder goes on to the serial, then a new
// asset — a visible duplicate, never a wrong link); every candidate is
// compared exactly.
func (c *Client) FindAssetsByExternalRef(ctx context.Context, ref string) ([]psa.Asset, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, nil
	}
	return c.findAssets(ctx, ref, func(a apiAsset) bool { return strings.TrimSpace(a.ThirdPartyIDString) == ref })
}

// FindAssetsBySerial implements psa.AssetFinder: assets whose serial field
// (Config.AssetFields.Serial) is serial, case-insensitively. A placeholder
// serial (rmm.IsPlaceholderSerial) matches nothing and costs no request;
// without a serial field nothing is stored to match.
func (c *Client) FindAssetsBySerial(ctx context.Context, serial string) ([]psa.Asset, error) {
	serial = strings.TrimSpace(serial)
	if serial == "" || rmm.IsPlaceholderSerial(serial) || c.cfg.AssetFields.Serial == 0 {
		return nil, nil
	}
	return c.findAssets(ctx, serial, func(a apiAsset) bool {
		return strings.EqualFold(strings.TrimSpace(a.field(c.cfg.AssetFields.Serial)), serial)
	})
}

func (c *Client) findAssets(ctx context.Context, search string, match func(apiAsset) bool) ([]psa.Asset, error) {
	raws, err := collect[json.RawMessage](ctx, c, "Asset", "assets", url.Values{"search": {search}, "includeinactive": {"true"}})
	if err != nil {
		return nil, fmt.Errorf("search HaloPSA assets for %q: %w", search, err)
	}
	var out []psa.Asset
	for _, raw := range raws {
		a, err := complete[apiAsset](ctx, c, "Asset", raw, assetKeys...)
		if err != nil {
			return nil, fmt.Errorf("search HaloPSA assets for %q: %w", search, err)
		}
		if match(a) {
			out = append(out, c.toAsset(a))
		}
	}
	return out, nil
}

// ListAccountAssets implements psa.AssetLister: one page of the client's
// assets (active and inactive: an inactive asset carrying our reference is
// still ours), with the fields the finders read; the cursor is the next
// page number.
func (c *Client) ListAccountAssets(ctx context.Context, accountID, cursor string) (psa.Page[psa.Asset], error) {
	n, err := parseID("client", accountID)
	if err != nil {
		return psa.Page[psa.Asset]{}, err
	}
	no := 1
	if cursor != "" {
		if no, err = strconv.Atoi(cursor); err != nil || no < 2 {
			return psa.Page[psa.Asset]{}, apperr.New(apperr.Invalid, "the cursor %q was not returned by this listing", clipText(cursor, 40))
		}
	}
	size := c.cfg.PageSize
	p, err := getPage[json.RawMessage](ctx, c, "Asset", "assets", url.Values{"client_id": {strconv.Itoa(n)}, "includeinactive": {"true"}}, size, no)
	if err != nil {
		return psa.Page[psa.Asset]{}, fmt.Errorf("list HaloPSA assets of client %d: %w", n, err)
	}
	out := psa.Page[psa.Asset]{Items: []psa.Asset{}}
	for _, raw := range p.items {
		a, err := complete[apiAsset](ctx, c, "Asset", raw, assetKeys...)
		if err != nil {
			return psa.Page[psa.Asset]{}, fmt.Errorf("list HaloPSA assets of client %d: %w", n, err)
		}
		if a.ClientID != n {
			continue // a server that ignored client_id
		}
		out.Items = append(out.Items, c.toAsset(a))
	}
	if len(p.items) == size && (!p.hasCount || no*size < p.count) {
		out.NextCursor = strconv.Itoa(no + 1)
	}
	return out, nil
}

// CreateAsset implements psa.AssetWriter: POST /api/Asset.
func (c *Client) CreateAsset(ctx context.Context, a psa.Asset) (psa.Asset, error) {
	body, err := c.assetBody(a, 0)
	if err != nil {
		return psa.Asset{}, err
	}
	var saved apiAsset
	if err := c.post(ctx, "Asset", body, &saved); err != nil {
		return psa.Asset{}, fmt.Errorf("create HaloPSA asset %q: %w", a.Name, err)
	}
	if saved.ID == 0 {
		return psa.Asset{}, apperr.New(apperr.Vendor, "HaloPSA saved asset %q without an id", a.Name)
	}
	return c.toAsset(saved), nil
}

// UpdateAsset implements psa.AssetWriter: POST /api/Asset with the id.
func (c *Client) UpdateAsset(ctx context.Context, a psa.Asset) (psa.Asset, error) {
	n, err := parseID("asset", a.ID)
	if err != nil {
		return psa.Asset{}, err
	}
	body, err := c.assetBody(a, n)
	if err != nil {
		return psa.Asset{}, err
	}
	var saved apiAsset
	if err := c.post(ctx, "Asset", body, &saved); err != nil {
		return psa.Asset{}, fmt.Errorf("update HaloPSA asset %d: %w", n, err)
	}
	return c.toAsset(saved), nil
}
