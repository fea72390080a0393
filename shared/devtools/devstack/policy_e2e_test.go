package devstack_test

import (
	"context"
	"maps"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestFilteredAlertCreatesNothing (issue 15 §3): with the integration's
// alert policy excluding the device's organization, a NinjaOne trigger
// delivered to the webhook goes through the queue and the alert worker
// (moto's SQS and DynamoDB), is recorded as filtered with its rule, the
// setting and its value (GET /alerts?state=filtered), and creates nothing
// in the ConnectWise sandbox — no ticket, no company; its reset closes
// nothing.
func TestFilteredAlertCreatesNothing(t *testing.T) {
	ctx := context.Background()
	c := client(t)
	base := "/v1/integrations/" + env.IntegrationID
	var ig struct {
		Settings map[string]any `json:"settings"`
	}
	c.Do(http.MethodGet, base, nil).JSON(t, &ig)
	dev := env.Ninja().Devices()[1]
	org := strconv.Itoa(dev.OrganizationID)
	withPolicy := maps.Clone(ig.Settings)
	withPolicy["alertPolicy"] = map[string]any{"organizations": map[string]any{org: map[string]any{"exclude": true}}}
	if r := c.Do(http.MethodPatch, base, map[string]any{"settings": withPolicy}); r.Status != http.StatusOK {
		t.Fatalf("PATCH alertPolicy = %d %s", r.Status, r.Body)
	}
	t.Cleanup(func() { c.Do(http.MethodPatch, base, map[string]any{"settings": ig.Settings}) })
	ticketsBefore, companiesBefore := len(env.CW().Tickets()), len(env.CW().Companies())

	url := env.Stack.APIURL() + "/v1/webhooks/" + env.IntegrationID + "/rmm"
	hdr := map[string]string{"Authorization": "Bearer " + env.WebhookSecret}
	trigger, err := env.Ninja().ConditionActivity(dev.ID, true, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Ninja().EmitWebhook(ctx, url, hdr, trigger); err != nil {
		t.Fatalf("emit trigger: %v", err)
	}
	type filterView struct{ Rule, Setting, Value string }
	type alertItem struct {
		SeriesID, State, TicketID string
		Occurrences               int
		Filter                    *filterView
	}
	filtered := func() (alertItem, bool) {
		var page struct{ Items []alertItem }
		c.Do(http.MethodGet, base+"/alerts?limit=500&state=filtered", nil).JSON(t, &page)
		for _, a := range page.Items {
			if a.SeriesID == trigger.SeriesUID {
				return a, true
			}
		}
		return alertItem{}, false
	}
	var got alertItem
	waitUntil(t, 60*time.Second, "the trigger listed as filtered", func() bool {
		var ok bool
		got, ok = filtered()
		return ok
	})
	want := filterView{Rule: "organizationExcluded", Setting: "settings.alertPolicy.organizations." + org + ".exclude", Value: "true"}
	if got.Filter == nil || *got.Filter != want || got.TicketID != "" || got.Occurrences != 1 || got.State != "filtered" {
		t.Errorf("filtered series %+v (filter %+v), want filter %+v, no ticket", got, got.Filter, want)
	}

	reset, err := env.Ninja().ConditionActivity(dev.ID, false, trigger.SeriesUID, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Ninja().EmitWebhook(ctx, url, hdr, reset); err != nil {
		t.Fatalf("emit reset: %v", err)
	}
	// The reset is applied in its turn: wait for the series' last sighting to move.
	waitUntil(t, 60*time.Second, "the reset recorded on the filtered series", func() bool {
		var page struct {
			Items []struct {
				SeriesID    string
				LastSeenAt  time.Time
				FirstSeenAt time.Time
			}
		}
		c.Do(http.MethodGet, base+"/alerts?limit=500&state=filtered", nil).JSON(t, &page)
		for _, a := range page.Items {
			if a.SeriesID == trigger.SeriesUID {
				return a.LastSeenAt.After(a.FirstSeenAt)
			}
		}
		return false
	})
	if n := len(env.CW().Tickets()) - ticketsBefore; n != 0 {
		t.Errorf("%d tickets created in the ConnectWise sandbox, want none", n)
	}
	if n := len(env.CW().Companies()) - companiesBefore; n != 0 {
		t.Errorf("%d companies created in the ConnectWise sandbox, want none", n)
	}
}
