package autotask

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// DefaultCITypes maps normalized device types (rmm.DeviceType values) to
// configuration item type labels; a label the tenant lacks falls back to
// Config.ConfigurationItemType.
var DefaultCITypes = map[string]string{
	"workstation": "Workstation", "server": "Server", "mac": "Workstation", "linux": "Workstation",
	"mobile": "Mobile Device", "vm_host": "Server", "vm": "Server", "network": "Network Device", "other": "Other",
}

// deviceTypeOf maps a CI type label back to a device type.
var deviceTypeOf = map[string]string{
	"workstation": "workstation", "server": "server", "mobile device": "mobile", "network device": "network", "other": "other",
}

// The CI audit fields the client writes where the tenant allows.
const (
	fieldOS      = "rmmDeviceAuditOperatingSystem"
	fieldUser    = "rmmDeviceAuditLastUser"
	fieldIP      = "rmmDeviceAuditIPAddress"
	fieldMAC     = "rmmDeviceAuditMacAddress"
	fieldStorage = "rmmDeviceAuditStorageBytes"
)

// apiCI is a ConfigurationItems record.
type apiCI struct {
	ID                    json.Number `json:"id"`
	CompanyID             json.Number `json:"companyID"`
	CompanyLocationID     json.Number `json:"companyLocationID"`
	ConfigurationItemType json.Number `json:"configurationItemType"`
	ReferenceTitle        string      `json:"referenceTitle"`
	SerialNumber          string      `json:"serialNumber"`
	IsActive              bool        `json:"isActive"`
	OS                    string      `json:"rmmDeviceAuditOperatingSystem"`
	LastUser              string      `json:"rmmDeviceAuditLastUser"`
	IP                    string      `json:"rmmDeviceAuditIPAddress"`
	MAC                   string      `json:"rmmDeviceAuditMacAddress"`
	StorageBytes          json.Number `json:"rmmDeviceAuditStorageBytes"`
	UserDefinedFields     []udfValue  `json:"userDefinedFields"`
}

// asset converts a CI.
func (c *Client) asset(ctx context.Context, ci apiCI) (psa.Asset, error) {
	a := psa.Asset{ID: ci.ID.String(), AccountID: ci.CompanyID.String(), Name: ci.ReferenceTitle, SerialNumber: ci.SerialNumber,
		OS: ci.OS, LastLoggedInUser: ci.LastUser, IPAddress: ci.IP, MACAddress: ci.MAC}
	if n := idOf(ci.CompanyLocationID); n > 0 {
		a.LocationID = strconv.Itoa(n)
	}
	if n, err := ci.StorageBytes.Int64(); err == nil {
		a.TotalBytes = n
	}
	if c.cfg.AssetRefUDF != "" {
		a.ExternalRef = udfOf(ci.UserDefinedFields, c.cfg.AssetRefUDF)
	}
	if ci.ConfigurationItemType != "" {
		types, err := c.picklist(ctx, "ConfigurationItems", "configurationItemType")
		if err != nil {
			return psa.Asset{}, err
		}
		if t, ok := resolvePick(types, psa.NamedRef{ID: ci.ConfigurationItemType.String()}); ok {
			a.DeviceType = deviceTypeOf[strings.ToLower(t.Name)]
		}
	}
	return a, nil
}

func (c *Client) assets(ctx context.Context, cis []apiCI) ([]psa.Asset, error) {
	out := make([]psa.Asset, 0, len(cis))
	for _, ci := range cis {
		a, err := c.asset(ctx, ci)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// GetAsset implements psa.AssetFinder.
func (c *Client) GetAsset(ctx context.Context, id string) (psa.Asset, error) {
	n, err := parseID("configuration item", id)
	if err != nil {
		return psa.Asset{}, err
	}
	var out struct {
		Item *apiCI `json:"item"`
	}
	if err := c.get(ctx, "/V1.0/ConfigurationItems/{id}", "/V1.0/ConfigurationItems/"+strconv.Itoa(n), &out); err != nil {
		return psa.Asset{}, fmt.Errorf("read Autotask configuration item %d: %w", n, err)
	}
	if out.Item == nil {
		return psa.Asset{}, apperr.New(apperr.NotFound, "no Autotask configuration item %d", n)
	}
	return c.asset(ctx, *out.Item)
}

// FindAssetsByExternalRef implements psa.AssetFinder with the
// Config.AssetRefUDF filter (exact value).
func (c *Client) FindAssetsByExternalRef(ctx context.Context, ref string) ([]psa.Asset, error) {
	if c.cfg.AssetRefUDF == "" {
		return nil, apperr.New(apperr.NotImplemented, "the Autotask connection names no configuration item UDF for rmmbridge's reference (setting assetRefUdf)")
	}
	if strings.TrimSpace(ref) == "" {
		return nil, nil
	}
	cis, err := queryAll[apiCI](ctx, c, "ConfigurationItems", udfEq(c.cfg.AssetRefUDF, ref))
	if err != nil {
		return nil, fmt.Errorf("find Autotask configuration items by reference: %w", err)
	}
	var keep []apiCI
	for _, ci := range cis {
		if udfOf(ci.UserDefinedFields, c.cfg.AssetRefUDF) == ref {
			keep = append(keep, ci)
		}
	}
	return c.assets(ctx, keep)
}

// FindAssetsBySerial implements psa.AssetFinder: whole serials, any case;
// a placeholder serial (rmm.IsPlaceholderSerial) matches nothing and
// costs no request.
func (c *Client) FindAssetsBySerial(ctx context.Context, serial string) ([]psa.Asset, error) {
	serial = strings.TrimSpace(serial)
	if serial == "" || rmm.IsPlaceholderSerial(serial) {
		return nil, nil
	}
	cis, err := queryAll[apiCI](ctx, c, "ConfigurationItems", eq("serialNumber", serial))
	if err != nil {
		return nil, fmt.Errorf("find Autotask configuration items by serial: %w", err)
	}
	var keep []apiCI
	for _, ci := range cis {
		if strings.EqualFold(ci.SerialNumber, serial) {
			keep = append(keep, ci)
		}
	}
	return c.assets(ctx, keep)
}

// ListAccountAssets implements psa.AssetLister: one page of the company's
// CIs in id order (Config.PageSize); the cursor is the last id.
func (c *Client) ListAccountAssets(ctx context.Context, accountID, cursor string) (psa.Page[psa.Asset], error) {
	n, err := parseID("company", accountID)
	if err != nil {
		return psa.Page[psa.Asset]{}, err
	}
	after, err := parseCursor(cursor)
	if err != nil {
		return psa.Page[psa.Asset]{}, err
	}
	p, err := queryPage[apiCI](ctx, c, "ConfigurationItems", queryBody{Filter: []filter{eq("companyID", n), op("gt", "id", after)}, MaxRecords: c.cfg.PageSize})
	if err != nil {
		return psa.Page[psa.Asset]{}, fmt.Errorf("list Autotask configuration items of company %d: %w", n, err)
	}
	items, err := c.assets(ctx, p.Items)
	if err != nil {
		return psa.Page[psa.Asset]{}, err
	}
	out := psa.Page[psa.Asset]{Items: items}
	if p.PageDetails.NextPageURL != "" && len(p.Items) > 0 {
		out.NextCursor = cursorAfter(idOf(p.Items[len(p.Items)-1].ID))
	}
	return out, nil
}

// ciBody builds the fields of a CI write from an asset.
func (c *Client) ciBody(ctx context.Context, a psa.Asset) (map[string]any, error) {
	acct, err := parseID("company", a.AccountID)
	if err != nil {
		return nil, apperr.InvalidFields(apperr.FieldError{Field: "accountId", Message: "is not an Autotask company id"})
	}
	m, err := c.metaOf(ctx, "ConfigurationItems")
	if err != nil {
		return nil, err
	}
	types, err := c.picklist(ctx, "ConfigurationItems", "configurationItemType")
	if err != nil {
		return nil, err
	}
	ty, ok := resolvePick(types, psa.NamedRef{Name: DefaultCITypes[a.DeviceType]})
	if !ok {
		if ty, err = c.pickOrSetting(ctx, "ConfigurationItems", "configurationItemType", psa.NamedRef{}, "configurationItemType", c.cfg.ConfigurationItemType); err != nil {
			return nil, err
		}
	}
	body := map[string]any{"companyID": acct, "configurationItemType": atoiRef(ty), "referenceTitle": psa.Truncate(a.Name, 200),
		"serialNumber": nilIfEmpty(psa.Truncate(a.SerialNumber, 100))}
	if a.LocationID != "" {
		loc, err := parseID("location", a.LocationID)
		if err != nil {
			return nil, apperr.InvalidFields(apperr.FieldError{Field: "locationId", Message: "is not an Autotask location id"})
		}
		body["companyLocationID"] = loc
	} else {
		body["companyLocationID"] = nil
	}
	for field, v := range map[string]any{fieldOS: nilIfEmpty(a.OS), fieldUser: nilIfEmpty(a.LastLoggedInUser),
		fieldIP: nilIfEmpty(a.IPAddress), fieldMAC: nilIfEmpty(a.MACAddress), fieldStorage: nilIfZero(a.TotalBytes)} {
		if m.writable(field) {
			body[field] = v
		}
	}
	if c.cfg.AssetRefUDF != "" {
		body["userDefinedFields"] = []udfValue{{Name: c.cfg.AssetRefUDF, Value: nilIfEmpty(a.ExternalRef)}}
	}
	return body, nil
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nilIfZero(n int64) any {
	if n == 0 {
		return nil
	}
	return n
}

// CreateAsset implements psa.AssetWriter: an active CI of
// Config.ProductID, in one request (the POST).
func (c *Client) CreateAsset(ctx context.Context, a psa.Asset) (psa.Asset, error) {
	body, err := c.ciBody(ctx, a)
	if err != nil {
		return psa.Asset{}, err
	}
	if c.cfg.ProductID == 0 {
		m, _ := c.metaOf(ctx, "ConfigurationItems")
		if f, ok := m.field("productID"); ok && f.IsRequired {
			return psa.Asset{}, apperr.InvalidFields(apperr.FieldError{Field: "settings.productId",
				Message: "is required: this Autotask tenant requires a product on new configuration items"})
		}
	} else {
		body["productID"] = c.cfg.ProductID
	}
	body["isActive"] = true
	if err := c.fillRequired(ctx, "ConfigurationItems", body); err != nil {
		return psa.Asset{}, err
	}
	id, err := c.create(ctx, "/V1.0/ConfigurationItems", "/V1.0/ConfigurationItems", body)
	if err != nil {
		return psa.Asset{}, fmt.Errorf("create Autotask configuration item %q: %w", a.Name, err)
	}
	// Autotask answers {"itemId": N} only. Every field asset() reads is
	// in the body, or is an audit field the tenant does not let us write,
	// which a new CI (linked to no RMM device) does not have: the CI as
	// written is what a read answers, without the read.
	ci, err := written[apiCI](id, body)
	if err != nil {
		return psa.Asset{}, err
	}
	return c.asset(ctx, ci)
}

// auditFields are the CI fields asset() reads that ciBody writes only
// where the tenant allows.
var auditFields = []string{fieldOS, fieldUser, fieldIP, fieldMAC, fieldStorage}

// ownedAuditField reports whether the tenant has an audit field that it
// does not let the client write (its RMM integration owns it): an
// existing CI may hold a value there that no write of ours shows.
func (c *Client) ownedAuditField(ctx context.Context) (bool, error) {
	m, err := c.metaOf(ctx, "ConfigurationItems")
	if err != nil {
		return false, err
	}
	for _, f := range auditFields {
		if _, ok := m.field(f); ok && !m.writable(f) {
			return true, nil
		}
	}
	return false, nil
}

// UpdateAsset implements psa.AssetWriter (PATCH of every field it maps),
// answering the CI as written; a tenant that keeps an audit field from
// the client (ownedAuditField) costs a GET of the CI too.
func (c *Client) UpdateAsset(ctx context.Context, a psa.Asset) (psa.Asset, error) {
	id, err := parseID("configuration item", a.ID)
	if err != nil {
		return psa.Asset{}, err
	}
	body, err := c.ciBody(ctx, a)
	if err != nil {
		return psa.Asset{}, err
	}
	body["id"] = id
	if err := c.patch(ctx, "ConfigurationItems", body); err != nil {
		return psa.Asset{}, fmt.Errorf("update Autotask configuration item %d: %w", id, err)
	}
	// The PATCH carries every field asset() reads, unless the tenant
	// keeps an audit field from us: only then does the answer need a read.
	owned, err := c.ownedAuditField(ctx)
	if err != nil {
		return psa.Asset{}, err
	}
	if owned {
		return c.GetAsset(ctx, a.ID)
	}
	ci, err := written[apiCI](id, body)
	if err != nil {
		return psa.Asset{}, err
	}
	return c.asset(ctx, ci)
}
