package rmmfake_test

import (
	"context"
	"testing"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/rmm"

	"github.com/rmmbridge/rmmbridge/shared/rmm/rmmfake"
	"github.com/rmmbridge/rmmbridge/shared/rmm/rmmtest"
)

// TestConformance runs the RMM behaviour suite against the fake, with
// every role and with the optional ones switched off (each must then
// answer "not supported").
func TestConformance(t *testing.T) {
	t.Run("client", func(t *testing.T) { rmmtest.Run(t, rmmfake.Harness()) })
	t.Run("without the optional roles", func(t *testing.T) {
		rmmtest.Run(t, rmmfake.Harness(rmmfake.Unsupported("CreateOrganization", "CreateSite", "ParseWebhook")))
	})
}

// TestOnly: methods outside the list answer NotImplemented, the webhook
// parser included.
func TestOnly(t *testing.T) {
	r := rmmfake.New(rmmfake.Only("ListOrganizations"))
	r.AddOrganization(rmm.Organization{ID: "1", Name: "Acme"})
	if orgs, err := r.Client().ListOrganizations(context.Background()); err != nil || len(orgs) != 1 {
		t.Errorf("ListOrganizations = %+v, %v; want Acme", orgs, err)
	}
	if _, err := r.Client().GetOrganization(context.Background(), "1"); !apperr.Is(err, apperr.NotImplemented) {
		t.Errorf("GetOrganization = %v, want NotImplemented", err)
	}
	if _, _, err := r.Client().ParseWebhook(rmmfake.NonAlertBody()); !apperr.Is(err, apperr.NotImplemented) {
		t.Errorf("ParseWebhook = %v, want NotImplemented", err)
	}
}
