package connectwise

import (
	"context"
	"fmt"
	"net/http"
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

// deviceTypeOrder is the order in which a configuration type name is mapped
// back to a device type when several map to the same name.
var deviceTypeOrder = []string{"workstation", "server", "mobile", "network", "vm", "vm_host", "mac", "linux", "other"}

// drivesHeader is the first line of localHardDrives the client writes; it
// carries the storage totals in bytes so that they read back exactly.
var drivesHeader = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^Total: (\d+) bytes, free: (\d+) bytes`)
})

// formatDrives renders storage for the localHardDrives text field: a totals
// line, then the per-volume summary.
func formatDrives(total, free int64, volumes string) string {
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

// parseDrives reads back what formatDrives wrote; other text is returned as
// the volume summary.
func parseDrives(s string) (total, free int64, volumes string) {
	first, rest, _ := strings.Cut(s, "\n")
	m := drivesHeader().FindStringSubmatch(first)
	if m == nil {
		return 0, 0, strings.TrimSpace(s)
	}
	total, _ = strconv.ParseInt(m[1], 10, 64)
	free, _ = strconv.ParseInt(m[2], 10, 64)
	return total, free, strings.TrimSpace(rest)
}

func (c *Client) toAsset(cf apiConfiguration) psa.Asset {
	a := psa.Asset{
		ID:               strconv.Itoa(cf.ID),
		AccountID:        cf.Company.id(),
		LocationID:       cf.Site.id(),
		Name:             cf.Name,
		ExternalRef:      cf.DeviceIdentifier,
		SerialNumber:     cf.SerialNumber,
		OS:               cf.OSType,
		Manufacturer:     cf.Manufacturer.name(),
		Model:            cf.ModelNumber,
		LastLoggedInUser: cf.LastLoginName,
		IPAddress:        cf.IPAddress,
		MACAddress:       cf.MACAddress,
		DeviceType:       c.deviceType(cf.Type.name()),
	}
	a.TotalBytes, a.FreeBytes, a.Volumes = parseDrives(cf.LocalHardDrives)
	if c.cfg.AssetCheckInFieldID != 0 {
		a.LastCheckIn = parseTime(fieldText(cf.CustomFields, c.cfg.AssetCheckInFieldID))
	}
	return a
}

// deviceType maps a configuration type name back to a device type.
func (c *Client) deviceType(typeName string) string {
	if typeName == "" {
		return ""
	}
	for _, dt := range deviceTypeOrder {
		if name, ok := c.cfg.ConfigTypes[dt]; ok && strings.EqualFold(name, typeName) {
			return dt
		}
	}
	return "other"
}

// configTypeID resolves the configuration type for a device type.
func (c *Client) configTypeID(ctx context.Context, deviceType string) (int, error) {
	types, err := c.list(ctx, pathConfigTypes)
	if err != nil {
		return 0, err
	}
	want, ok := c.cfg.ConfigTypes[strings.ToLower(deviceType)]
	if !ok {
		want = c.cfg.ConfigTypes["other"]
	}
	for _, name := range []string{want, c.cfg.FallbackConfigType} {
		if t, ok := findNamed(types, name); ok && name != "" {
			return t.ID, nil
		}
	}
	return 0, apperr.New(apperr.Invalid, "ConnectWise has neither the configuration type %q nor the fallback %q", want, c.cfg.FallbackConfigType)
}

// assetRefs resolves the references an asset write needs.
type assetRefs struct {
	company, site, typ, manufacturer int
}

func (c *Client) resolveAsset(ctx context.Context, a psa.Asset) (assetRefs, error) {
	var r assetRefs
	if strings.TrimSpace(a.Name) == "" {
		return r, apperr.InvalidFields(apperr.FieldError{Field: "name", Message: "is required"})
	}
	n, err := strconv.Atoi(a.AccountID)
	if err != nil || n <= 0 {
		return r, apperr.InvalidFields(apperr.FieldError{Field: "accountId", Message: "must be a ConnectWise company id"})
	}
	r.company = n
	if a.LocationID != "" {
		if r.site, err = strconv.Atoi(a.LocationID); err != nil || r.site <= 0 {
			return r, apperr.InvalidFields(apperr.FieldError{Field: "locationId", Message: "must be a ConnectWise site id"})
		}
	}
	if r.typ, err = c.configTypeID(ctx, a.DeviceType); err != nil {
		return r, err
	}
	if r.manufacturer, err = c.manufacturerID(ctx, a.Manufacturer); err != nil {
		return r, err
	}
	return r, nil
}

func (c *Client) checkInField(t time.Time) []customField {
	if c.cfg.AssetCheckInFieldID == 0 || t.IsZero() {
		return nil
	}
	return []customField{textField(c.cfg.AssetCheckInFieldID, t.UTC().Format(time.RFC3339))}
}

// GetAsset implements psa.AssetFinder.
func (c *Client) GetAsset(ctx context.Context, id string) (psa.Asset, error) {
	n, err := parseID("configuration", id)
	if err != nil {
		return psa.Asset{}, err
	}
	var cf apiConfiguration
	if err := c.get(ctx, "/company/configurations/{id}", fmt.Sprintf("/company/configurations/%d", n), nil, &cf); err != nil {
		return psa.Asset{}, fmt.Errorf("get ConnectWise configuration %d: %w", n, err)
	}
	return c.toAsset(cf), nil
}

// FindAssetsByExternalRef implements psa.AssetFinder: configurations whose
// deviceIdentifier is our RMM device id.
func (c *Client) FindAssetsByExternalRef(ctx context.Context, ref string) ([]psa.Asset, error) {
	return c.findAssets(ctx, "deviceIdentifier", ref, func(cf apiConfiguration) string { return cf.DeviceIdentifier })
}

// FindAssetsBySerial implements psa.AssetFinder: configurations with this
// serial number. A placeholder serial (rmm.IsPlaceholderSerial: "To be
// filled by O.E.M.", zeros, ...) matches nothing and costs no request: the
// configurations that carry one are unrelated machines.
func (c *Client) FindAssetsBySerial(ctx context.Context, serial string) ([]psa.Asset, error) {
	if rmm.IsPlaceholderSerial(serial) {
		return nil, nil
	}
	return c.findAssets(ctx, "serialNumber", serial, func(cf apiConfiguration) string { return cf.SerialNumber })
}

func (c *Client) findAssets(ctx context.Context, field, value string, get func(apiConfiguration) string) ([]psa.Asset, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return nil, nil
	}
	cfs, err := collect[apiConfiguration](ctx, c, "/company/configurations", "/company/configurations", query(Eq(field, value), nil))
	if err != nil {
		return nil, fmt.Errorf("find ConnectWise configurations by %s %q: %w", field, value, err)
	}
	var out []psa.Asset
	for _, cf := range cfs {
		// Guard against a server that ignored the conditions.
		if strings.EqualFold(strings.TrimSpace(get(cf)), value) {
			out = append(out, c.toAsset(cf))
		}
	}
	return out, nil
}

// CreateAsset implements psa.AssetWriter: POST /company/configurations.
// The manufacturer is linked when ConnectWise knows one of that name; a
// last check-in is written only with Config.AssetCheckInFieldID.
func (c *Client) CreateAsset(ctx context.Context, a psa.Asset) (psa.Asset, error) {
	r, err := c.resolveAsset(ctx, a)
	if err != nil {
		return psa.Asset{}, err
	}
	body := apiConfiguration{
		Name:             a.Name,
		Type:             idRef(r.typ),
		Company:          idRef(r.company),
		Site:             idRef(r.site),
		DeviceIdentifier: a.ExternalRef,
		SerialNumber:     a.SerialNumber,
		ModelNumber:      a.Model,
		Manufacturer:     idRef(r.manufacturer),
		IPAddress:        a.IPAddress,
		MACAddress:       a.MACAddress,
		OSType:           a.OS,
		LocalHardDrives:  formatDrives(a.TotalBytes, a.FreeBytes, a.Volumes),
		LastLoginName:    a.LastLoggedInUser,
		CustomFields:     c.checkInField(a.LastCheckIn),
	}
	var cf apiConfiguration
	if _, err := c.do(ctx, http.MethodPost, "/company/configurations", "/company/configurations", nil, body, &cf); err != nil {
		return psa.Asset{}, fmt.Errorf("create ConnectWise configuration %q: %w", a.Name, err)
	}
	return c.toAsset(cf), nil
}

// UpdateAsset implements psa.AssetWriter with one JSON Patch of every field
// rmmbridge owns (fields people maintain in ConnectWise — status, contact,
// notes, other custom fields — are left alone). An empty location or an
// unknown manufacturer leaves the existing reference in place.
func (c *Client) UpdateAsset(ctx context.Context, a psa.Asset) (psa.Asset, error) {
	n, err := parseID("configuration", a.ID)
	if err != nil {
		return psa.Asset{}, err
	}
	r, err := c.resolveAsset(ctx, a)
	if err != nil {
		return psa.Asset{}, err
	}
	ops := []patchOp{
		replace("name", a.Name),
		replace("type", ref{ID: r.typ}),
		replace("company", ref{ID: r.company}),
		replace("deviceIdentifier", a.ExternalRef),
		replace("serialNumber", a.SerialNumber),
		replace("modelNumber", a.Model),
		replace("ipAddress", a.IPAddress),
		replace("macAddress", a.MACAddress),
		replace("osType", a.OS),
		replace("lastLoginName", a.LastLoggedInUser),
		replace("localHardDrives", formatDrives(a.TotalBytes, a.FreeBytes, a.Volumes)),
	}
	if r.site != 0 {
		ops = append(ops, replace("site", ref{ID: r.site}))
	}
	if r.manufacturer != 0 {
		ops = append(ops, replace("manufacturer", ref{ID: r.manufacturer}))
	}
	if f := c.checkInField(a.LastCheckIn); f != nil {
		ops = append(ops, replace("customFields", f))
	}
	var cf apiConfiguration
	if err := c.patch(ctx, "/company/configurations/{id}", fmt.Sprintf("/company/configurations/%d", n), ops, &cf); err != nil {
		return psa.Asset{}, fmt.Errorf("update ConnectWise configuration %d: %w", n, err)
	}
	return c.toAsset(cf), nil
}

// ListAccountAssets implements psa.AssetLister: one page of the company's
// configurations (conditions company/id=N and id>cursor, orderBy id asc,
// PageSize a page), so that the listing is a keyset walk that neither skips
// nor repeats a configuration when others are created meanwhile. The cursor
// is the last configuration id of the previous page; a full page, or one
// that links to a next, continues (an empty last page costs one request,
// never a missed configuration).
func (c *Client) ListAccountAssets(ctx context.Context, accountID, cursor string) (psa.Page[psa.Asset], error) {
	n, err := parseID("company", accountID)
	if err != nil {
		return psa.Page[psa.Asset]{}, err
	}
	conds := []Cond{EqInt("company/id", n)}
	if cursor != "" {
		after, err := strconv.Atoi(cursor)
		if err != nil || after < 0 {
			return psa.Page[psa.Asset]{}, apperr.InvalidFields(apperr.FieldError{Field: "cursor", Message: "is not a cursor this listing returned"})
		}
		conds = append(conds, Cond("id>"+strconv.Itoa(after)))
	}
	params := url.Values{"page": {"1"}, "pageSize": {strconv.Itoa(c.cfg.PageSize)}, "orderBy": {"id asc"}}
	var cfs []apiConfiguration
	resp, err := c.do(ctx, http.MethodGet, "/company/configurations", "/company/configurations", query(And(conds...), params), nil, &cfs)
	if err != nil {
		return psa.Page[psa.Asset]{}, fmt.Errorf("list the ConnectWise configurations of company %d: %w", n, err)
	}
	out := psa.Page[psa.Asset]{Items: make([]psa.Asset, 0, len(cfs))}
	last := 0
	for _, cf := range cfs {
		// Guard against a server that ignored the conditions.
		if cf.Company.id() != strconv.Itoa(n) {
			continue
		}
		out.Items = append(out.Items, c.toAsset(cf))
		last = max(last, cf.ID)
	}
	if len(cfs) > 0 && (len(cfs) >= c.cfg.PageSize || nextLink(resp)) {
		out.NextCursor = strconv.Itoa(max(last, cfs[len(cfs)-1].ID))
	}
	return out, nil
}
