// Package devstack assembles rmmbridge's whole local environment: the
// template-driven local stack on moto, an RMM and a PSA sandbox (NinjaOne
// and ConnectWise unless told otherwise; any sandbox of
// shared/devtools/sandboxes) seeded with related demo data, and a demo
// tenant with an API key, an admin user, a connection to each sandbox and
// an integration between them — created through the HTTP API itself, so
// "Test & save" runs as it would for a user. `rmmbridge dev`, the
// end-to-end tests and the benchmark all start it the same way.
package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rmmbridge/rmmbridge/shared/devtools/fastsqs"
	"github.com/rmmbridge/rmmbridge/shared/devtools/lambdaset"
	"github.com/rmmbridge/rmmbridge/shared/devtools/localrun"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxes"
	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxspec"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/fnenv"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// The default sandboxes.
const (
	DefaultRMM = "ninjaone"
	DefaultPSA = "connectwise"
)

// Options configure the environment. Zero values give `make dev`'s setup.
type Options struct {
	Template  string // default "template.yaml"
	StackName string // default "rmmbridge-dev"
	APIAddr   string // default 127.0.0.1:3000
	// RMM and PSA name the sandboxes to start (shared/devtools/sandboxes;
	// default DefaultRMM and DefaultPSA).
	RMM, PSA string
	// RMMAddr and PSAAddr are where they listen (default 127.0.0.1 on
	// their spec's default port: NinjaOne 8081, ConnectWise 8082).
	RMMAddr, PSAAddr string
	// Endpoint is a running moto server; empty starts one.
	Endpoint string
	Seed     int64 // sandbox seed, default 1
	Orgs     int   // RMM organizations, default 30
	Devices  int   // RMM devices, default 1200
	DevKey   string
	// DevAdminPassword is the demo admin's password (RMMBRIDGE_DEV_ADMIN_PASSWORD);
	// empty: a new random one. Mailbox is the dev mailbox file; empty: one
	// in a temporary directory (see Users).
	DevAdminPassword string
	Mailbox          string
	Logger           *slog.Logger
	// AdjustRMM and AdjustPSA change the sandboxes' options before they
	// start (latency, failure injection, rate limits).
	AdjustRMM, AdjustPSA func(*sandboxspec.Options)
	// DemoRequestsPerMinute, when positive, is the demo connections'
	// requestsPerMinute setting (where their spec sets none): the
	// sandboxes impose no budget, so `make dev` can show the stack's own
	// speed rather than a vendor's default budget. Zero leaves the
	// vendor's default (ConnectWise and NinjaOne: 1,200 a minute), as the
	// benchmarks and tests run.
	DemoRequestsPerMinute int
	// NoPSAAssets leaves the PSA sandbox without assets; by default it
	// holds some for the RMM's devices (linked by device id, by serial
	// only, and serial ties), as an MSP's PSA does after years of
	// hand-made assets.
	NoPSAAssets bool
	// PollWait is the local stack's SQS long-poll wait.
	PollWait time.Duration
	// ExtraEnv is added to every function's environment.
	ExtraEnv map[string]string
	// FastSQS serves SQS from an in-memory fastsqs instead of moto, for
	// bulk runs (the benchmark) where moto's receives slow down with queue
	// depth; DynamoDB and Secrets Manager stay on moto. The process's
	// AWS_ENDPOINT_URL_SQS points every SQS client made until Stop at it
	// (Stop restores the variable), so run one such Env at a time.
	FastSQS bool
	// PlainMoto starts moto_server as is (when Endpoint is empty) instead
	// of the repository's transaction-safe wrapper scripts/moto-server
	// (motoserver.StartOptions.SafeTransactions), which `make dev`, the
	// end-to-end and fault tests and the benchmark run: with moto as is a
	// transaction costs time in proportion to the table, and a cancelled
	// one can undo concurrent writes (lost counter increments). It has no
	// effect on a moto given by Endpoint.
	PlainMoto bool
}

// Env is a running environment.
type Env struct {
	Stack        *localrun.Stack
	AWS          aws.Config
	MotoEndpoint string
	// MotoLauncher is the wrapper the moto Start started runs through
	// (scripts/moto-server), "" for plain moto or one given by Endpoint.
	MotoLauncher string
	// RMM and PSA are the running sandboxes.
	RMM           *RMMSandbox
	PSA           *PSASandbox
	APIKey        string
	RMMConnection string
	PSAConnection string
	IntegrationID string
	WebhookSecret string
	// FastSQS is the in-memory SQS when Options.FastSQS is set (its Stats
	// count the queue traffic), else nil.
	FastSQS *fastsqs.Server
	// Users is the user pool, the dev mailbox and the demo admin (users.go).
	Users Users

	moto          *motoserver.Server
	restoreSQSEnv func() error
}

func (o *Options) defaults() {
	if o.Template == "" {
		o.Template = "template.yaml"
	}
	if o.StackName == "" {
		o.StackName = "rmmbridge-dev"
	}
	if o.APIAddr == "" {
		o.APIAddr = "127.0.0.1:3000"
	}
	if o.RMM == "" {
		o.RMM = DefaultRMM
	}
	if o.PSA == "" {
		o.PSA = DefaultPSA
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Orgs == 0 {
		o.Orgs = 30
	}
	if o.Devices == 0 {
		o.Devices = 1200
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	}
}

// RMMSandbox is the running RMM sandbox.
type RMMSandbox struct {
	sandboxspec.RMM
	Spec sandboxspec.Spec
	// URL is the server's address, BaseURL the connection's base URL.
	URL, BaseURL string
}

// PSASandbox is the running PSA sandbox.
type PSASandbox struct {
	sandboxspec.PSA
	Spec sandboxspec.Spec
	// URL is the server's address, BaseURL the connection's base URL.
	URL, BaseURL string
}

// sandboxOf finds the named sandbox of kind k.
func sandboxOf(name string, k vendorspec.Kind) (sandboxspec.Spec, error) {
	spec, ok := sandboxes.Get(name, k)
	if !ok {
		return sandboxspec.Spec{}, fmt.Errorf("no %s sandbox %q (choose one of %s)", k, name, sandboxes.Choices(k))
	}
	return spec, nil
}

// addrOr returns addr, or 127.0.0.1 on the spec's default port.
func addrOr(addr string, spec sandboxspec.Spec) string {
	if addr != "" {
		return addr
	}
	return fmt.Sprintf("127.0.0.1:%d", spec.DefaultPort)
}

// Start brings the environment up. On error everything already started is
// stopped.
func Start(ctx context.Context, o Options) (_ *Env, err error) {
	o.defaults()
	env := &Env{}
	defer func() {
		if err != nil {
			_ = env.Stop(context.Background())
		}
	}()
	env.MotoEndpoint = o.Endpoint
	if env.MotoEndpoint == "" {
		if env.moto, err = motoserver.StartWith(ctx, nil, motoserver.StartOptions{SafeTransactions: !o.PlainMoto}); err != nil {
			return nil, err
		}
		env.MotoEndpoint, env.MotoLauncher = env.moto.Endpoint, env.moto.Launcher
	}
	if o.FastSQS {
		if env.FastSQS, err = fastsqs.Start("127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("start fastsqs: %w", err)
		}
		// The SDK's service-specific endpoint variable wins over the moto
		// endpoint motoserver.AWSConfig puts on the config.
		if env.restoreSQSEnv, err = setEnv(sqsEndpointEnv, env.FastSQS.URL()); err != nil {
			return nil, err
		}
	}
	if env.AWS, err = motoserver.AWSConfig(ctx, env.MotoEndpoint); err != nil {
		return nil, err
	}

	if err := env.startSandboxes(o); err != nil {
		return nil, err
	}

	extra, err := env.mailboxEnv(o)
	if err != nil {
		return nil, err
	}
	extra[fnenv.AllowLoopbackEnv] = "true"
	for k, v := range o.ExtraEnv {
		extra[k] = v
	}
	env.Stack, err = localrun.Start(ctx, localrun.Options{
		TemplatePath: o.Template, AWS: env.AWS, StackName: o.StackName, Functions: lambdaset.Functions(),
		ExtraEnv: extra, APIAddr: o.APIAddr, Logger: o.Logger, PollWait: o.PollWait,
	})
	if err != nil {
		return nil, fmt.Errorf("start local stack: %w", err)
	}
	if env.APIKey, err = lambdaset.SeedDemo(ctx, env.AWS, env.Stack.TableName("Table"), o.DevKey); err != nil {
		return nil, err
	}
	if err := env.seedIntegration(ctx, o.DemoRequestsPerMinute); err != nil {
		return nil, fmt.Errorf("seed demo connections: %w", err)
	}
	if err := env.seedUsers(ctx, o); err != nil {
		return nil, err
	}
	return env, nil
}

// startSandboxes starts the RMM sandbox, then the PSA sandbox related to
// its data.
func (e *Env) startSandboxes(o Options) error {
	rspec, err := sandboxOf(o.RMM, vendorspec.KindRMM)
	if err != nil {
		return err
	}
	pspec, err := sandboxOf(o.PSA, vendorspec.KindPSA)
	if err != nil {
		return err
	}
	ropt := sandboxspec.Options{Seed: o.Seed, Orgs: o.Orgs, Devices: o.Devices, Logger: o.Logger}
	if o.AdjustRMM != nil {
		o.AdjustRMM(&ropt)
	}
	e.RMM = &RMMSandbox{RMM: rspec.NewRMM(ropt), Spec: rspec}
	if e.RMM.URL, err = e.RMM.Start(addrOr(o.RMMAddr, rspec)); err != nil {
		e.RMM = nil
		return fmt.Errorf("start the %s sandbox: %w", rspec.DisplayName, err)
	}
	e.RMM.BaseURL = e.RMM.URL + rspec.BasePath
	data := e.RMM.Data()
	// The PSA sandbox keeps no request log here (its requests are in
	// the stack's own log), as before sandboxes were specs.
	popt := sandboxspec.Options{Seed: o.Seed, Related: &data, NoAssets: o.NoPSAAssets}
	if o.AdjustPSA != nil {
		o.AdjustPSA(&popt)
	}
	e.PSA = &PSASandbox{PSA: pspec.NewPSA(popt), Spec: pspec}
	if e.PSA.URL, err = e.PSA.Start(addrOr(o.PSAAddr, pspec)); err != nil {
		e.PSA = nil
		return fmt.Errorf("start the %s sandbox: %w", pspec.DisplayName, err)
	}
	e.PSA.BaseURL = e.PSA.URL + pspec.BasePath
	return nil
}

// seedIntegration creates (or finds, on a re-run against the same moto)
// the demo connections and integration through the API, and rotates the
// webhook secret so this run can print it.
// demoSettings are a demo connection's settings: its sandbox spec's, plus
// requestsPerMinute = budget when budget is positive and the spec sets
// none. The spec's map is not changed.
func demoSettings(spec map[string]any, budget int) map[string]any {
	out := make(map[string]any, len(spec)+1)
	for k, v := range spec {
		out[k] = v
	}
	if _, set := out[vendorspec.RequestsPerMinuteSetting]; !set && budget > 0 {
		out[vendorspec.RequestsPerMinuteSetting] = budget
	}
	return out
}

func (e *Env) seedIntegration(ctx context.Context, demoBudget int) error {
	var list struct {
		Items []struct{ ID, Name string } `json:"items"`
	}
	if err := e.call(ctx, http.MethodGet, "/v1/connections?limit=500", nil, &list); err != nil {
		return err
	}
	byName := map[string]string{}
	for _, c := range list.Items {
		byName[c.Name] = c.ID
	}
	ensure := func(name string, body map[string]any) (string, error) {
		if id, ok := byName[name]; ok {
			return id, nil
		}
		var out struct{ ID string }
		if err := e.call(ctx, http.MethodPost, "/v1/connections", body, &out); err != nil {
			return "", fmt.Errorf("create connection %q: %w", name, err)
		}
		return out.ID, nil
	}
	var err error
	for _, c := range []struct {
		spec sandboxspec.Spec
		url  string
		id   *string
	}{{e.RMM.Spec, e.RMM.BaseURL, &e.RMMConnection}, {e.PSA.Spec, e.PSA.BaseURL, &e.PSAConnection}} {
		name := c.spec.DisplayName + " (sandbox)"
		body := map[string]any{"name": name, "kind": string(c.spec.Kind), "provider": c.spec.Name,
			"baseUrl": c.url, "credentials": c.spec.Credentials}
		if settings := demoSettings(c.spec.Settings, demoBudget); len(settings) > 0 {
			body["settings"] = settings
		}
		if *c.id, err = ensure(name, body); err != nil {
			return err
		}
	}
	var ints struct {
		Items []struct{ ID, Name string } `json:"items"`
	}
	if err := e.call(ctx, http.MethodGet, "/v1/integrations?limit=500", nil, &ints); err != nil {
		return err
	}
	for _, in := range ints.Items {
		if in.Name == "Demo integration" {
			e.IntegrationID = in.ID
		}
	}
	var created struct {
		ID      string
		Webhook struct{ Secret string }
	}
	var rotated struct{ Secret string }
	if e.IntegrationID == "" {
		settings := map[string]any{"autoCreateAccounts": true}
		for _, spec := range []sandboxspec.Spec{e.RMM.Spec, e.PSA.Spec} {
			for k, v := range spec.IntegrationSettings {
				settings[k] = v
			}
		}
		err = e.call(ctx, http.MethodPost, "/v1/integrations", map[string]any{"name": "Demo integration",
			"rmmConnectionId": e.RMMConnection, "psaConnectionId": e.PSAConnection, "settings": settings}, &created)
	} else {
		err = e.call(ctx, http.MethodPost, "/v1/integrations/"+e.IntegrationID+"/webhook-secret", nil, &rotated)
		created.ID, created.Webhook.Secret = e.IntegrationID, rotated.Secret
	}
	if err != nil {
		return fmt.Errorf("create demo integration: %w", err)
	}
	e.IntegrationID, e.WebhookSecret = created.ID, created.Webhook.Secret
	return nil
}

// call sends a JSON request to the local API with the demo key.
func (e *Env) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.Stack.APIURL()+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+e.APIKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// Stop stops everything Start started.
func (e *Env) Stop(ctx context.Context) error {
	var errs []error
	if e.Stack != nil {
		errs = append(errs, e.Stack.Stop(ctx))
	}
	if e.PSA != nil {
		errs = append(errs, e.PSA.Close())
	}
	if e.RMM != nil {
		errs = append(errs, e.RMM.Close())
	}
	if e.FastSQS != nil {
		errs = append(errs, e.FastSQS.Close())
	}
	if e.restoreSQSEnv != nil {
		errs = append(errs, e.restoreSQSEnv())
		e.restoreSQSEnv = nil
	}
	if e.moto != nil {
		e.moto.Stop()
	}
	errs = append(errs, e.removeMailbox())
	return errors.Join(errs...)
}

// sqsEndpointEnv is the SDK's SQS-only endpoint variable.
const sqsEndpointEnv = "AWS_ENDPOINT_URL_SQS"

// setEnv sets a process environment variable and returns a function that
// puts back its previous state.
func setEnv(key, value string) (func() error, error) {
	prev, had := os.LookupEnv(key)
	if err := os.Setenv(key, value); err != nil {
		return nil, fmt.Errorf("set %s: %w", key, err)
	}
	return func() error {
		if had {
			return os.Setenv(key, prev)
		}
		return os.Unsetenv(key)
	}, nil
}
