package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxes"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// TestDevServesTheAPI runs `rmmbridge dev` as `make dev` does from a clean
// shell (in-process, on a free port, no AWS_ENDPOINT_URL: it starts its own
// moto, through the transaction-safe wrapper scripts/moto-server found from
// this package's directory) and calls it like a newcomer with curl would.
func TestDevServesTheAPI(t *testing.T) {
	wrapper, err := filepath.Abs(filepath.Join("..", "..", "scripts", "moto-server"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	getenv := func(k string) string {
		switch k {
		case "RMMBRIDGE_DEV_API_KEY":
			return "dev-key-for-the-cli-test"
		case "AWS_ENDPOINT_URL":
			return ""
		}
		return os.Getenv(k)
	}
	go func() {
		done <- run(ctx, []string{"dev", "-addr", "127.0.0.1:0", "-template", filepath.Join("..", "..", "template.yaml"),
			"-stack", motoserver.UniqueName("devtest"), "-rmm", "ninjaone", "-psa", "connectwise",
			"-rmm-addr", "127.0.0.1:0", "-psa-addr", "127.0.0.1:0", "-orgs", "5", "-devices", "50"}, getenv, pw, io.Discard)
		pw.Close()
	}()

	apiRE := regexp.MustCompile(`HTTP API\s+(http://127\.0\.0\.1:\d+)`)
	consoleRE := regexp.MustCompile(`console\s+(http://127\.0\.0\.1:\d+/)\s`)
	var console string
	adminRE := regexp.MustCompile(`^\s+demo admin\s+(\S+@\S+)$`)
	passwordRE := regexp.MustCompile(`^\s+password\s+(\S+)\s+\(`)
	var adminEmail, adminPassword string
	motoRE := regexp.MustCompile(`^\s+started through (\S+): transaction-safe DynamoDB$`)
	launcher := ""
	sc := bufio.NewScanner(pr)
	var api string
	deadline := time.After(90 * time.Second)
	lines := make(chan string)
	go func() {
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for banner := false; !banner; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("dev exited before serving (API %q, moto wrapper %q): %v", api, launcher, <-done)
			}
			banner = strings.HasPrefix(l, "Ctrl-C stops everything")
			if m := apiRE.FindStringSubmatch(l); m != nil {
				api = m[1]
			}
			if m := consoleRE.FindStringSubmatch(l); m != nil {
				console = m[1]
			}
			if m := motoRE.FindStringSubmatch(l); m != nil {
				launcher = m[1]
			}
			if m := adminRE.FindStringSubmatch(l); m != nil {
				adminEmail = m[1]
			}
			if m := passwordRE.FindStringSubmatch(l); m != nil {
				adminPassword = m[1]
			}
		case <-deadline:
			t.Fatalf("dev did not print its banner within 90 s (API %q, wrapper %q)", api, launcher)
		}
	}
	if api == "" {
		t.Fatal("dev's banner has no HTTP API address")
	}
	if console != api+"/" {
		t.Errorf("dev's banner gives the console at %q, want %q", console, api+"/")
	}
	if launcher != wrapper {
		t.Errorf("dev's moto runs through %q, want %q", launcher, wrapper)
	}
	go func() {
		for range lines {
		}
	}()

	tests := []struct {
		name, path, key string
		want            int
		wantBody        string
	}{
		{"health", "/v1/health", "", 200, `"status":"ok"`},
		{"no key", "/v1/connections", "", 401, ""},
		{"wrong key", "/v1/connections", "not-the-dev-key-at-all", 401, ""},
		{"dev key", "/v1/connections", "dev-key-for-the-cli-test", 200, `"items":`},
		{"the chosen RMM", "/v1/connections", "dev-key-for-the-cli-test", 200, `"provider":"ninjaone"`},
		{"the chosen PSA and its capabilities", "/v1/connections", "dev-key-for-the-cli-test", 200, `"provider":"connectwise"`},
		{"the demo PSA connection finds accounts by reference", "/v1/connections", "dev-key-for-the-cli-test", 200, `"accounts.findByRef"`},
		{"unknown route", "/v1/nope", "dev-key-for-the-cli-test", 404, ""},
		{"console", "/", "", 200, `<script type="module" src="/console/app.js">`},
		{"console module", "/console/app.js", "", 200, "import "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, api+tc.path, nil)
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want || !strings.Contains(string(b), tc.wantBody) {
				t.Errorf("GET %s = %d %s; want %d containing %q", tc.path, resp.StatusCode, b, tc.want, tc.wantBody)
			}
		})
	}
	// The banner says how to sign in as the demo admin: doing so gives a
	// token the API takes.
	body := strings.NewReader(`{"email":"` + adminEmail + `","password":"` + adminPassword + `"}`)
	resp, err := http.Post(api+"/v1/auth/login", "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ IDToken string }
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 || tok.IDToken == "" {
		t.Errorf("sign in as the printed demo admin %q = %d, %v", adminEmail, resp.StatusCode, err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodGet, api+"/v1/users", nil)
	req.Header.Set("Authorization", "Bearer "+tok.IDToken)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("GET /v1/users with the demo admin's token = %v, %v", resp, err)
	} else {
		resp.Body.Close()
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("dev returned %v after Ctrl-C", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("dev did not stop within 30 s of Ctrl-C")
	}
}

// TestSandboxFlagsAreChecked: a sandbox that the registry does not list,
// or of the other kind, is refused with the choices before anything
// starts, by dev, bench and sandbox alike.
func TestSandboxFlagsAreChecked(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"dev", "-psa", "kaseyapsa"}, "-psa kaseyapsa: no such PSA sandbox (choose one of " + sandboxes.Choices(vendorspec.KindPSA) + ")"},
		{[]string{"dev", "-rmm", "connectwise"}, "-rmm connectwise: no such RMM sandbox (choose one of " + sandboxes.Choices(vendorspec.KindRMM) + ")"},
		{[]string{"dev", "ninjaone"}, "dev takes no arguments"},
		{[]string{"bench", "--rmm", "kaseyarmm"}, "--rmm kaseyarmm: no such sandbox (choose one of " + sandboxes.Choices(vendorspec.KindRMM) + ")"},
		{[]string{"sandbox", "kaseyapsa"}, `no sandbox "kaseyapsa"; usage: rmmbridge sandbox ` + sandboxes.Choices("")},
		{[]string{"sandbox", "connectwise", "--rmm", "connectwise"}, "--rmm connectwise: no such RMM sandbox"},
		{[]string{"sandbox"}, "usage: rmmbridge sandbox " + sandboxes.Choices("")},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			err := run(t.Context(), tc.args, func(string) string { return "" }, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
}

// TestSandboxCommand serves each sandbox of the registry with
// `rmmbridge sandbox NAME` and checks it answers its demo credentials.
func TestSandboxCommand(t *testing.T) {
	for _, tc := range []struct{ name, path, user, pass string }{
		{"ninjaone", "/ws/oauth/token", "", ""},
		{"connectwise", "/company/companies?pageSize=1", "rmmbridge+dev-public", "dev-private"},
		{"dattormm", "/auth/oauth/token", "public-client", "public"},
		{"halopsa", "/auth/token", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			pr, pw := io.Pipe()
			done := make(chan error, 1)
			go func() {
				done <- run(ctx, []string{"sandbox", tc.name, "--port", "0", "--orgs", "3", "--devices", "9"}, os.Getenv, pw, io.Discard)
				pw.Close()
			}()
			line, err := bufio.NewReader(pr).ReadString('\n')
			if err != nil {
				t.Fatalf("no banner: %v (%v)", err, <-done)
			}
			go func() { _, _ = io.Copy(io.Discard, pr) }()
			m := regexp.MustCompile(`sandbox on (http://127\.0\.0\.1:\d+\S*) \(credentials ([^)]*)\)`).FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("banner %q has no URL and credentials", line)
			}
			var req *http.Request
			switch tc.name {
			case "halopsa":
				req, _ = http.NewRequest(http.MethodPost, strings.TrimSuffix(m[1], "/")+tc.path,
					strings.NewReader("grant_type=client_credentials&client_id=dev-halo-client&client_secret=dev-halo-secret&scope=all"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			case "ninjaone":
				req, _ = http.NewRequest(http.MethodPost, strings.TrimSuffix(m[1], "/")+tc.path,
					strings.NewReader("grant_type=client_credentials&client_id=dev-ninja-client&client_secret=dev-ninja-secret&scope=monitoring"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			case "dattormm":
				req, _ = http.NewRequest(http.MethodPost, strings.TrimSuffix(m[1], "/")+tc.path,
					strings.NewReader("grant_type=password&username=dev-datto-api-key&password=dev-datto-api-secret"))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(tc.user, tc.pass)
			default:
				req, _ = http.NewRequest(http.MethodGet, m[1]+tc.path, nil)
				req.SetBasicAuth(tc.user, tc.pass)
				req.Header.Set("clientId", "dev-client-id")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s with the demo credentials (%s) = %d, want 200", tc.path, m[2], resp.StatusCode)
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("sandbox returned %v after Ctrl-C", err)
			}
		})
	}
}
