package browsertest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rmmbridge/rmmbridge/shared/devtools/devstack"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
)

// env is the local stack every test drives; browserCtx the Chromium they
// share (each test opens its own tab).
var (
	env        *devstack.Env
	browserCtx context.Context
)

// chromiumFlags are the flags the issue asks for: headless, no sandbox (root
// in CI), nothing that reaches the network on its own.
var chromiumFlags = []chromedp.ExecAllocatorOption{
	chromedp.NoFirstRun,
	chromedp.NoDefaultBrowserCheck,
	chromedp.Headless,
	chromedp.NoSandbox,
	chromedp.DisableGPU,
	chromedp.Flag("disable-background-networking", true),
	chromedp.Flag("disable-component-update", true),
	chromedp.Flag("disable-sync", true),
	chromedp.Flag("disable-default-apps", true),
	chromedp.Flag("disable-extensions", true),
	chromedp.Flag("no-proxy-server", true),
	chromedp.WindowSize(1280, 800),
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	path, err := exec.LookPath("chromium")
	if err != nil {
		fmt.Fprintln(os.Stderr, "browsertest: chromium is not installed; `make test` (make chromium) installs Debian's package:", err)
		return 1
	}
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "browsertest:", err)
		return 1
	}
	ctx := context.Background()
	env, err = devstack.Start(ctx, devstack.Options{
		Template:  filepath.Join(root, "template.yaml"),
		StackName: motoserver.UniqueName("console"),
		APIAddr:   "127.0.0.1:0", RMMAddr: "127.0.0.1:0", PSAAddr: "127.0.0.1:0",
		Orgs: 60, Devices: 300,
		PollWait: 200 * time.Millisecond,
		Logger:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "browsertest: start the local stack:", err)
		return 1
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = env.Stop(sctx)
	}()
	opts := append([]chromedp.ExecAllocatorOption{chromedp.ExecPath(path)}, chromiumFlags...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	var cancelBrowser context.CancelFunc
	browserCtx, cancelBrowser = chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browserCtx); err != nil { // starts Chromium
		fmt.Fprintln(os.Stderr, "browsertest: start chromium:", err)
		return 1
	}
	return m.Run()
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above %s", dir)
		}
		dir = parent
	}
}

// tab opens a browser tab for t at 1280×800; when t fails, a screenshot of
// the page is saved and its path logged.
func tab(t *testing.T) context.Context {
	t.Helper()
	tabCtx, cancel := chromedp.NewContext(browserCtx)
	if err := chromedp.Do(tabCtx, chromedp.EmulateViewport(1280, 800)); err != nil {
		cancel()
		t.Fatalf("open a Chromium tab: %v", err)
	}
	ctx, cancelT := context.WithTimeout(tabCtx, 90*time.Second)
	t.Cleanup(func() {
		if t.Failed() {
			saveFailure(t, tabCtx)
		}
		cancelT()
		cancel()
	})
	return ctx
}

func saveFailure(t *testing.T, ctx context.Context) {
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Logf("no failure screenshot: %v", err)
		return
	}
	dir := filepath.Join(os.TempDir(), "rmmbridge-console-failures")
	_ = os.MkdirAll(dir, 0o755)
	name := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+".png")
	if err := os.WriteFile(name, png, 0o644); err != nil {
		t.Logf("no failure screenshot: %v", err)
		return
	}
	t.Logf("screenshot of the failure: %s", name)
}

// stepTimeout bounds one do step (a wait for an element that never
// comes fails in this time, not the whole test's).
const stepTimeout = 30 * time.Second

// do runs browser actions, failing the test with what was being done.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// signIn opens the console and signs in with an API key.
func signIn(t *testing.T, ctx context.Context, key string) {
	t.Helper()
	do(t, ctx, "sign in with an API key",
		chromedp.Navigate(env.Stack.APIURL()+"/"),
		chromedp.WaitVisible(css(`input[name=apiKey]`)),
		chromedp.SendKeys(css(`input[name=apiKey]`), key),
		chromedp.Click(css(`#signin-key`)),
		chromedp.WaitVisible(css(`#role`)),
		// The demo integration, whatever others a test created.
		choose(`#integration`, env.IntegrationID),
		chromedp.WaitVisible(css(`#role`)))
}

// goTo follows a navigation link and waits for the screen's heading.
func goTo(t *testing.T, ctx context.Context, screen string) {
	t.Helper()
	do(t, ctx, "open "+screen, chromedp.Click(css(`#nav-`+screen)), chromedp.WaitVisible(css(`#nav-`+screen+`[aria-current=page]`)))
}

// textOf returns an element's text (the first match).
func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return waitText(t, ctx, sel, "", 10*time.Second)
}

// waitText waits until the element sel shows text containing want.
func waitText(t *testing.T, ctx context.Context, sel, want string, limit time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(limit)
	last := ""
	for {
		// null (an error here) while the element is absent.
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? e.innerText : null; })()`, sel)))
		if err == nil && strings.Contains(s, want) {
			return s
		}
		if err == nil {
			last = s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s shows %q after %s, want it to contain %q", sel, last, limit, want)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// count returns how many elements match sel.
func count(t *testing.T, ctx context.Context, sel string) int {
	t.Helper()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
	if err != nil {
		t.Fatalf("count %s: %v", sel, err)
	}
	return n
}

// texts returns the text of every element matching sel.
func texts(t *testing.T, ctx context.Context, sel string) []string {
	t.Helper()
	out, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](fmt.Sprintf(`[...document.querySelectorAll(%q)].map(e => e.innerText)`, sel)))
	if err != nil {
		t.Fatalf("read all %s: %v", sel, err)
	}
	return out
}

// acceptDialogs makes confirm() answer OK in this tab.
func acceptDialogs(t *testing.T, ctx context.Context) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.confirm = () => true; true`)); err != nil {
		t.Fatalf("accept dialogs: %v", err)
	}
}

// css is a CSS selector (a plain string would be a DOM text search).
func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// eval evaluates a JavaScript expression in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// js runs a JavaScript statement in the page (its value is dropped).
func js(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool]("(() => { "+expr+" })(), true")(ctx, tg)
		return err
	})
}

// choose sets a select's value and fires its change event, as a person
// picking an option does.
func choose(sel, value string) chromedp.Action[chromedp.Void] {
	return js(fmt.Sprintf(`const s = document.querySelector(%q); s.value = %q; s.dispatchEvent(new Event('change', {bubbles: true}));`, sel, value))
}
