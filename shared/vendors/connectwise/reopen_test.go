package connectwise_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/vendors/connectwise"
	"github.com/rmmbridge/rmmbridge/shared/vendors/connectwise/sandbox"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// TestReopenTicket reopens closed tickets against the sandbox: the
// board's default status, or the configured reopenStatus (given as the
// connection setting, through the spec's opener); an open ticket is left
// alone; a status that is not an open one of the board is refused and the
// ticket stays closed. Our own reopen does not make the ticket "touched".
func TestReopenTicket(t *testing.T) {
	tests := []struct {
		name         string
		reopenStatus string
		wantStatus   string
		wantErr      string
	}{
		{name: "board default", wantStatus: "New"},
		{name: "configured status", reopenStatus: "in progress", wantStatus: "In Progress"},
		{name: "configured closed status", reopenStatus: "Cancelled", wantErr: `no open status named "Cancelled" (settings.reopenStatus)`},
		{name: "configured unknown status", reopenStatus: "Reopened", wantErr: `no open status named "Reopened"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startSandbox(t, sandbox.Options{Seed: 4, DeviceCount: 2})
			o := srv.Options()
			creds := map[string]string{"companyId": o.CompanyID, "publicKey": o.PublicKey, "privateKey": o.PrivateKey, "clientId": o.ClientID}
			settings := vendorspec.Settings{"apiMember": sandbox.DefaultAPIMember}
			if tc.reopenStatus != "" {
				settings["reopenStatus"] = tc.reopenStatus
			}
			opened, err := connectwise.Spec.OpenPSA(vendorspec.Params{BaseURL: srv.URL(), Credentials: creds, Settings: settings})
			if err != nil {
				t.Fatal(err)
			}
			c := opened.(*connectwise.Client)
			ctx := context.Background()
			tk, err := c.CreateTicket(ctx, psa.NewTicket{AccountID: fmt.Sprint(srv.Companies()[0].ID), Summary: "Disk full", Board: psa.NamedRef{Name: "Help Desk"}})
			if err != nil {
				t.Fatal(err)
			}
			if n := requestsOf(c, func() { err = c.ReopenTicket(ctx, tk.ID) }); err != nil || n != 1 {
				t.Errorf("reopening an open ticket: %v with %d requests, want nothing but the read", err, n)
			}
			if err := c.CloseTicket(ctx, tk.ID, "cleared"); err != nil {
				t.Fatal(err)
			}
			var n int64
			n = requestsOf(c, func() { err = c.ReopenTicket(ctx, tk.ID) })
			st := ticketByID(t, srv, tk.ID)
			if tc.wantErr != "" {
				if !apperr.Is(err, apperr.Invalid) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("ReopenTicket = %v, want Invalid %q", err, tc.wantErr)
				}
				if !st.Closed {
					t.Error("the refused reopen changed the ticket")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.Closed || st.Status != tc.wantStatus || n != 2 {
				t.Errorf("after ReopenTicket (%d requests): closed %v status %q; want open on %q with 2 requests (statuses cached by the close)", n, st.Closed, st.Status, tc.wantStatus)
			}
			if touched, err := c.TicketTouched(ctx, tk.ID); err != nil || touched {
				t.Errorf("TicketTouched after our own reopen = %v, %v; want false", touched, err)
			}
			if err := c.CloseTicket(ctx, tk.ID, ""); err != nil || !ticketByID(t, srv, tk.ID).Closed {
				t.Errorf("closing the reopened ticket again: %v", err)
			}
		})
	}
	t.Run("unknown ticket", func(t *testing.T) {
		_, c, _ := setup(t, sandbox.Options{Seed: 4, DeviceCount: 1})
		if err := c.ReopenTicket(context.Background(), "987654"); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("ReopenTicket of an unknown ticket = %v, want NotFound", err)
		}
	})
}
