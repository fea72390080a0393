package browsertest

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestMainScreens visits every screen at 1280×800 and on a narrow window
// (390×844): each shows its heading and no error state, and the
// navigation stays reachable. It saves a screenshot of each; with
// UPDATE_CONSOLE_SCREENSHOTS=1 they go to docs/ (the README shows them).
func TestMainScreens(t *testing.T) {
	ctx := tab(t)
	signIn(t, ctx, env.APIKey)
	dir := t.TempDir()
	if os.Getenv("UPDATE_CONSOLE_SCREENSHOTS") != "" {
		root, err := repoRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, "docs")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	shot := func(name string) {
		do(t, ctx, "settle", chromedp.Sleep(300*time.Millisecond))
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if len(png) < 1000 {
			t.Errorf("screenshot %s is %d bytes", name, len(png))
		}
		if err := os.WriteFile(filepath.Join(dir, "console-"+name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []struct{ id, heading, ready string }{
		{"connections", "Connections", "#connections-table"},
		{"integrations", "Integrations", "#integrations-table"},
		{"accounts", "Accounts", "#orgs-table"},
		{"imports", "Imports", "#import-form"},
		{"assets", "Assets", ".screen"},
		{"alerts", "Alerts", ".screen"},
		{"audit", "Audit log", ".screen"},
	} {
		goTo(t, ctx, s.id)
		waitText(t, ctx, "main h1", s.heading, 5*time.Second)
		do(t, ctx, "wait for "+s.ready, chromedp.WaitVisible(css(s.ready)))
		waitGone(t, ctx, ".state.loading", 20*time.Second)
		if n := count(t, ctx, ".state.error"); n > 0 {
			t.Errorf("%s shows an error: %v", s.id, texts(t, ctx, ".state.error"))
		}
		shot(s.id)
	}
	// The mapping flow on an organization several companies could be.
	org := take(t, "multiple_matches")
	openAddMapping(t, ctx, org)
	if n := count(t, ctx, `#mapping-flow input[type=radio]`); n < 2 {
		t.Errorf("%d candidates shown", n)
	}
	shot("add-mapping")
	// A finished import, with its counts.
	var jobs struct{ Items []struct{ ID string } }
	api(t).Do(http.MethodGet, base()+"/imports?limit=1", nil).JSON(t, &jobs)
	if len(jobs.Items) > 0 {
		do(t, ctx, "open the last import", chromedp.Navigate(env.Stack.APIURL()+"/#/imports/"+jobs.Items[0].ID), chromedp.WaitVisible(css(`#job-counts`)))
		waitGone(t, ctx, `#job .state.loading`, 20*time.Second)
		shot("import")
	}
	// An asset's detail, with the Sync button.
	dev := syncedDevice(t)
	do(t, ctx, "open an asset", chromedp.Navigate(env.Stack.APIURL()+"/#/assets/"+dev), chromedp.WaitVisible(css(`#sync`)))
	shot("asset")
	do(t, ctx, "narrow window", chromedp.EmulateViewport(390, 844))
	goTo(t, ctx, "accounts")
	do(t, ctx, "wait for the organizations", chromedp.WaitVisible(css(`#orgs-table`)))
	// The page fits the window: wide tables scroll inside their frame,
	// and the navigation becomes a row above the screen.
	if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the narrow page is %d px wide, wider than the 390 px window", w)
	}
	if d := eval[string](t, ctx, `getComputedStyle(document.querySelector('.nav ul')).display`); d != "flex" {
		t.Errorf("narrow navigation display %q, want a row (flex)", d)
	}
	shot("accounts-narrow")
}

// waitGone waits until nothing matches sel.
func waitGone(t *testing.T, ctx context.Context, sel string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for count(t, ctx, sel) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s still shown after %s", sel, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
