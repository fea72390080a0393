package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rmmbridge/rmmbridge/shared/devtools/devstack"
)

// holdPatches makes the page's next PATCH wait, after the console has
// read what it saves over, until releasePatch: the test changes the
// resource through the API in between.
const holdPatches = `(() => {
  window.__patchHeld = false;
  const gate = new Promise(r => { window.__releasePatch = r; });
  const orig = window.fetch;
  window.fetch = async (u, o) => {
    if (o && o.method === 'PATCH') { window.__patchHeld = true; await gate; window.fetch = orig; }
    return orig(u, o);
  };
})()`

// changeWhileHeld waits for the page's PATCH to be held, runs change (a
// change through the API), then lets the PATCH go.
func changeWhileHeld(t *testing.T, ctx context.Context, change func()) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !eval[bool](t, ctx, `window.__patchHeld === true`) {
		if time.Now().After(deadline) {
			t.Fatal("the console sent no PATCH")
		}
		time.Sleep(50 * time.Millisecond)
	}
	change()
	do(t, ctx, "let the console's PATCH go", js(`window.__releasePatch()`))
}

const changedElsewhere = "Changed by someone else since you opened it: reloaded with their change. Re-apply your edit and save again."

// TestSettingsSaveRacingAnAPIChange: the settings form's save reads the
// integration, and a change through the API lands after that read and
// before the console's PATCH. The PATCH carries the read's ETag in
// If-Match, so it is refused (412) and writes nothing: the API's change
// survives, the console's edit is not saved, the form says the
// integration was changed by someone else and shows it reloaded (with the
// API's value).
func TestSettingsSaveRacingAnAPIChange(t *testing.T) {
	original := settingsNow(t)
	t.Cleanup(func() { api(t).Do(http.MethodPatch, base(), map[string]any{"settings": original}) })
	seeded := deepCopy(t, original)
	seeded["reopenWindowMinutes"] = 30
	if r := api(t).Do(http.MethodPatch, base(), map[string]any{"settings": seeded}); r.Status != http.StatusOK {
		t.Fatalf("PATCH the seeded settings = %d %s", r.Status, r.Body)
	}

	ctx := tab(t)
	signIn(t, ctx, env.APIKey)
	goTo(t, ctx, "integrations")
	row := fmt.Sprintf(`#integrations-table tr[data-key=%q]`, env.IntegrationID)
	reopen := `#settings-form [data-field="settings.reopenWindowMinutes"]`
	do(t, ctx, "open the settings", chromedp.Click(css(row+` button`)), chromedp.WaitVisible(css(reopen)))
	do(t, ctx, "change the reopen window and save",
		js(holdPatches),
		choose(reopen, "15"),
		chromedp.Click(css(`#save-settings`)))
	elsewhere := deepCopy(t, seeded)
	elsewhere["reopenWindowMinutes"] = 77
	changeWhileHeld(t, ctx, func() {
		if r := api(t).Do(http.MethodPatch, base(), map[string]any{"settings": elsewhere}); r.Status != http.StatusOK {
			t.Fatalf("PATCH through the API = %d %s", r.Status, r.Body)
		}
	})
	waitText(t, ctx, `#settings-form .form-error`, changedElsewhere, 10*time.Second)
	if got := eval[string](t, ctx, `document.querySelector('`+reopen+`').value`); got != "77" {
		t.Errorf("the reloaded form shows the reopen window %q, want the API's 77", got)
	}
	if got := settingsNow(t)["reopenWindowMinutes"]; got != 77.0 {
		t.Errorf("stored reopen window %v, want the API's 77 (the console's stale save must not land)", got)
	}
	if count(t, ctx, `#settings-form .success`) != 0 {
		t.Error("the form says Saved")
	}

	// Re-applied on the reloaded form, the edit saves.
	do(t, ctx, "re-apply the edit and save", choose(reopen, "15"), chromedp.Click(css(`#save-settings`)))
	waitText(t, ctx, `#settings-form .success`, "Saved", 10*time.Second)
	if got := settingsNow(t)["reopenWindowMinutes"]; got != 15.0 {
		t.Errorf("stored reopen window %v after re-applying, want 15", got)
	}
}

// TestConnectionSaveRacingAnAPIChange: the connection form's save (a new
// name) reads the connection, and a settings change through the API lands
// before the console's PATCH: the PATCH is refused (412), the API's
// settings and the old name stay, and the reloaded form says why and
// shows the API's settings.
func TestConnectionSaveRacingAnAPIChange(t *testing.T) {
	name := fmt.Sprintf("Raced Ninja %d", time.Now().UnixNano()%1e6)
	var conn struct{ ID string }
	r := api(t).Do(http.MethodPost, "/v1/connections", map[string]any{"name": name, "kind": "rmm", "provider": "ninjaone",
		"baseUrl": env.RMM.BaseURL, "credentials": map[string]string{"clientId": devstack.NinjaClientID, "clientSecret": devstack.NinjaClientSecret},
		"settings": map[string]any{"requestsPerMinute": 300}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create the connection = %d %s", r.Status, r.Body)
	}
	if r.Header.Get("ETag") != `"1"` {
		t.Errorf("a new connection's ETag is %q, want \"1\"", r.Header.Get("ETag"))
	}
	r.JSON(t, &conn)
	path := "/v1/connections/" + conn.ID
	t.Cleanup(func() { api(t).Do(http.MethodDelete, path, nil) })

	ctx := tab(t)
	signIn(t, ctx, env.APIKey)
	goTo(t, ctx, "connections")
	row := fmt.Sprintf(`#connections-table tr[data-key=%q]`, conn.ID)
	do(t, ctx, "edit the connection",
		chromedp.WaitVisible(css(row)),
		js(`[...document.querySelectorAll(`+fmt.Sprintf("%q", row+" button")+`)].find(b => b.innerText === 'Edit').click();`),
		chromedp.WaitVisible(css(`#connection-form`)))
	do(t, ctx, "rename and save",
		js(holdPatches),
		choose(`#connection-form [data-field=name]`, name+" renamed"),
		chromedp.Click(css(`#test-save`)))
	changeWhileHeld(t, ctx, func() {
		if r := api(t).Do(http.MethodPatch, path, map[string]any{"settings": map[string]any{"requestsPerMinute": 500}}); r.Status != http.StatusOK {
			t.Fatalf("PATCH through the API = %d %s", r.Status, r.Body)
		}
	})
	waitText(t, ctx, `#connection-form .form-error`, changedElsewhere, 20*time.Second)
	var shown map[string]any
	if err := json.Unmarshal([]byte(eval[string](t, ctx, `document.querySelector('#connection-form [data-field=settings]').value`)), &shown); err != nil || shown["requestsPerMinute"] != 500.0 {
		t.Errorf("the reloaded form shows settings %v (%v), want the API's requestsPerMinute 500", shown, err)
	}
	var got struct {
		Name     string
		Settings map[string]any
	}
	api(t).Do(http.MethodGet, path, nil).JSON(t, &got)
	if got.Name != name || got.Settings["requestsPerMinute"] != 500.0 {
		t.Errorf("stored %q with settings %v, want the old name and the API's settings", got.Name, got.Settings)
	}
	if count(t, ctx, `#connection-saved`) != 0 {
		t.Error("the form says saved")
	}
}
