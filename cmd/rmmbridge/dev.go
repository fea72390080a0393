package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/devtools/devstack"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/devtools/sandboxes"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

func runDev(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o devstack.Options
	fs.StringVar(&o.APIAddr, "addr", "127.0.0.1:3000", "address of the local HTTP API")
	fs.StringVar(&o.RMM, "rmm", devstack.DefaultRMM, "RMM sandbox to start: "+sandboxes.Choices(vendorspec.KindRMM))
	fs.StringVar(&o.PSA, "psa", devstack.DefaultPSA, "PSA sandbox to start: "+sandboxes.Choices(vendorspec.KindPSA))
	fs.StringVar(&o.RMMAddr, "rmm-addr", "", "address of the RMM sandbox (default 127.0.0.1 on its own port: NinjaOne 8081)")
	fs.StringVar(&o.PSAAddr, "psa-addr", "", "address of the PSA sandbox (default 127.0.0.1 on its own port: ConnectWise 8082)")
	fs.StringVar(&o.Template, "template", "template.yaml", "SAM template to run")
	fs.StringVar(&o.StackName, "stack", "rmmbridge-dev", "stack name used for resource names")
	fs.Int64Var(&o.Seed, "seed", 1, "sandbox data seed")
	fs.IntVar(&o.Orgs, "orgs", 30, "RMM sandbox organizations")
	fs.IntVar(&o.Devices, "devices", 1200, "RMM sandbox devices")
	fs.IntVar(&o.DemoRequestsPerMinute, "budget", 6000, "the demo connections' requestsPerMinute (the sandboxes impose none); 0: each vendor's default, 1,200 a minute for ConnectWise, with which the demo's first import takes about 70 s")
	motoSQS := fs.Bool("moto-sqs", false, "serve SQS from moto instead of the in-memory fastsqs (moto's receives slow down with queue depth: a 1,200-device import takes minutes)")
	verbose := fs.Bool("v", false, "debug logs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("dev takes no arguments (got %q); did you mean -rmm or -psa?", fs.Args())
	}
	for _, c := range []struct {
		name string
		kind vendorspec.Kind
	}{{o.RMM, vendorspec.KindRMM}, {o.PSA, vendorspec.KindPSA}} {
		if _, ok := sandboxes.Get(c.name, c.kind); !ok {
			return fmt.Errorf("-%s %s: no such %s sandbox (choose one of %s)", c.kind, c.name, strings.ToUpper(string(c.kind)), sandboxes.Choices(c.kind))
		}
	}
	// fastsqs serves the queues (the import's bulk queues above all):
	// the SQS semantics tests keep running against moto.
	o.FastSQS = !*motoSQS
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	o.Logger = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(o.Logger)
	o.DevKey = getenv("RMMBRIDGE_DEV_API_KEY")
	o.DevAdminPassword = getenv("RMMBRIDGE_DEV_ADMIN_PASSWORD")
	o.Endpoint = getenv("AWS_ENDPOINT_URL")
	if o.Endpoint != "" {
		if err := motoserver.Ping(o.Endpoint); err != nil {
			return fmt.Errorf("AWS_ENDPOINT_URL is set but nothing answers there: %w", err)
		}
	} else {
		fmt.Fprintln(stdout, "starting moto (scripts/moto-server), the sandboxes and the local stack …")
	}
	if o.FastSQS {
		fmt.Fprintln(stdout, "SQS is served in memory by fastsqs (-moto-sqs for moto's)")
	}
	env, err := devstack.Start(ctx, o)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := env.Stop(sctx); err != nil {
			fmt.Fprintln(stderr, "stop:", err)
		}
	}()
	printBanner(stdout, env, o.DevKey != "", o.DevAdminPassword != "")
	go watchMailbox(ctx, stdout, env)
	<-ctx.Done()
	fmt.Fprintln(stdout, "\nstopping …")
	return nil
}

func printBanner(w io.Writer, env *devstack.Env, chosen, chosenAdmin bool) {
	source := "generated for this run; set RMMBRIDGE_DEV_API_KEY to choose one"
	if chosen {
		source = "from RMMBRIDGE_DEV_API_KEY"
	}
	api, key, iid := env.Stack.APIURL(), env.APIKey, env.IntegrationID
	moto := "the server at AWS_ENDPOINT_URL"
	if env.MotoLauncher != "" {
		moto = "started through " + env.MotoLauncher + ": transaction-safe DynamoDB"
	}
	fmt.Fprintf(w, `
rmmbridge is running locally
  console       %[1]s/  (sign in with the API key below, or as the demo admin)
  HTTP API      %[1]s
  API key       %[2]s  (%[3]s)
  tenant        t_demo
  integration   %[4]s  (%[10]s sandbox ↔ %[11]s sandbox)
  webhook       POST %[1]s/v1/webhooks/%[4]s/rmm  with  Authorization: Bearer %[5]s
  %-13[10]s %[6]s  (sandbox, provider %[12]s)
  %-13[11]s %[7]s  (sandbox, provider %[13]s)
  moto          %[8]s  (AWS_ENDPOINT_URL for aws cli / SDK calls)
                %[9]s

Try:
  curl -s %[1]s/v1/health
  curl -s -H "Authorization: Bearer %[2]s" %[1]s/v1/connections
  curl -s -H "Authorization: Bearer %[2]s" %[1]s/v1/integrations/%[4]s/organizations
  curl -s -X POST -H "Authorization: Bearer %[2]s" %[1]s/v1/integrations/%[4]s/organizations/1/match
  curl -s -i %[1]s/v1/connections                      # no key → 401
`, api, key, source, iid, env.WebhookSecret, env.RMM.BaseURL, env.PSA.BaseURL, env.MotoEndpoint, moto,
		env.RMM.Spec.DisplayName, env.PSA.Spec.DisplayName, env.RMM.Spec.Name, env.PSA.Spec.Name)
	printUsers(w, env, chosenAdmin)
	fmt.Fprintln(w, "\nCtrl-C stops everything.")
}
