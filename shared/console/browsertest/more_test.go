package browsertest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestEditAndDeleteMapping edits a mapping's site → location choice and
// then deletes the mapping from the Accounts screen; the API agrees at
// each step.
func TestEditAndDeleteMapping(t *testing.T) {
	ctx := tab(t)
	signIn(t, ctx, env.APIKey)
	acceptDialogs(t, ctx)
	org := mapForImport(t) // mapped, its account created with one location per site
	goTo(t, ctx, "accounts")
	row := fmt.Sprintf(`#orgs-table tr[data-key=%q]`, org)
	do(t, ctx, "Edit", chromedp.WaitVisible(css(row)), chromedp.Click(css(row+` td[data-col=actions] button`)), chromedp.WaitVisible(css(`#mapping-form`)))
	sites := count(t, ctx, `#mapping-form select[data-site]`)
	if sites == 0 {
		t.Fatalf("organization %s shows no sites to map", org)
	}
	site := eval[string](t, ctx, `document.querySelector('#mapping-form select[data-site]').dataset.site`)
	// Another of the account's locations for the first site.
	other := eval[string](t, ctx, `(() => { const s = document.querySelector('#mapping-form select[data-site]');
		const o = [...s.options].find(o => o.value && o.value !== 'create' && o.value !== s.value); return o ? o.value : ''; })()`)
	if other == "" {
		t.Fatalf("no other location offered for site %s", site)
	}
	do(t, ctx, "map the first site to another location and save",
		choose(`#mapping-form select[data-site]`, other),
		chromedp.Click(css(`#save-mapping`)))
	waitText(t, ctx, `#mapping-saved`, "", 20*time.Second)
	var m struct{ Sites map[string]string }
	api(t).Do(http.MethodGet, base()+"/mappings/"+org, nil).JSON(t, &m)
	if m.Sites[site] != other {
		t.Errorf("site %s maps to %q, want the chosen location %s", site, m.Sites[site], other)
	}
	do(t, ctx, "Delete", chromedp.WaitVisible(css(row+` button.danger`)), chromedp.Click(css(row+` button.danger`)))
	waitText(t, ctx, row+` td[data-col=mapping]`, "Not mapped", 20*time.Second)
	if acct, _ := mappingOfOrNone(t, org); acct != "" {
		t.Errorf("organization %s still mapped to %s after Delete", org, acct)
	}
}

// TestCreateInRMM finds a PSA company with no RMM organization and presses
// "Create in RMM": the page says which organization was created, and the
// organization appears mapped in the list.
func TestCreateInRMM(t *testing.T) {
	// A PSA company no RMM organization resembles: created through the API
	// for another organization, whose mapping is then removed.
	company := "Zephyr Orchards " + strconv.FormatInt(time.Now().UnixNano()%1e6, 10)
	helper := take(t, "no_match")
	if r := api(t).Do(http.MethodPut, base()+"/mappings/"+helper, map[string]any{"createAccount": map[string]any{"name": company}}); r.Status != 200 {
		t.Fatalf("create company %q: %d %s", company, r.Status, r.Body)
	}
	if r := api(t).Do(http.MethodDelete, base()+"/mappings/"+helper, nil); r.Status != 204 {
		t.Fatalf("unmap %s: %d %s", helper, r.Status, r.Body)
	}
	ctx := tab(t)
	signIn(t, ctx, env.APIKey)
	goTo(t, ctx, "accounts")
	do(t, ctx, "search the PSA for "+company,
		chromedp.WaitVisible(css(`#psa-search`)),
		chromedp.SendKeys(css(`form:has(#psa-search) input[name=search]`), company),
		chromedp.Click(css(`#psa-search`)),
		chromedp.WaitVisible(css(`#psa-table`)))
	name := textOf(t, ctx, `#psa-table tbody tr td`)
	do(t, ctx, "Create in RMM", chromedp.Click(css(`#psa-table tbody tr button`)))
	msg := waitText(t, ctx, `#psa-table tbody tr`, "organization #", 30*time.Second)
	var org string
	if i := strings.Index(msg, "#"); i >= 0 {
		org = strings.Fields(msg[i+1:])[0]
	}
	if acct, _ := mappingOfOrNone(t, org); acct == "" {
		t.Fatalf("page says %q, but organization %q is not mapped", msg, org)
	}
	do(t, ctx, "show the mapped organizations", choose(`#mapping-filter`, "mapped"))
	waitText(t, ctx, `#orgs-table`, name, 20*time.Second)
}

// TestKeyboardOnly signs in and moves between screens with the keyboard
// alone: Tab reaches each control in order with a visible focus ring, and
// Enter submits and follows links.
func TestKeyboardOnly(t *testing.T) {
	ctx := tab(t)
	do(t, ctx, "open the console", chromedp.Navigate(env.Stack.APIURL()+"/"), chromedp.WaitVisible(css(`#signin-key`)))
	focused := func() string {
		return eval[string](t, ctx, `(document.activeElement && (document.activeElement.name || document.activeElement.id || document.activeElement.className)) || ''`)
	}
	// Tab to the API key field.
	for i := 0; i < 12 && focused() != "apiKey"; i++ {
		do(t, ctx, "Tab", chromedp.KeyEvent(kb.Tab))
	}
	if focused() != "apiKey" {
		t.Fatalf("Tab never reached the API key field (focus on %q)", focused())
	}
	outline := eval[string](t, ctx, `getComputedStyle(document.activeElement).outlineStyle`)
	if outline == "none" || outline == "" {
		t.Errorf("the focused field has no visible outline (%q)", outline)
	}
	do(t, ctx, "type the key and press Enter", chromedp.KeyEvent(env.APIKey), chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(css(`#role`)))
	// Tab to the Accounts link and follow it.
	for i := 0; i < 20 && focused() != "nav-accounts"; i++ {
		do(t, ctx, "Tab", chromedp.KeyEvent(kb.Tab))
	}
	if focused() != "nav-accounts" {
		t.Fatalf("Tab never reached the Accounts link (focus on %q)", focused())
	}
	do(t, ctx, "Enter", chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(css(`#orgs-table`)))
	if got := textOf(t, ctx, `main h1`); got != "Accounts" {
		t.Errorf("heading %q after following the link", got)
	}
	// Unlabelled controls: every input, select and textarea has a label.
	unlabelled := eval[[]string](t, ctx, `[...document.querySelectorAll('input, select, textarea')].filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.outerHTML.slice(0, 80))`)
	if len(unlabelled) > 0 {
		t.Errorf("controls without a label: %v", unlabelled)
	}
}
