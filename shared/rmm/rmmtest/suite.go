package rmmtest

import (
	"context"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/internal/conformance"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// missingID is an id no sandbox ever issued.
const missingID = "987654321"

type suite struct {
	h    Harness
	f    Fixture
	caps map[Capability]bool
	log  *conformance.Errors
	env  *Env
	c    recorded
}

// RunT runs the suite on t, which may be a recorder (see the package's
// meta-tests).
func RunT(t T, h Harness) {
	t.Helper()
	if h.Name == "" || h.Open == nil {
		t.Fatalf("the harness needs a Name and an Open function")
	}
	s := &suite{h: h, f: newFixture(), caps: map[Capability]bool{}, log: &conformance.Errors{}}
	for _, c := range h.Capabilities {
		if !slices.Contains(AllCapabilities, c) {
			t.Fatalf("unknown capability %q", c)
		}
		s.caps[c] = true
	}
	s.env = s.open(t)
	s.c = recorded{raw: s.env.Client, log: s.log}

	t.Run("organizations list to the last page", s.listOrganizations)
	t.Run("organizations and sites are read by id", s.getOrganization)
	t.Run("devices list to the last page", s.listDevices)
	t.Run("devices are read by id with every attribute", s.getDevice)
	t.Run("device snapshots equal the per-device reads", s.snapshots)
	t.Run("organizations are created with their sites", s.createOrganization)
	t.Run("sites are created", s.createSite)
	t.Run("webhooks are parsed", s.webhooks)
	t.Run("rejected credentials", func(t T) {
		e := s.open(t)
		bad := recorded{raw: e.BadCredentials, log: s.log}
		conformance.AuthSuite(t, conformance.AuthProbe{
			Test:     bad.TestConnection,
			Read:     func(ctx context.Context) error { _, err := bad.GetOrganization(ctx, e.OrganizationIDs[0]); return err },
			Reason:   h.AuthFailureReason,
			Secrets:  e.Secrets,
			Requests: e.BadRequests,
		})
	})
	t.Run("faults", func(t T) {
		conformance.FaultSuite(t, s.f.AttemptTimeout, func(t T) conformance.Probe {
			e := s.open(t)
			c := recorded{raw: e.Client, log: s.log}
			return conformance.Probe{
				Transport: conformance.Transport{Faults: e.Faults, Requests: e.Requests, Waits: e.Waits},
				Read:      func(ctx context.Context) error { _, err := c.GetOrganization(ctx, e.OrganizationIDs[0]); return err },
			}
		})
	})
	t.Run("no error carries a credential", func(t T) { s.log.CheckRedaction(t, 8) })
}

func (s *suite) open(t T) *Env {
	t.Helper()
	e := s.h.Open(t, s.f)
	switch {
	case e == nil || e.Client == nil || e.BadCredentials == nil:
		t.Fatalf("the harness returned an Env without Client or BadCredentials")
	case len(e.OrganizationIDs) != len(s.f.Organizations) || len(e.SiteIDs) != len(s.f.Organizations) || len(e.DeviceIDs) != len(s.f.Devices):
		t.Fatalf("the harness seeded %d organizations (%d site lists) and %d devices, the fixture has %d and %d",
			len(e.OrganizationIDs), len(e.SiteIDs), len(e.DeviceIDs), len(s.f.Organizations), len(s.f.Devices))
	case len(e.Secrets) == 0:
		t.Fatalf("the harness named no secret (Env.Secrets)")
	}
	for i, o := range s.f.Organizations {
		if len(e.SiteIDs[i]) != len(o.Sites) {
			t.Fatalf("organization %d has %d site ids, the fixture %d sites", i, len(e.SiteIDs[i]), len(o.Sites))
		}
	}
	s.log.Secrets(e.Secrets...)
	return e
}

// gate checks capability c: when declared, supported runs; otherwise the
// client must answer probe with apperr.NotImplemented.
func (s *suite) gate(t T, c Capability, supported func(t T), probe func() error) {
	t.Helper()
	if s.caps[c] {
		supported(t)
		return
	}
	err := probe()
	if !apperr.Is(err, apperr.NotImplemented) {
		t.Fatalf("%s does not declare %s, but the client answered %v; declare the capability or answer apperr.NotImplemented", s.h.Name, c, err)
	}
	t.Logf("%s: not supported by %s (answers %v)", c, s.h.Name, err)
}

// wantOrg is fixture organization i as the client must read it.
func (s *suite) wantOrg(i int) rmm.Organization {
	fo := s.f.Organizations[i]
	o := rmm.Organization{ID: s.env.OrganizationIDs[i], Name: fo.Name, Description: fo.Description, Sites: []rmm.Site{}}
	if s.h.OneSitePerOrganization {
		o.Sites = []rmm.Site{{ID: o.ID, OrganizationID: o.ID, Name: o.Name}}
		return o
	}
	for j, name := range fo.Sites {
		o.Sites = append(o.Sites, rmm.Site{ID: s.env.SiteIDs[i][j], OrganizationID: o.ID, Name: name})
	}
	return o
}

// wantDevice is fixture device i as the client must read it.
func (s *suite) wantDevice(i int) rmm.Device {
	fd := s.f.Devices[i]
	d := fd.Device
	d.ID = s.env.DeviceIDs[i]
	d.OrganizationID = s.env.OrganizationIDs[fd.Organization]
	d.SiteID = s.env.SiteIDs[fd.Organization][fd.Site]
	d.Volumes = slices.Clone(d.Volumes)
	if s.h.DeviceAsKept != nil {
		d = s.h.DeviceAsKept(d)
	}
	return d
}

var sortSites = cmpopts.SortSlices(func(a, b rmm.Site) bool { return a.ID < b.ID })

// orgOpts ignores the organization fields the vendor does not keep.
func (s *suite) orgOpts() cmp.Options {
	if len(s.h.OrganizationOmits) == 0 {
		return nil
	}
	return cmp.Options{cmpopts.IgnoreFields(rmm.Organization{}, s.h.OrganizationOmits...)}
}

// deviceOpts ignores the device fields the vendor does not report and
// compares volume sizes within the vendor's rounding.
func (s *suite) deviceOpts() cmp.Options {
	var opts cmp.Options
	var device, volume []string
	for _, f := range s.h.DeviceOmits {
		if v, ok := strings.CutPrefix(f, "Volume."); ok {
			volume = append(volume, v)
		} else {
			device = append(device, f)
		}
	}
	if len(device) > 0 {
		opts = append(opts, cmpopts.IgnoreFields(rmm.Device{}, device...))
	}
	if len(volume) > 0 {
		opts = append(opts, cmpopts.IgnoreFields(rmm.Volume{}, volume...))
	}
	if tol := s.h.SizeTolerance; tol > 0 {
		opts = append(opts, cmp.FilterPath(func(p cmp.Path) bool {
			f, ok := p.Last().(cmp.StructField)
			return ok && (f.Name() == "CapacityBytes" || f.Name() == "FreeBytes")
		}, cmp.Comparer(func(a, b int64) bool {
			d, m := math.Abs(float64(a-b)), math.Max(math.Abs(float64(a)), math.Abs(float64(b)))
			return d <= tol*m
		})))
	}
	return opts
}

func (s *suite) listOrganizations(t T) {
	got, err := s.c.ListOrganizations(context.Background())
	if err != nil {
		t.Fatalf("ListOrganizations: %v", err)
	}
	byID := map[string][]rmm.Organization{}
	for _, o := range got {
		byID[o.ID] = append(byID[o.ID], o)
	}
	for id, os := range byID {
		if len(os) > 1 {
			t.Errorf("organization %s listed %d times", id, len(os))
		}
	}
	for i := range s.f.Organizations {
		want := s.wantOrg(i)
		found := byID[want.ID]
		if len(found) == 0 {
			t.Errorf("organization %s (%s) is missing from %d organizations listed with pages of %d", want.ID, want.Name, len(got), s.f.PageSize)
			continue
		}
		if d := cmp.Diff(want, found[0], sortSites, s.orgOpts()); d != "" {
			t.Errorf("organization %s (-want +got):\n%s", want.ID, d)
		}
	}
}

func (s *suite) getOrganization(t T) {
	ctx := context.Background()
	for i := range s.f.Organizations {
		want := s.wantOrg(i)
		got, err := s.c.GetOrganization(ctx, want.ID)
		if err != nil {
			t.Errorf("GetOrganization(%s): %v", want.ID, err)
			continue
		}
		if d := cmp.Diff(want, got, sortSites, s.orgOpts()); d != "" {
			t.Errorf("GetOrganization(%s) (-want +got):\n%s", want.ID, d)
		}
		sites, err := s.c.ListSites(ctx, want.ID)
		if err != nil {
			t.Errorf("ListSites(%s): %v", want.ID, err)
			continue
		}
		if d := cmp.Diff(want.Sites, sites, sortSites); d != "" {
			t.Errorf("ListSites(%s) (-want +got):\n%s", want.ID, d)
		}
	}
	if _, err := s.c.GetOrganization(ctx, missingID); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("GetOrganization(%s) error = %v, want NotFound", missingID, err)
	}
	if _, err := s.c.ListSites(ctx, missingID); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("ListSites(%s) error = %v, want NotFound", missingID, err)
	}
}

var sortDevices = cmpopts.SortSlices(func(a, b rmm.Device) bool { return a.ID < b.ID })

// approxTime compares check-in times to the millisecond (vendors keep
// epoch seconds with a fraction).
var approxTime = cmpopts.EquateApproxTime(time.Millisecond)

func (s *suite) listDevices(t T) {
	ctx := context.Background()
	ignore := append(cmp.Options{s.deviceOpts()}, cmpopts.IgnoreFields(rmm.Device{}, s.h.ListOmits...))
	for _, org := range []int{orgPaged, orgExact, orgEmpty} {
		orgID := s.env.OrganizationIDs[org]
		var want []rmm.Device
		for i, fd := range s.f.Devices {
			if fd.Organization == org {
				want = append(want, s.wantDevice(i))
			}
		}
		var got []rmm.Device
		cursor, pages, seen := "", 0, map[string]bool{}
		for {
			p, err := s.c.ListDevices(ctx, orgID, cursor)
			if err != nil {
				t.Fatalf("ListDevices(%s, %q): %v", orgID, cursor, err)
			}
			pages++
			if len(p.Devices) > s.f.PageSize {
				t.Errorf("a page holds %d devices, more than the page size %d", len(p.Devices), s.f.PageSize)
			}
			got = append(got, p.Devices...)
			if p.NextCursor == "" {
				break
			}
			if seen[p.NextCursor] || pages > 100 {
				t.Fatalf("the listing does not end: cursor %q came back after %d pages", p.NextCursor, pages)
			}
			seen[p.NextCursor] = true
			cursor = p.NextCursor
		}
		if d := cmp.Diff(want, got, sortDevices, ignore, approxTime, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("devices of organization %s (%d with pages of %d) (-want +got):\n%s", orgID, len(want), s.f.PageSize, d)
		}
		if least := (len(want) + s.f.PageSize - 1) / s.f.PageSize; pages < least {
			t.Errorf("%d devices came in %d pages of at most %d", len(want), pages, s.f.PageSize)
		}
		all, err := rmm.AllDevices(ctx, s.c, orgID)
		if err != nil {
			t.Fatalf("AllDevices(%s): %v", orgID, err)
		}
		if d := cmp.Diff(want, all, sortDevices, ignore, approxTime, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("AllDevices(%s) (-want +got):\n%s", orgID, d)
		}
	}
	if _, err := s.c.ListDevices(ctx, s.env.OrganizationIDs[orgPaged], "not-a-cursor"); !apperr.Is(err, apperr.Invalid) {
		t.Errorf("a cursor the listing never returned: error = %v, want Invalid", err)
	}
}

func (s *suite) getDevice(t T) {
	ctx := context.Background()
	for i := range s.f.Devices {
		want := s.wantDevice(i)
		got, err := s.c.GetDevice(ctx, want.ID)
		if err != nil {
			t.Errorf("GetDevice(%s): %v", want.ID, err)
			continue
		}
		if d := cmp.Diff(want, got, approxTime, cmpopts.EquateEmpty(), s.deviceOpts()); d != "" {
			t.Errorf("GetDevice(%s) (-want +got):\n%s", want.ID, d)
		}
	}
	if _, err := s.c.GetDevice(ctx, missingID); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("GetDevice(%s) error = %v, want NotFound", missingID, err)
	}
}

func (s *suite) createOrganization(t T) {
	ctx := context.Background()
	s.gate(t, OrgsCreate, func(t T) {
		no := rmm.NewOrganization{Name: prefix + " Created Org", Description: "from the PSA", Sites: []string{"HQ", "Warehouse"}}
		o, err := s.c.CreateOrganization(ctx, no)
		if err != nil {
			t.Fatalf("CreateOrganization: %v", err)
		}
		wantSites := no.Sites
		if s.h.OneSitePerOrganization {
			wantSites = []string{no.Name}
		}
		if o.ID == "" || o.Name != no.Name || (o.Description != no.Description && !slices.Contains(s.h.OrganizationOmits, "Description")) || len(o.Sites) != len(wantSites) {
			t.Fatalf("CreateOrganization = %+v, want %q with its description and %d sites", o, no.Name, len(wantSites))
		}
		var siteNames []string
		for _, site := range o.Sites {
			siteNames = append(siteNames, site.Name)
			if site.ID == "" || site.OrganizationID != o.ID {
				t.Errorf("new site %+v: want an id in organization %s", site, o.ID)
			}
		}
		if d := cmp.Diff(wantSites, siteNames, cmpopts.SortSlices(func(a, b string) bool { return a < b })); d != "" {
			t.Errorf("new sites (-want +got):\n%s", d)
		}
		got, err := s.c.GetOrganization(ctx, o.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(o, got, sortSites); d != "" {
			t.Errorf("GetOrganization of the new organization (-created +read):\n%s", d)
		}
		all, err := s.c.ListOrganizations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(slices.DeleteFunc(all, func(x rmm.Organization) bool { return x.ID != o.ID })); n != 1 {
			t.Errorf("the new organization is listed %d times, want once", n)
		}
		if _, err := s.c.CreateOrganization(ctx, rmm.NewOrganization{Name: " "}); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("CreateOrganization without a name: error = %v, want Invalid", err)
		}
	}, func() error {
		_, err := s.c.CreateOrganization(ctx, rmm.NewOrganization{Name: prefix + " Not Supported"})
		return err
	})
}

func (s *suite) createSite(t T) {
	ctx := context.Background()
	orgID := s.env.OrganizationIDs[orgExact]
	s.gate(t, SitesCreate, func(t T) {
		site, err := s.c.CreateSite(ctx, orgID, "QF Annex")
		if err != nil {
			t.Fatalf("CreateSite: %v", err)
		}
		if site.ID == "" || site.Name != "QF Annex" || site.OrganizationID != orgID {
			t.Errorf("CreateSite = %+v, want QF Annex with an id in organization %s", site, orgID)
		}
		sites, err := s.c.ListSites(ctx, orgID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(sites, site) {
			t.Errorf("sites after the create = %+v, want %+v among them", sites, site)
		}
		if _, err := s.c.CreateSite(ctx, orgID, " "); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("CreateSite without a name: error = %v, want Invalid", err)
		}
		if _, err := s.c.CreateSite(ctx, missingID, "QF Nowhere"); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("CreateSite in a missing organization: error = %v, want NotFound", err)
		}
	}, func() error { _, err := s.c.CreateSite(ctx, orgID, "QF Not Supported"); return err })
}

func (s *suite) webhooks(t T) {
	s.gate(t, WebhooksParse, func(t T) {
		if s.env.Webhook == nil || len(s.env.NonAlertWebhook) == 0 {
			t.Fatalf("the harness declares %s but gives no Webhook bodies", WebhooksParse)
		}
		dev := s.wantDevice(0)
		for _, tc := range []struct {
			triggered bool
			state     rmm.AlertState
		}{{true, rmm.AlertTriggered}, {false, rmm.AlertReset}} {
			a, ok, err := s.c.ParseWebhook(s.env.Webhook(0, "qf-series-1", tc.triggered))
			if err != nil || !ok {
				t.Errorf("ParseWebhook(%s) = %v, %v; want an alert", tc.state, ok, err)
				continue
			}
			if a.SeriesID != "qf-series-1" || a.State != tc.state || a.DeviceID != dev.ID || a.OrganizationID != dev.OrganizationID {
				t.Errorf("ParseWebhook(%s) = series %q, state %q, device %q, organization %q; want qf-series-1, %s, %s, %s",
					tc.state, a.SeriesID, a.State, a.DeviceID, a.OrganizationID, tc.state, dev.ID, dev.OrganizationID)
			}
		}
		if _, ok, err := s.c.ParseWebhook(s.env.NonAlertWebhook); ok || err != nil {
			t.Errorf("a webhook that is no alert: isAlert %v, error %v; want false, nil", ok, err)
		}
		for _, body := range []string{"", "{", "not json", strings.Repeat("[", 50)} {
			if _, ok, err := s.c.ParseWebhook([]byte(body)); ok || !apperr.Is(err, apperr.Malformed) {
				t.Errorf("ParseWebhook(%.12q) = %v, %v; want apperr.Malformed", body, ok, err)
			}
		}
	}, func() error { _, _, err := s.c.ParseWebhook([]byte(`{"activityType":"CONDITION"}`)); return err })
}

// snapshots checks rmm.DeviceSnapshotLister: every organization's
// snapshot pages, read to the end, hold each of its devices once with
// every attribute, equal to GetDevice's answer and to the fixture.
func (s *suite) snapshots(t T) {
	ctx := context.Background()
	sl, ok := s.env.Client.(rmm.DeviceSnapshotLister)
	s.gate(t, DevicesSnapshot, func(t T) {
		if !ok {
			t.Fatalf("%s declares %s but its client is no rmm.DeviceSnapshotLister", s.h.Name, DevicesSnapshot)
		}
		for _, org := range []int{orgPaged, orgExact, orgEmpty} {
			orgID := s.env.OrganizationIDs[org]
			var want []rmm.Device
			for i, fd := range s.f.Devices {
				if fd.Organization == org {
					want = append(want, s.wantDevice(i))
				}
			}
			var got []rmm.Device
			cursor, pages, seen := "", 0, map[string]bool{}
			for {
				p, err := sl.ListDeviceSnapshots(ctx, orgID, cursor)
				s.log.Add(err)
				if err != nil {
					t.Fatalf("ListDeviceSnapshots(%s, %q): %v", orgID, cursor, err)
				}
				pages++
				got = append(got, p.Devices...)
				if p.NextCursor == "" {
					break
				}
				if seen[p.NextCursor] || pages > 100 {
					t.Fatalf("the snapshot does not end: cursor %q came back after %d pages", p.NextCursor, pages)
				}
				seen[p.NextCursor] = true
				cursor = p.NextCursor
			}
			if d := cmp.Diff(want, got, sortDevices, approxTime, cmpopts.EquateEmpty(), s.deviceOpts()); d != "" {
				t.Errorf("snapshot of organization %s (%d devices, pages of %d) (-want +got):\n%s", orgID, len(want), s.f.PageSize, d)
			}
			for _, sd := range got {
				live, err := s.c.GetDevice(ctx, sd.ID)
				if err != nil {
					t.Errorf("GetDevice(%s): %v", sd.ID, err)
					continue
				}
				if d := cmp.Diff(live, sd, approxTime, cmpopts.EquateEmpty()); d != "" {
					t.Errorf("device %s: snapshot differs from GetDevice (-get +snapshot):\n%s", sd.ID, d)
				}
			}
		}
		_, err := sl.ListDeviceSnapshots(ctx, s.env.OrganizationIDs[orgPaged], "not-a-cursor")
		s.log.Add(err)
		if !apperr.Is(err, apperr.Invalid) {
			t.Errorf("a cursor the snapshot never returned: error = %v, want Invalid", err)
		}
	}, func() error {
		if !ok {
			return apperr.New(apperr.NotImplemented, "%s is no rmm.DeviceSnapshotLister", s.h.Name)
		}
		_, err := sl.ListDeviceSnapshots(ctx, s.env.OrganizationIDs[orgExact], "")
		return s.log.Add(err)
	})
}
