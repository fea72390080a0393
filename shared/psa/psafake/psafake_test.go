package psafake_test

import (
	"testing"

	"github.com/rmmbridge/rmmbridge/shared/psa/psafake"
	"github.com/rmmbridge/rmmbridge/shared/psa/psatest"
)

// TestConformance runs the PSA behaviour suite against the fake, as a
// client without reopen, with reopen, and with every optional role
// switched off (each must then answer "not supported").
func TestConformance(t *testing.T) {
	t.Run("client", func(t *testing.T) { psatest.Run(t, psafake.Harness(false)) })
	t.Run("reopening client", func(t *testing.T) { psatest.Run(t, psafake.Harness(true)) })
	t.Run("without the optional roles", func(t *testing.T) {
		psatest.Run(t, psafake.Harness(false, psafake.Unsupported("CreateAccount", "FindAccountsByExternalRef",
			"AccountsCreatedSince", "FindAssetsByExternalRef", "FindTicketsByExternalRef", "ListMembers")))
	})
}
