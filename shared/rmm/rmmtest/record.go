package rmmtest

import (
	"context"

	"github.com/rmmbridge/rmmbridge/shared/internal/conformance"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// recorded wraps a client so that every error it returns is kept for the
// redaction check.
type recorded struct {
	raw rmm.Client
	log *conformance.Errors
}

func (c recorded) TestConnection(ctx context.Context) error {
	return c.log.Add(c.raw.TestConnection(ctx))
}

func (c recorded) ListOrganizations(ctx context.Context) ([]rmm.Organization, error) {
	r, err := c.raw.ListOrganizations(ctx)
	return r, c.log.Add(err)
}

func (c recorded) GetOrganization(ctx context.Context, id string) (rmm.Organization, error) {
	r, err := c.raw.GetOrganization(ctx, id)
	return r, c.log.Add(err)
}

func (c recorded) ListSites(ctx context.Context, organizationID string) ([]rmm.Site, error) {
	r, err := c.raw.ListSites(ctx, organizationID)
	return r, c.log.Add(err)
}

func (c recorded) ListDevices(ctx context.Context, organizationID, cursor string) (rmm.DevicePage, error) {
	r, err := c.raw.ListDevices(ctx, organizationID, cursor)
	return r, c.log.Add(err)
}

func (c recorded) GetDevice(ctx context.Context, id string) (rmm.Device, error) {
	r, err := c.raw.GetDevice(ctx, id)
	return r, c.log.Add(err)
}

func (c recorded) ListAlerts(ctx context.Context, organizationID string) ([]rmm.Alert, error) {
	r, err := c.raw.ListAlerts(ctx, organizationID)
	return r, c.log.Add(err)
}

func (c recorded) CreateOrganization(ctx context.Context, o rmm.NewOrganization) (rmm.Organization, error) {
	r, err := c.raw.CreateOrganization(ctx, o)
	return r, c.log.Add(err)
}

func (c recorded) CreateSite(ctx context.Context, organizationID, name string) (rmm.Site, error) {
	r, err := c.raw.CreateSite(ctx, organizationID, name)
	return r, c.log.Add(err)
}

func (c recorded) ParseWebhook(body []byte) (rmm.Alert, bool, error) {
	a, ok, err := c.raw.ParseWebhook(body)
	return a, ok, c.log.Add(err)
}
