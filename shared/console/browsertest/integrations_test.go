package browsertest

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestIntegrationCreateAndRotate creates an integration from the two
// sandbox connections: its webhook secret is shown once, with the webhook
// URL; "Rotate secret" shows a new one, and only the new one is accepted
// by the webhook. The integration is then deleted from the list.
func TestIntegrationCreateAndRotate(t *testing.T) {
	ctx := tab(t)
	signIn(t, ctx, env.APIKey)
	acceptDialogs(t, ctx)
	goTo(t, ctx, "integrations")
	name := fmt.Sprintf("Console integration %d", time.Now().UnixNano()%1e6)
	do(t, ctx, "create an integration",
		chromedp.Click(css(`#add-integration`)),
		chromedp.WaitVisible(css(`[data-field=rmmConnectionId]`)),
		chromedp.SendKeys(css(`form:has(#create-integration) [data-field=name]`), name),
		choose(`[data-field=rmmConnectionId]`, env.RMMConnection),
		choose(`[data-field=psaConnectionId]`, env.PSAConnection),
		chromedp.Click(css(`#create-integration`)),
		chromedp.WaitVisible(css(`#webhook-secret`)))
	first := textOf(t, ctx, `#webhook-secret`)
	if !strings.HasPrefix(first, "whsec_") {
		t.Fatalf("secret shown %q", first)
	}
	panel := textOf(t, ctx, `.one-time`)
	var id string
	var list struct{ Items []struct{ ID, Name string } }
	api(t).Do(http.MethodGet, "/v1/integrations?limit=500", nil).JSON(t, &list)
	for _, ig := range list.Items {
		if ig.Name == name {
			id = ig.ID
		}
	}
	if id == "" || !strings.Contains(panel, "/v1/webhooks/"+id+"/rmm") {
		t.Fatalf("integration %q (%s) not created, or its webhook URL not shown: %q", name, id, panel)
	}
	var ig struct{ Webhook map[string]string }
	api(t).Do(http.MethodGet, "/v1/integrations/"+id, nil).JSON(t, &ig)
	if ig.Webhook["secret"] != "" {
		t.Error("the API shows the secret again")
	}
	// Rotate from the list; the new secret replaces the old one.
	do(t, ctx, "Done", chromedp.Click(css(`.one-time ~ button`)))
	waitGone(t, ctx, `.one-time`, 10*time.Second) // the page is drawn anew
	row := fmt.Sprintf(`#integrations-table tr[data-key=%q]`, id)
	do(t, ctx, "rotate the secret", chromedp.WaitVisible(css(row)),
		js(`[...document.querySelectorAll(`+fmt.Sprintf("%q", row+" button")+`)].find(b => b.innerText.includes('Rotate')).click();`),
		chromedp.WaitVisible(css(`#webhook-secret`)))
	second := textOf(t, ctx, `#webhook-secret`)
	if second == first || !strings.HasPrefix(second, "whsec_") {
		t.Fatalf("rotated secret %q (was %q)", second, first)
	}
	post := func(secret string) int {
		req, _ := http.NewRequest(http.MethodPost, env.Stack.APIURL()+"/v1/webhooks/"+id+"/rmm", bytes.NewReader([]byte(`{"id":1,"activityType":"SYSTEM","statusCode":"X"}`)))
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := post(first); st != 401 {
		t.Errorf("the old secret answers %d, want 401", st)
	}
	if st := post(second); st != 202 {
		t.Errorf("the new secret answers %d, want 202", st)
	}
	// Delete it from the list.
	do(t, ctx, "delete the integration",
		js(`[...document.querySelectorAll(`+fmt.Sprintf("%q", row+" button")+`)].find(b => b.classList.contains('danger')).click();`))
	deadline := time.Now().Add(20 * time.Second)
	for api(t).Do(http.MethodGet, "/v1/integrations/"+id, nil).Status != 404 {
		if time.Now().After(deadline) {
			t.Fatal("the integration was not deleted")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
