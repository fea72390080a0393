package browsertest

import (
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestAlertPolicyInSettingsForm sets the integration-wide alert policy in
// the settings form (minimum severity, excluded types, flood guard) and
// saves: the API then holds them, and the per-organization overrides set
// through the API are kept, not wiped by the form's save.
func TestAlertPolicyInSettingsForm(t *testing.T) {
	var before struct {
		Settings map[string]any `json:"settings"`
	}
	api(t).Do(http.MethodGet, base(), nil).JSON(t, &before)
	t.Cleanup(func() { api(t).Do(http.MethodPatch, base(), map[string]any{"settings": before.Settings}) })
	withOrg := maps.Clone(before.Settings)
	withOrg["alertPolicy"] = map[string]any{"organizations": map[string]any{"7": map[string]any{"exclude": true}}}
	if r := api(t).Do(http.MethodPatch, base(), map[string]any{"settings": withOrg}); r.Status != http.StatusOK {
		t.Fatalf("PATCH = %d %s", r.Status, r.Body)
	}

	ctx := tab(t)
	signIn(t, ctx, env.APIKey)
	goTo(t, ctx, "integrations")
	row := `#integrations-table tr[data-key="` + env.IntegrationID + `"]`
	do(t, ctx, "open the settings", chromedp.Click(css(row+` button`)), chromedp.WaitVisible(css(`#settings-form`)))
	do(t, ctx, "set the policy and save",
		choose(`[data-field="settings.alertPolicy.minSeverity"]`, "major"),
		choose(`[data-field="settings.alertPolicy.excludeTypes"]`, "patch_failed, disk_free"),
		choose(`[data-field="settings.alertPolicy.maxTicketsPerHour"]`, "12"),
		chromedp.Click(css(`#save-settings`)))
	waitText(t, ctx, `#settings-form .success`, "Saved", 10*time.Second)
	var ig struct {
		Settings struct {
			AlertPolicy struct {
				MinSeverity       string
				ExcludeTypes      []string
				MaxTicketsPerHour int
				Organizations     map[string]struct{ Exclude bool }
			}
		}
	}
	api(t).Do(http.MethodGet, base(), nil).JSON(t, &ig)
	p := ig.Settings.AlertPolicy
	if p.MinSeverity != "major" || len(p.ExcludeTypes) != 2 || p.ExcludeTypes[1] != "disk_free" || p.MaxTicketsPerHour != 12 || !p.Organizations["7"].Exclude {
		t.Errorf("alertPolicy after saving the form: %+v", p)
	}
}
