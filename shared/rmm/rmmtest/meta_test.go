package rmmtest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/rmmbridge/rmmbridge/shared/internal/conformance"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/rmm/rmmfake"
	"github.com/rmmbridge/rmmbridge/shared/rmm/rmmtest"
)

// The broken clients: the fake with one deliberate bug each.

// firstDevicePage loses every page of devices after the first.
type firstDevicePage struct{ *rmmfake.Client }

func (c firstDevicePage) ListDevices(ctx context.Context, orgID, cursor string) (rmm.DevicePage, error) {
	p, err := c.Client.ListDevices(ctx, orgID, cursor)
	p.NextCursor = ""
	return p, err
}

// fewOrganizations returns only the first three organizations, as a
// client that reads one page of three would.
type fewOrganizations struct{ *rmmfake.Client }

func (c fewOrganizations) ListOrganizations(ctx context.Context) ([]rmm.Organization, error) {
	orgs, err := c.Client.ListOrganizations(ctx)
	return orgs[:min(3, len(orgs))], err
}

// noVolumes reads a device without its volumes.
type noVolumes struct{ *rmmfake.Client }

func (c noVolumes) GetDevice(ctx context.Context, id string) (rmm.Device, error) {
	d, err := c.Client.GetDevice(ctx, id)
	d.Volumes = nil
	return d, err
}

// scaledVolumes reports volume sizes times factor (1.0: unchanged), as a
// vendor rounding sizes to "232.3G" does within 0.05 %, or a unit bug
// does by far more.
type scaledVolumes struct {
	*rmmfake.Client
	factor float64
}

func (c scaledVolumes) scale(d rmm.Device) rmm.Device {
	vols := make([]rmm.Volume, len(d.Volumes))
	for i, v := range d.Volumes {
		v.CapacityBytes, v.FreeBytes = int64(float64(v.CapacityBytes)*c.factor), int64(float64(v.FreeBytes)*c.factor)
		vols[i] = v
	}
	d.Volumes = vols
	return d
}

func (c scaledVolumes) GetDevice(ctx context.Context, id string) (rmm.Device, error) {
	d, err := c.Client.GetDevice(ctx, id)
	return c.scale(d), err
}

func (c scaledVolumes) ListDeviceSnapshots(ctx context.Context, orgID, cursor string) (rmm.DevicePage, error) {
	p, err := c.Client.ListDeviceSnapshots(ctx, orgID, cursor)
	for i := range p.Devices {
		p.Devices[i] = c.scale(p.Devices[i])
	}
	return p, err
}

func (c scaledVolumes) ListDevices(ctx context.Context, orgID, cursor string) (rmm.DevicePage, error) {
	p, err := c.Client.ListDevices(ctx, orgID, cursor)
	for i := range p.Devices {
		p.Devices[i] = c.scale(p.Devices[i])
	}
	return p, err
}

// staleSnapshot's snapshot lacks the last logged-in user (a bulk report
// left unread).
type staleSnapshot struct{ *rmmfake.Client }

func (c staleSnapshot) ListDeviceSnapshots(ctx context.Context, org, cursor string) (rmm.DevicePage, error) {
	p, err := c.Client.ListDeviceSnapshots(ctx, org, cursor)
	for i := range p.Devices {
		p.Devices[i].LastLoggedInUser = ""
	}
	return p, err
}

// forgetful keeps neither organization descriptions nor MAC addresses nor
// volume labels, as Tactical RMM.
type forgetful struct{ *rmmfake.Client }

func (c forgetful) ListOrganizations(ctx context.Context) ([]rmm.Organization, error) {
	orgs, err := c.Client.ListOrganizations(ctx)
	for i := range orgs {
		orgs[i].Description = ""
	}
	return orgs, err
}

func (c forgetful) GetOrganization(ctx context.Context, id string) (rmm.Organization, error) {
	o, err := c.Client.GetOrganization(ctx, id)
	o.Description = ""
	return o, err
}

func (c forgetful) CreateOrganization(ctx context.Context, no rmm.NewOrganization) (rmm.Organization, error) {
	no.Description = ""
	return c.Client.CreateOrganization(ctx, no)
}

func (c forgetful) ListDeviceSnapshots(ctx context.Context, org, cursor string) (rmm.DevicePage, error) {
	p, err := c.Client.ListDeviceSnapshots(ctx, org, cursor)
	for i := range p.Devices {
		p.Devices[i] = forget(p.Devices[i])
	}
	return p, err
}

func (c forgetful) GetDevice(ctx context.Context, id string) (rmm.Device, error) {
	d, err := c.Client.GetDevice(ctx, id)
	return forget(d), err
}

// forget drops what forgetful does not keep of a device.
func forget(d rmm.Device) rmm.Device {
	d.MACAddresses = nil
	vols := make([]rmm.Volume, len(d.Volumes))
	for i, v := range d.Volumes {
		v.Label = ""
		vols[i] = v
	}
	d.Volumes = vols
	return d
}

// leaksSecret puts the credential it sent into its errors.
type leaksSecret struct {
	*rmmfake.Client
	secret string
}

func (c leaksSecret) TestConnection(ctx context.Context) error {
	if err := c.Client.TestConnection(ctx); err != nil {
		return fmt.Errorf("%w (client_secret=%s)", err, c.secret)
	}
	return nil
}

// wrap replaces the Env's clients after the fake's Open.
func wrap(h rmmtest.Harness, change func(e *rmmtest.Env)) rmmtest.Harness {
	open := h.Open
	h.Open = func(t rmmtest.T, f rmmtest.Fixture) *rmmtest.Env {
		e := open(t, f)
		change(e)
		return e
	}
	return h
}

func client(e *rmmtest.Env) *rmmfake.Client { return e.Client.(*rmmfake.Client) }

// TestSuiteCatchesBrokenClients runs the suite against deliberately
// broken clients through a recording T and checks that it failed, in the
// subtest that covers the bug; and that the honest fake passes.
func TestSuiteCatchesBrokenClients(t *testing.T) {
	honest := rmmfake.Harness()
	tests := []struct {
		name    string
		harness rmmtest.Harness
		failIn  []string
	}{
		{name: "the honest fake passes", harness: honest},
		{name: "a device listing that stops at the first page",
			harness: wrap(honest, func(e *rmmtest.Env) { e.Client = firstDevicePage{client(e)} }),
			failIn:  []string{"devices list to the last page"}},
		{name: "an organization listing that stops at the first page",
			harness: wrap(honest, func(e *rmmtest.Env) { e.Client = fewOrganizations{client(e)} }),
			failIn:  []string{"organizations list to the last page"}},
		{name: "a device read without its volumes",
			harness: wrap(honest, func(e *rmmtest.Env) { e.Client = noVolumes{client(e)} }),
			failIn:  []string{"devices are read by id with every attribute"}},
		{name: "a device snapshot without the last logged-in user",
			harness: wrap(honest, func(e *rmmtest.Env) { e.Client = staleSnapshot{client(e)} }),
			failIn:  []string{"device snapshots equal the per-device reads"}},
		{name: "snapshots declared but not implemented",
			harness: func() rmmtest.Harness {
				h := rmmfake.Harness(rmmfake.Unsupported("ListDeviceSnapshots"))
				h.Capabilities = append(h.Capabilities, rmmtest.DevicesSnapshot)
				return h
			}(),
			failIn: []string{"device snapshots equal the per-device reads"}},
		{name: "an error that shows the secret it sent",
			harness: wrap(honest, func(e *rmmtest.Env) {
				e.BadCredentials = leaksSecret{e.BadCredentials.(*rmmfake.Client), "fake-rmm-wrong-secret"}
			}),
			failIn: []string{"rejected credentials", "no error carries a credential"}},
		{name: "one site per organization declared, several sites read",
			harness: func() rmmtest.Harness { h := rmmfake.Harness(); h.OneSitePerOrganization = true; return h }(),
			failIn:  []string{"organizations list to the last page", "organizations and sites are read by id", "organizations are created with their sites"}},
		{name: "a device kept differently than the client reads it",
			harness: func() rmmtest.Harness {
				h := rmmfake.Harness()
				h.DeviceAsKept = func(d rmm.Device) rmm.Device { d.OS = rmm.OS{Name: d.OS.String()}; return d }
				return h
			}(),
			failIn: []string{"devices are read by id with every attribute"}},
		{name: "sizes rounded within the declared tolerance pass",
			harness: func() rmmtest.Harness {
				h := wrap(honest, func(e *rmmtest.Env) { e.Client = scaledVolumes{client(e), 1.0004} })
				h.SizeTolerance = 0.05
				return h
			}()},
		{name: "sizes off by more than the declared tolerance",
			harness: func() rmmtest.Harness {
				h := wrap(honest, func(e *rmmtest.Env) { e.Client = scaledVolumes{client(e), 1.2} })
				h.SizeTolerance = 0.05
				return h
			}(),
			failIn: []string{"devices list to the last page", "devices are read by id with every attribute"}},
		{name: "sizes rounded without a declared tolerance",
			harness: wrap(honest, func(e *rmmtest.Env) { e.Client = scaledVolumes{client(e), 1.0004} }),
			failIn:  []string{"devices are read by id with every attribute"}},
		{name: "fields the vendor does not keep, declared, pass",
			harness: func() rmmtest.Harness {
				h := wrap(honest, func(e *rmmtest.Env) { e.Client = forgetful{client(e)} })
				h.OrganizationOmits, h.DeviceOmits = []string{"Description"}, []string{"MACAddresses", "Volume.Label"}
				return h
			}()},
		{name: "fields the vendor does not keep, undeclared",
			harness: wrap(honest, func(e *rmmtest.Env) { e.Client = forgetful{client(e)} }),
			failIn: []string{"organizations list to the last page", "organizations and sites are read by id",
				"devices are read by id with every attribute", "organizations are created with their sites"}},
		{name: "webhooks declared but not parsed",
			harness: func() rmmtest.Harness {
				h := rmmfake.Harness(rmmfake.Unsupported("ParseWebhook"))
				h.Capabilities = append(h.Capabilities, rmmtest.WebhooksParse)
				return h
			}(),
			failIn: []string{"webhooks are parsed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := conformance.Record(t, func(r conformance.T) { rmmtest.RunT(r, tc.harness) })
			if len(tc.failIn) == 0 {
				if rec.Failed() {
					t.Errorf("the suite failed the honest fake:\n%s", strings.Join(rec.Failures(), "\n"))
				}
				return
			}
			if !rec.Failed() {
				t.Fatalf("the suite passed a broken client")
			}
			for _, sub := range tc.failIn {
				if !rec.FailedIn(sub) {
					t.Errorf("no failure reported in %q; failures:\n%s", sub, strings.Join(rec.Failures(), "\n"))
				}
			}
			t.Logf("the suite reported:\n%s", strings.Join(rec.Failures(), "\n"))
		})
	}
}
