package rmmfake_test

import (
	"testing"

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
