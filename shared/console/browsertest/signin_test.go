package browsertest

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	apiroutes "github.com/rmmbridge/rmmbridge/shared/api"
)

// hasRoute reports whether the stack's API serves a route.
func hasRoute(key string) bool {
	return slices.Contains(apiroutes.New(apiroutes.Deps{}).RouteKeys(), key)
}

// TestSignInWithEmail signs in with an email and a password. Without the
// users issue's routes the form says email sign-in is not available (and
// the API key still works); with them the demo admin signs in (the ID
// token is the bearer, kept in sessionStorage, never in the URL), sees the
// admin's buttons, and signs out.
func TestSignInWithEmail(t *testing.T) {
	ctx := tab(t)
	do(t, ctx, "open the console", chromedp.Navigate(env.Stack.APIURL()+"/"), chromedp.WaitVisible(css(`#signin-user`)))
	if !hasRoute("POST /v1/auth/login") {
		do(t, ctx, "sign in with an email",
			chromedp.SendKeys(css(`input[name=email]`), "admin@demo.example"),
			chromedp.SendKeys(css(`input[name=password]`), "not-a-password-1"),
			chromedp.Click(css(`#signin-user`)))
		waitText(t, ctx, `form:has(#signin-user) .form-error`, "not available on this server", 10*time.Second)
		if n := count(t, ctx, `#role`); n != 0 {
			t.Fatal("signed in without a user")
		}
		signIn(t, ctx, env.APIKey) // the API key path still works
		return
	}
	email, password := demoAdmin(t)
	if email == "" {
		t.Fatal("the stack serves POST /v1/auth/login: set demoAdmin (users_hook_test.go) to the demo admin's credentials")
	}
	do(t, ctx, "a wrong password",
		chromedp.SendKeys(css(`input[name=email]`), email),
		chromedp.SendKeys(css(`input[name=password]`), password+"-wrong"),
		chromedp.Click(css(`#signin-user`)))
	// The answer does not say whether the email exists; wait for it (the
	// button is busy until then, and a click on it would be lost).
	waitText(t, ctx, `form:has(#signin-user) .form-error`, "incorrect email or password", 10*time.Second)
	do(t, ctx, "the right password",
		chromedp.SetValue(css(`input[name=password]`), password),
		chromedp.Click(css(`#signin-user`)),
		chromedp.WaitVisible(css(`#role`)))
	if got := textOf(t, ctx, `#role`); got != "Admin" {
		t.Errorf("role shown %q, want Admin", got)
	}
	if loc := eval[string](t, ctx, `location.href`); strings.Contains(loc, "token") || strings.Contains(loc, password) {
		t.Errorf("the URL carries a credential: %s", loc)
	}
	stored := eval[string](t, ctx, `sessionStorage.getItem('rmb.session') || ''`)
	if !strings.Contains(stored, `"kind":"user"`) || strings.Contains(stored, password) {
		t.Errorf("session %q: want a user session without the password", stored)
	}
	goTo(t, ctx, "connections")
	do(t, ctx, "connections", chromedp.WaitVisible(css(`#add-connection`)))
	do(t, ctx, "sign out", chromedp.Click(css(`#signout`)), chromedp.WaitVisible(css(`#signin-user`)))
	if s := eval[string](t, ctx, `sessionStorage.getItem('rmb.session') || ''`); s != "" {
		t.Errorf("session kept after signing out: %s", s)
	}
}

// TestUsersScreen imports PSA members as users from the Users screen. Without
// the users issue's routes the screen says users are not available and the
// import's answer (501) is shown; with them two members are imported with
// a role each, the list shows them, a role is changed and a user disabled,
// and an imported user's first sign-in asks for a new password.
func TestUsersScreen(t *testing.T) {
	ctx := tab(t)
	signIn(t, ctx, env.APIKey)
	goTo(t, ctx, "users")
	if !hasRoute("GET /v1/users") {
		waitText(t, ctx, `main .state.empty`, "not available on this server", 10*time.Second)
		do(t, ctx, "import from the PSA", chromedp.Click(css(`#import-users`)), chromedp.WaitVisible(css(`#members-table`)))
		if n := count(t, ctx, `#members-table tbody tr`); n == 0 {
			t.Fatal("no PSA members listed")
		}
		do(t, ctx, "tick a member and import",
			js(`document.querySelector('#members-table tbody input[type=checkbox]:not([disabled])').click();`),
			chromedp.Click(css(`#import-go`)))
		waitText(t, ctx, `main .panel .form-error`, "not implemented", 10*time.Second)
		return
	}
	do(t, ctx, "import from the PSA", chromedp.Click(css(`#import-users`)), chromedp.WaitVisible(css(`#members-table`)))
	emails := eval[[]string](t, ctx, `[...document.querySelectorAll('#members-table tbody tr')].filter(r => !r.querySelector('input').disabled).slice(0, 2).map(r => r.cells[2].innerText)`)
	if len(emails) < 2 {
		t.Fatalf("fewer than two importable members: %v", emails)
	}
	do(t, ctx, "tick two members, the second as operator, and import",
		js(`const rows = [...document.querySelectorAll('#members-table tbody tr')].filter(r => !r.querySelector('input').disabled).slice(0, 2);
			rows.forEach(r => r.querySelector('input').click());
			const s = rows[1].querySelector('select'); s.value = 'operator'; s.dispatchEvent(new Event('change'));`),
		chromedp.Click(css(`#import-go`)),
		chromedp.WaitVisible(css(`#import-results`)))
	if got := texts(t, ctx, `#import-results tbody tr`); len(got) != 2 || !strings.Contains(got[0], "created") {
		t.Fatalf("import results %q", got)
	}
	waitText(t, ctx, `#users-table`, emails[1], 10*time.Second)
	var users struct {
		Items []struct {
			ID, Email, Role string
			Disabled        bool
		}
	}
	userOf := func(email string) (id, role string, disabled bool) {
		api(t).Do(http.MethodGet, "/v1/users?limit=500", nil).JSON(t, &users)
		for _, u := range users.Items {
			if u.Email == email {
				return u.ID, u.Role, u.Disabled
			}
		}
		t.Fatalf("no user %s", email)
		return "", "", false
	}
	if _, role, _ := userOf(emails[1]); role != "operator" {
		t.Errorf("%s imported as %s, want operator", emails[1], role)
	}
	// Change the operator to admin, then disable them, from the list.
	row := `[...document.querySelectorAll('#users-table tbody tr')].find(r => r.innerText.includes(` + strconv.Quote(emails[1]) + `))`
	do(t, ctx, "make the operator an admin", js(`const s = `+row+`.querySelector('select'); s.value = 'admin'; s.dispatchEvent(new Event('change'));`))
	waitFor(t, 10*time.Second, "the role change", func() bool { _, role, _ := userOf(emails[1]); return role == "admin" })
	// The role change re-renders the list: click Disable once the row is
	// back with its new role (a click during the re-render finds no row).
	waitFor(t, 10*time.Second, "the operator's row, as admin, to disable", func() bool {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return chromedp.Do(c, js(`const r = `+row+`; const s = r && r.querySelector('select');
			if (!s || s.value !== 'admin') { throw new Error('not rendered yet'); }
			r.querySelector('button').click();`)) == nil
	})
	waitFor(t, 10*time.Second, "the user disabled", func() bool { _, _, off := userOf(emails[1]); return off })
	// The first-login flow of the viewer just imported.
	temp := temporaryPassword(t, emails[0])
	if temp == "" {
		t.Fatal("the stack serves the users API: set temporaryPassword (users_hook_test.go) to read the dev mailbox")
	}
	u2 := tab(t)
	do(t, u2, "first sign-in", chromedp.Navigate(env.Stack.APIURL()+"/"),
		chromedp.SendKeys(css(`input[name=email]`), emails[0]),
		chromedp.SendKeys(css(`input[name=password]`), temp),
		chromedp.Click(css(`#signin-user`)),
		chromedp.WaitVisible(css(`#set-password`)),
		chromedp.SendKeys(css(`input[name=newPassword]`), "Console-Test-Pw-42!"),
		chromedp.SendKeys(css(`[data-field=repeat]`), "Console-Test-Pw-42!"),
		chromedp.Click(css(`#set-password`)),
		chromedp.WaitVisible(css(`#role`)))
	if got := textOf(t, u2, `#role`); got != "Viewer" {
		t.Errorf("the imported viewer is shown as %q", got)
	}
}

// waitFor polls cond until it holds or limit passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %s", what, limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
