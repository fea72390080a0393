package browsertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/devtools/devstack"
)

type named struct{ ID, Name string }

// ticketPicklists reads the demo PSA's ticket picklists for board.
func ticketPicklists(t *testing.T, board string) (pl struct{ Boards, Priorities, Statuses, Types []named }) {
	t.Helper()
	r := api(t).Do(http.MethodGet, base()+"/psa/ticket-picklists?board="+board, nil)
	r.JSON(t, &pl)
	if r.Status != 200 || len(pl.Boards) < 2 || len(pl.Priorities) < 2 || len(pl.Statuses) < 1 || len(pl.Types) < 2 {
		t.Fatalf("picklists of %s = %d %+v, want 2 boards, priorities and types and a status", board, r.Status, pl)
	}
	return pl
}

// settingsNow reads the demo integration's settings as the API answers
// them (JSON numbers as float64, as they come back after a save).
func settingsNow(t *testing.T) map[string]any {
	t.Helper()
	var ig struct {
		Settings map[string]any `json:"settings"`
	}
	r := api(t).Do(http.MethodGet, base(), nil)
	if r.Status != 200 {
		t.Fatalf("GET %s = %d %s", base(), r.Status, r.Body)
	}
	r.JSON(t, &ig)
	return ig.Settings
}

// deepCopy copies a settings object decoded from JSON.
func deepCopy(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSettingsFormKeepsWhatItDoesNotEdit stores, through the API, settings
// with every ticketDefaults key the API accepts (board, queue, status,
// type, priority), a full priority map, an account status given by its id
// (not among the names the form's list offers) and a per-organization
// override with its own ticket defaults and priority map. Changing one
// field in the settings form (the ticket type) and saving changes that
// value and nothing else: the whole settings object read back through the
// API is the stored one with only ticketDefaults.type changed, including
// changes made through the API while the form was open (an organization
// override added, the reopen window changed). The board
// field is labelled as the PSA (ConnectWise) calls it, and the ticket
// priority is shown. A second case stores the board only as queue: the
// board field edits queue (changing it keeps everything else).
func TestSettingsFormKeepsWhatItDoesNotEdit(t *testing.T) {
	original := settingsNow(t)
	t.Cleanup(func() { api(t).Do(http.MethodPatch, base(), map[string]any{"settings": original}) })
	pl := ticketPicklists(t, "Help%20Desk")
	var statuses struct{ Items []named }
	api(t).Do(http.MethodGet, base()+"/psa/account-statuses?limit=500", nil).JSON(t, &statuses)
	if len(statuses.Items) == 0 || statuses.Items[0].ID == statuses.Items[0].Name {
		t.Fatalf("account statuses %+v: want one whose id is not its name", statuses.Items)
	}
	var board string
	for _, b := range pl.Boards {
		if b.Name == "Help Desk" {
			board = b.Name
		}
	}
	var queue string
	for _, b := range pl.Boards {
		if b.Name != board {
			queue = b.Name
			break
		}
	}
	prio := func(i int) string { return pl.Priorities[i%len(pl.Priorities)].Name }
	cases := []struct {
		name           string
		ticketDefaults map[string]any
		field          string // the data-field of the control the case changes
		value          string
		label          string // the label the changed field must show
		change         func(want map[string]any)
	}{
		{
			name: "every ticketDefaults key",
			ticketDefaults: map[string]any{"board": board, "queue": queue, "status": pl.Statuses[0].Name,
				"type": pl.Types[0].Name, "priority": prio(1)},
			field: "settings.ticketDefaults.type", value: pl.Types[1].Name, label: "Type",
			change: func(want map[string]any) { want["ticketDefaults"].(map[string]any)["type"] = pl.Types[1].Name },
		},
		{
			name:           "the board stored as queue",
			ticketDefaults: map[string]any{"queue": board, "status": pl.Statuses[0].Name, "priority": prio(0)},
			field:          "settings.ticketDefaults.queue", value: queue, label: "Service board",
			change: func(want map[string]any) { want["ticketDefaults"].(map[string]any)["queue"] = queue },
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			seeded := deepCopy(t, original)
			seeded["ticketDefaults"] = c.ticketDefaults
			seeded["priorityMap"] = map[string]any{"critical": prio(0), "major": prio(1), "moderate": prio(2), "minor": prio(3), "none": prio(4)}
			seeded["accountDefaults"] = map[string]any{"status": statuses.Items[0].ID}
			seeded["reopenWindowMinutes"] = 45
			seeded["alertPolicy"] = map[string]any{
				"minSeverity": "minor",
				"organizations": map[string]any{"7": map[string]any{
					"minSeverity":    "major",
					"ticketDefaults": map[string]any{"priority": prio(0)},
					"priorityMap":    map[string]any{"critical": prio(1)},
				}},
			}
			if r := api(t).Do(http.MethodPatch, base(), map[string]any{"settings": seeded}); r.Status != http.StatusOK {
				t.Fatalf("PATCH the seeded settings = %d %s", r.Status, r.Body)
			}

			ctx := tab(t)
			signIn(t, ctx, env.APIKey)
			goTo(t, ctx, "integrations")
			row := fmt.Sprintf(`#integrations-table tr[data-key=%q]`, env.IntegrationID)
			do(t, ctx, "open the settings", chromedp.Click(css(row+` button`)), chromedp.WaitVisible(css(`#settings-form`)))
			if count(t, ctx, fmt.Sprintf(`#settings-form [data-field=%q]`, c.field)) != 1 {
				t.Fatalf("the settings form has no field %s", c.field)
			}
			if got := textOf(t, ctx, fmt.Sprintf(`label[for=%q]`, eval[string](t, ctx, fmt.Sprintf(`document.querySelector('[data-field=%q]').id`, c.field)))); got != c.label {
				t.Errorf("the field %s is labelled %q, want %q", c.field, got, c.label)
			}
			if got := eval[string](t, ctx, `(document.querySelector('[data-field="settings.ticketDefaults.priority"]') || {}).value || ''`); got != c.ticketDefaults["priority"] {
				t.Errorf("the ticket priority field shows %q, want the stored %q", got, c.ticketDefaults["priority"])
			}
			// While the form is open, the settings change through the API:
			// an organization override the form does not show, and a value
			// it shows but is not changed in it.
			elsewhere := settingsNow(t)
			elsewhere["reopenWindowMinutes"] = 60
			elsewhere["alertPolicy"].(map[string]any)["organizations"].(map[string]any)["8"] = map[string]any{"exclude": true}
			if r := api(t).Do(http.MethodPatch, base(), map[string]any{"settings": elsewhere}); r.Status != http.StatusOK {
				t.Fatalf("PATCH the settings while the form is open = %d %s", r.Status, r.Body)
			}
			stored := settingsNow(t)
			do(t, ctx, "change "+c.field+" and save",
				choose(fmt.Sprintf(`[data-field=%q]`, c.field), c.value),
				chromedp.Click(css(`#save-settings`)))
			waitText(t, ctx, `#settings-form .success`, "Saved", 10*time.Second)

			want := deepCopy(t, stored)
			c.change(want)
			if diff := cmp.Diff(want, settingsNow(t)); diff != "" {
				t.Errorf("settings after changing %s in the form (-want +got):\n%s", c.field, diff)
			}
		})
	}
}

// TestConnectionFormKeepsSettingsChangedElsewhere edits a connection whose
// budget settings (requestsPerMinute, maxConcurrency) change through the
// API while the console shows it: a change made after the list was drawn
// is what the edit form shows (it reads the connection afresh), and one
// made while the form is open survives saving a new name from the form
// (the form sends its settings only when they were changed in it). The
// connection read back through the API has the new name and the settings
// as the API last set them. Then one key edited in the form's settings
// JSON is saved over a change of another key made through the API while
// the form was open: both hold.
func TestConnectionFormKeepsSettingsChangedElsewhere(t *testing.T) {
	name := fmt.Sprintf("Budgeted Ninja %d", time.Now().UnixNano()%1e6)
	var conn struct{ ID string }
	r := api(t).Do(http.MethodPost, "/v1/connections", map[string]any{"name": name, "kind": "rmm", "provider": "ninjaone",
		"baseUrl": env.RMM.BaseURL, "credentials": map[string]string{"clientId": devstack.NinjaClientID, "clientSecret": devstack.NinjaClientSecret},
		"settings": map[string]any{"requestsPerMinute": 300, "maxConcurrency": 4}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create the connection = %d %s", r.Status, r.Body)
	}
	r.JSON(t, &conn)
	path := "/v1/connections/" + conn.ID
	t.Cleanup(func() { api(t).Do(http.MethodDelete, path, nil) })
	setElsewhere := func(settings map[string]any) {
		t.Helper()
		if r := api(t).Do(http.MethodPatch, path, map[string]any{"settings": settings}); r.Status != http.StatusOK {
			t.Fatalf("PATCH the settings = %d %s", r.Status, r.Body)
		}
	}

	ctx := tab(t)
	signIn(t, ctx, env.APIKey)
	goTo(t, ctx, "connections")
	row := fmt.Sprintf(`#connections-table tr[data-key=%q]`, conn.ID)
	do(t, ctx, "wait for the connection's row", chromedp.WaitVisible(css(row)))
	setElsewhere(map[string]any{"requestsPerMinute": 500, "maxConcurrency": 3})
	do(t, ctx, "edit the connection",
		js(`[...document.querySelectorAll(`+fmt.Sprintf("%q", row+" button")+`)].find(b => b.innerText === 'Edit').click();`),
		chromedp.WaitVisible(css(`#connection-form`)))
	var shown map[string]any
	if err := json.Unmarshal([]byte(eval[string](t, ctx, `document.querySelector('#connection-form [data-field=settings]').value`)), &shown); err != nil {
		t.Fatalf("the settings field does not hold JSON: %v", err)
	}
	if diff := cmp.Diff(map[string]any{"requestsPerMinute": 500.0, "maxConcurrency": 3.0}, shown); diff != "" {
		t.Errorf("the edit form shows settings (-want +got):\n%s", diff)
	}
	setElsewhere(map[string]any{"requestsPerMinute": 600, "maxConcurrency": 2})
	renamed := name + " renamed"
	do(t, ctx, "rename and save",
		choose(`#connection-form [data-field=name]`, renamed),
		chromedp.Click(css(`#test-save`)))
	waitText(t, ctx, `#connection-saved`, renamed, 20*time.Second)

	var got struct {
		Name     string
		Settings map[string]any
	}
	api(t).Do(http.MethodGet, path, nil).JSON(t, &got)
	want := struct {
		Name     string
		Settings map[string]any
	}{renamed, map[string]any{"requestsPerMinute": 600.0, "maxConcurrency": 2.0}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the connection after renaming it in the form (-want +got):\n%s", diff)
	}

	// The form now shows the settings as saved. maxConcurrency changes
	// through the API; requestsPerMinute is edited in the form's JSON:
	// saving sets requestsPerMinute and keeps the API's maxConcurrency.
	setElsewhere(map[string]any{"requestsPerMinute": 600, "maxConcurrency": 5})
	do(t, ctx, "edit requestsPerMinute in the settings JSON and save",
		js(`document.getElementById('connection-saved').remove()`),
		choose(`#connection-form [data-field=settings]`, `{"requestsPerMinute": 700, "maxConcurrency": 2}`),
		chromedp.Click(css(`#test-save`)),
		chromedp.WaitVisible(css(`#connection-saved`)))
	got.Name, got.Settings = "", nil
	api(t).Do(http.MethodGet, path, nil).JSON(t, &got)
	want.Settings = map[string]any{"requestsPerMinute": 700.0, "maxConcurrency": 5.0}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the connection after editing requestsPerMinute in the form (-want +got):\n%s", diff)
	}
}
