package ninjaone

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"sync"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// DefaultReportPageSize is the page size asked of the /v2/queries reports:
// the vendor's documented default for logged-on-users (10 to 10,000).
const DefaultReportPageSize = 1000

// maxReportPages bounds one report's paging (10 million rows at the page
// size): a vendor that never ends its cursor is an error, not a loop.
const maxReportPages = 10000

// apiReport is a /v2/queries answer: {cursor:{name,offset,count,expires},
// results:[...]}.
type apiReport[T any] struct {
	Cursor *struct {
		Name string `json:"name"`
	} `json:"cursor"`
	Results []T `json:"results"`
}

// apiDeviceVolume is a volumes report row (DeviceVolume).
type apiDeviceVolume struct {
	apiVolume
	DeviceID int `json:"deviceId"`
}

// apiDeviceUser is a logged-on-users report row (DeviceLoggedOnUser).
type apiDeviceUser struct {
	UserName string `json:"userName"`
	DeviceID int    `json:"deviceId"`
}

// apiDeviceSystem is a computer-systems report row (DeviceComputerSystem).
type apiDeviceSystem struct {
	apiSystem
	DeviceID int `json:"deviceId"`
}

// collectReport pages one /v2/queries report to its end. The vendor
// documents the cursor, not how its last page looks [U]: a page shorter
// than the page size asked, an empty page or an answer without a cursor
// name ends it (the rule NinjaOne documents for keyset lists), and a
// cursor name that repeats is an error rather than a loop.
func collectReport[T any](ctx context.Context, c *Client, name string, q url.Values) ([]T, error) {
	route := "GET /v2/queries/" + name
	var all []T
	seen := map[string]bool{}
	cursor := ""
	for range maxReportPages {
		qq := url.Values{"pageSize": {strconv.Itoa(c.reportPageSize)}}
		for k, v := range q {
			qq[k] = v
		}
		if cursor != "" {
			qq.Set("cursor", cursor)
		}
		var page apiReport[T]
		if err := c.get(ctx, route, "/v2/queries/"+name, qq, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Results...)
		if len(page.Results) == 0 || len(page.Results) < c.reportPageSize || page.Cursor == nil || page.Cursor.Name == "" {
			return all, nil
		}
		if seen[page.Cursor.Name] {
			return nil, apperr.New(apperr.Vendor, "NinjaOne returned the %s report cursor %q twice", name, page.Cursor.Name)
		}
		seen[page.Cursor.Name] = true
		cursor = page.Cursor.Name
	}
	return nil, apperr.New(apperr.Vendor, "NinjaOne's %s report did not end after %d pages", name, maxReportPages)
}

// ListDeviceSnapshots implements rmm.DeviceSnapshotLister: one page of
// devices-detailed (df=org = N, keyset paging as ListDevices) completed from
// the organization's volumes, logged-on-users and computer-systems reports,
// read in parallel and each paged to its end. A device gets its volumes and
// last logged-on user from the reports (none when the report has no row for
// it, as GetDevice's 404s) and its computer system from the report when the
// report has one; the computer-systems report is read only when a device of
// the page came without its system block. Requests: 1 + 2 report pages
// per page of PageSize devices (3 for an organization of up to PageSize
// devices with fewer than Config.ReportPageSize volumes; 4 when a device
// lacks its system block); the reports are filtered by organization and
// re-read for each device page of a larger organization.
func (c *Client) ListDeviceSnapshots(ctx context.Context, organizationID, cursor string) (rmm.DevicePage, error) {
	n, err := parseID("organization", organizationID)
	if err != nil {
		return rmm.DevicePage{}, err
	}
	if cursor != "" {
		if _, err := strconv.Atoi(cursor); err != nil {
			return rmm.DevicePage{}, apperr.New(apperr.Invalid, "the device cursor %q is not a NinjaOne device id", cursor)
		}
	}
	var devs []apiDevice
	df := fmt.Sprintf("org = %d", n)
	q := keysetQuery(cursor, c.pageSize, url.Values{"df": {df}})
	if err := c.get(ctx, "GET /v2/devices-detailed", "/v2/devices-detailed", q, &devs); err != nil {
		return rmm.DevicePage{}, fmt.Errorf("list NinjaOne devices of organization %d: %w", n, err)
	}
	page := rmm.DevicePage{Devices: make([]rmm.Device, 0, len(devs))}
	if len(devs) == 0 {
		return page, nil
	}
	var (
		vols  []apiDeviceVolume
		users []apiDeviceUser
		syss  []apiDeviceSystem
		errs  [3]error
		wg    sync.WaitGroup
		rq    = url.Values{"df": {df}}
	)
	wg.Go(func() { vols, errs[0] = collectReport[apiDeviceVolume](ctx, c, "volumes", rq) })
	wg.Go(func() { users, errs[1] = collectReport[apiDeviceUser](ctx, c, "logged-on-users", rq) })
	// devices-detailed carries each agent device's system block (serial,
	// manufacturer, model); the computer-systems report is read only when
	// a device of the page lacks it.
	needSystems := false
	for _, d := range devs {
		needSystems = needSystems || d.System == nil
	}
	if needSystems {
		wg.Go(func() { syss, errs[2] = collectReport[apiDeviceSystem](ctx, c, "computer-systems", rq) })
	}
	wg.Wait()
	for i, name := range []string{"volumes", "logged-on users", "computer systems"} {
		if errs[i] != nil {
			return rmm.DevicePage{}, fmt.Errorf("read the NinjaOne %s of organization %d: %w", name, n, errs[i])
		}
	}
	byID := make(map[int]*apiDevice, len(devs))
	for i := range devs {
		devs[i].Volumes = nil
		byID[devs[i].ID] = &devs[i]
	}
	for _, v := range vols {
		if d := byID[v.DeviceID]; d != nil {
			d.Volumes = append(d.Volumes, v.apiVolume)
		}
	}
	for _, u := range users {
		if d := byID[u.DeviceID]; d != nil && u.UserName != "" {
			d.LastLoggedInUser = u.UserName
		}
	}
	for _, s := range syss {
		if d := byID[s.DeviceID]; d != nil {
			sys := s.apiSystem
			d.System = &sys
		}
	}
	for _, d := range devs {
		page.Devices = append(page.Devices, toDevice(d))
	}
	if len(devs) == c.pageSize {
		page.NextCursor = strconv.Itoa(devs[len(devs)-1].ID)
	}
	return page, nil
}
