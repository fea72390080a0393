package devstack

import (
	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxspec"
	cwsandbox "github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
	ninjasandbox "github.com/rmmbridge/rmmbridge/shared/vendors/ninjaone/sandbox"
)

// Demo credentials of the default sandboxes (their specs hold them; these
// names are kept for the tests and the events/ fixtures).
const (
	NinjaClientID     = ninjasandbox.DemoClientID
	NinjaClientSecret = ninjasandbox.DemoClientSecret
	CWCompanyID       = cwsandbox.DemoCompanyID
	CWPublicKey       = cwsandbox.DemoPublicKey
	CWPrivateKey      = cwsandbox.DemoPrivateKey
	CWClientID        = cwsandbox.DemoClientID
)

// Ninja returns the NinjaOne sandbox's server, for its vendor-specific
// knobs (webhooks, device changes); nil when the RMM sandbox is another
// vendor's. Other vendors' servers: sandboxspec.ServerOf.
func (e *Env) Ninja() *ninjasandbox.Server {
	if e.RMM == nil {
		return nil
	}
	s, _ := sandboxspec.ServerOf[*ninjasandbox.Server](e.RMM)
	return s
}

// CW returns the ConnectWise sandbox's server, for its vendor-specific
// knobs (tickets, failure injection); nil when the PSA sandbox is another
// vendor's.
func (e *Env) CW() *cwsandbox.Server {
	if e.PSA == nil {
		return nil
	}
	s, _ := sandboxspec.ServerOf[*cwsandbox.Server](e.PSA)
	return s
}
