package dynamostore

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/asset"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// Assets stores device→asset links at T#<tenant>#INT#<integration> /
// DEV#<deviceId>, indexed on GSI1 by PSA asset
// (T#<tenant>#INT#<integration>#ASSET#<assetId> / DEV#<deviceId>). A link
// carries the asset's display fields so that listing assets reads only this
// partition.
type Assets struct{ s *Store }

var _ asset.Store = Assets{}

// NewAssets returns the asset-link repository over s.
func NewAssets(s *Store) Assets { return Assets{s: s} }

// Paging of ListLinks: a filtered listing reads pages of at least
// linkScanPage items and at most linkScanPages pages per call before it
// answers with a cursor.
const (
	linkScanPage  = 250
	linkScanPages = 10
)

type linkItem struct {
	PK               string       `dynamodbav:"pk"`
	SK               string       `dynamodbav:"sk"`
	GSI1PK           string       `dynamodbav:"gsi1pk,omitempty"`
	GSI1SK           string       `dynamodbav:"gsi1sk,omitempty"`
	DeviceID         string       `dynamodbav:"deviceId"`
	OrganizationID   string       `dynamodbav:"organizationId,omitempty"`
	AssetID          string       `dynamodbav:"assetId,omitempty"`
	AccountID        string       `dynamodbav:"accountId,omitempty"`
	LocationID       string       `dynamodbav:"locationId,omitempty"`
	Hash             string       `dynamodbav:"hash,omitempty"`
	State            string       `dynamodbav:"state"`
	LeaseOwner       string       `dynamodbav:"leaseOwner,omitempty"`
	LeaseUntilMs     int64        `dynamodbav:"leaseUntilMs,omitempty"`
	Version          int64        `dynamodbav:"version"`
	LastSyncedAt     string       `dynamodbav:"lastSyncedAt,omitempty"`
	Name             string       `dynamodbav:"name,omitempty"`
	SerialNumber     string       `dynamodbav:"serialNumber,omitempty"`
	OS               string       `dynamodbav:"os,omitempty"`
	LastLoggedInUser string       `dynamodbav:"lastLoggedInUser,omitempty"`
	LastCheckIn      string       `dynamodbav:"lastCheckIn,omitempty"`
	Storage          *storageItem `dynamodbav:"storage,omitempty"`
}

type storageItem struct {
	TotalBytes int64        `dynamodbav:"totalBytes"`
	FreeBytes  int64        `dynamodbav:"freeBytes"`
	Volumes    []volumeItem `dynamodbav:"volumes"`
}

type volumeItem struct {
	Name          string `dynamodbav:"name"`
	CapacityBytes int64  `dynamodbav:"capacityBytes"`
	FreeBytes     int64  `dynamodbav:"freeBytes"`
}

func linkKey(sc tenancy.Scope, deviceID string) Key {
	return Key{PK: IntegrationPK(sc.TenantID, sc.IntegrationID), SK: "DEV#" + deviceID}
}

func assetIndexPK(sc tenancy.Scope, assetID string) string {
	return IntegrationPK(sc.TenantID, sc.IntegrationID) + "#ASSET#" + assetID
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t.UTC()
}

func toLinkItem(sc tenancy.Scope, l asset.Link) linkItem {
	k := linkKey(sc, l.DeviceID)
	it := linkItem{PK: k.PK, SK: k.SK, DeviceID: l.DeviceID, OrganizationID: l.OrganizationID, AssetID: l.AssetID,
		AccountID: l.AccountID, LocationID: l.LocationID, Hash: l.Hash, State: l.State, LeaseOwner: l.LeaseOwner,
		Version: l.Version, LastSyncedAt: formatTime(l.LastSyncedAt), Name: l.Name, SerialNumber: l.SerialNumber,
		OS: l.OS, LastLoggedInUser: l.LastLoggedInUser, LastCheckIn: formatTime(l.LastCheckIn)}
	if !l.LeaseUntil.IsZero() {
		it.LeaseUntilMs = l.LeaseUntil.UnixMilli()
	}
	if l.State == asset.StateLinked && l.AssetID != "" {
		it.GSI1PK, it.GSI1SK = assetIndexPK(sc, l.AssetID), "DEV#"+l.DeviceID
	}
	if l.State == asset.StateLinked {
		st := &storageItem{TotalBytes: l.Storage.TotalBytes, FreeBytes: l.Storage.FreeBytes, Volumes: []volumeItem{}}
		for _, v := range l.Storage.Volumes {
			st.Volumes = append(st.Volumes, volumeItem{Name: v.Name, CapacityBytes: v.CapacityBytes, FreeBytes: v.FreeBytes})
		}
		it.Storage = st
	}
	return it
}

func (it linkItem) link() asset.Link {
	l := asset.Link{DeviceID: it.DeviceID, OrganizationID: it.OrganizationID, AssetID: it.AssetID,
		AccountID: it.AccountID, LocationID: it.LocationID, Hash: it.Hash, State: it.State, LeaseOwner: it.LeaseOwner,
		Version: it.Version, LastSyncedAt: parseTime(it.LastSyncedAt), Name: it.Name, SerialNumber: it.SerialNumber,
		OS: it.OS, LastLoggedInUser: it.LastLoggedInUser, LastCheckIn: parseTime(it.LastCheckIn),
		Storage: asset.Storage{Volumes: []asset.Volume{}}}
	if it.LeaseUntilMs > 0 {
		l.LeaseUntil = time.UnixMilli(it.LeaseUntilMs).UTC()
	}
	if st := it.Storage; st != nil {
		l.Storage.TotalBytes, l.Storage.FreeBytes = st.TotalBytes, st.FreeBytes
		for _, v := range st.Volumes {
			l.Storage.Volumes = append(l.Storage.Volumes, asset.Volume{Name: v.Name, CapacityBytes: v.CapacityBytes, FreeBytes: v.FreeBytes})
		}
	}
	return l
}

// precondition is the condition a write or delete of a link expects.
func precondition(pre asset.Precondition) expression.ConditionBuilder {
	if pre.Owner != "" {
		return expression.And(
			expression.Name("state").Equal(expression.Value(asset.StateCreating)),
			expression.Name("leaseOwner").Equal(expression.Value(pre.Owner)))
	}
	return expression.Name("version").Equal(expression.Value(pre.Version))
}

// GetLink implements asset.Store.
func (r Assets) GetLink(ctx context.Context, sc tenancy.Scope, deviceID string) (asset.Link, error) {
	var it linkItem
	if err := r.s.Get(ctx, linkKey(sc, deviceID), &it); err != nil {
		return asset.Link{}, fmt.Errorf("get link of device %s: %w", deviceID, namedNotFound(err, "synced asset for device", deviceID))
	}
	return it.link(), nil
}

// ClaimLink implements asset.Store: a conditional put that succeeds only
// when the device has no link or only a claim whose lease has ended.
func (r Assets) ClaimLink(ctx context.Context, sc tenancy.Scope, l asset.Link, now time.Time) error {
	cond := NotExists().Or(expression.And(
		expression.Name("state").Equal(expression.Value(asset.StateCreating)),
		expression.Name("leaseUntilMs").LessThan(expression.Value(now.UnixMilli()))))
	if err := r.s.Put(ctx, toLinkItem(sc, l), &cond); err != nil {
		return fmt.Errorf("claim device %s: %w", l.DeviceID, err)
	}
	return nil
}

// PutLink implements asset.Store.
func (r Assets) PutLink(ctx context.Context, sc tenancy.Scope, l asset.Link, pre asset.Precondition) error {
	cond := precondition(pre)
	if err := r.s.Put(ctx, toLinkItem(sc, l), &cond); err != nil {
		return fmt.Errorf("put link of device %s: %w", l.DeviceID, err)
	}
	return nil
}

// DeleteLink implements asset.Store.
func (r Assets) DeleteLink(ctx context.Context, sc tenancy.Scope, deviceID string, pre asset.Precondition) error {
	cond := precondition(pre)
	if err := r.s.Delete(ctx, linkKey(sc, deviceID), &cond); err != nil {
		return fmt.Errorf("delete link of device %s: %w", deviceID, err)
	}
	return nil
}

// ListLinks implements asset.Store. It filters on the server (final links,
// and the organization when asked) and cuts the page at q.Limit items, the
// cursor then naming the last item returned; a sparse organization is
// read at most linkScanPages pages per call, so a page may hold fewer items
// than asked and still have a cursor.
func (r Assets) ListLinks(ctx context.Context, sc tenancy.Scope, q asset.ListQuery) ([]asset.Link, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	filter := expression.Name("state").Equal(expression.Value(asset.StateLinked))
	page := limit
	if q.OrganizationID != "" {
		filter = filter.And(expression.Name("organizationId").Equal(expression.Value(q.OrganizationID)))
		page = max(limit, linkScanPage)
	}
	query := Query{PK: IntegrationPK(sc.TenantID, sc.IntegrationID), SKPrefix: "DEV#", Limit: int32(page), Cursor: q.Cursor, Filter: &filter}
	var (
		raw  []map[string]types.AttributeValue
		next string
	)
scan:
	for range linkScanPages {
		items, cursor, err := r.s.queryPage(ctx, query)
		if err != nil {
			return nil, "", fmt.Errorf("list asset links: %w", err)
		}
		next = cursor
		for i, it := range items {
			raw = append(raw, it)
			if len(raw) == limit {
				if i < len(items)-1 || next != "" {
					next, err = encodeCursor(map[string]types.AttributeValue{AttrPK: it[AttrPK], AttrSK: it[AttrSK]})
					if err != nil {
						return nil, "", fmt.Errorf("list asset links: %w", err)
					}
				}
				break scan
			}
		}
		if next == "" {
			break
		}
		query.Cursor = next
	}
	var items []linkItem
	if err := attributevalue.UnmarshalListOfMaps(raw, &items); err != nil {
		return nil, "", fmt.Errorf("list asset links: %w", apperr.Wrap(apperr.Internal, err, "decode items"))
	}
	out := make([]asset.Link, 0, len(items))
	for _, it := range items {
		out = append(out, it.link())
	}
	return out, next, nil
}

// LinksByAsset returns the links that point at a PSA asset (normally one;
// the alert worker finds a ticket's device this way).
func (r Assets) LinksByAsset(ctx context.Context, sc tenancy.Scope, assetID string) ([]asset.Link, error) {
	var items []linkItem
	if err := r.s.QueryAll(ctx, Query{PK: assetIndexPK(sc, assetID), Index: IndexGSI1}, &items); err != nil {
		return nil, fmt.Errorf("list links of asset %s: %w", assetID, err)
	}
	out := make([]asset.Link, 0, len(items))
	for _, it := range items {
		out = append(out, it.link())
	}
	return out, nil
}

// LinkedDevices returns which of deviceIDs have a final link (state
// linked), with BatchGetItem: one request per 100 devices.
func (r Assets) LinkedDevices(ctx context.Context, sc tenancy.Scope, deviceIDs []string) (map[string]bool, error) {
	keys := make([]Key, 0, len(deviceIDs))
	for _, id := range deviceIDs {
		keys = append(keys, linkKey(sc, id))
	}
	items, err := r.s.BatchGet(ctx, keys, "deviceId", "state")
	if err != nil {
		return nil, fmt.Errorf("read the links of %d devices: %w", len(deviceIDs), err)
	}
	out := make(map[string]bool, len(items))
	for _, it := range items {
		var l struct {
			DeviceID string `dynamodbav:"deviceId"`
			State    string `dynamodbav:"state"`
		}
		if err := attributevalue.UnmarshalMap(it, &l); err != nil {
			return nil, fmt.Errorf("read the links of %d devices: %w", len(deviceIDs), apperr.Wrap(apperr.Internal, err, "decode link"))
		}
		if l.State == asset.StateLinked {
			out[l.DeviceID] = true
		}
	}
	return out, nil
}
