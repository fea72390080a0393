package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rmmbridge/rmmbridge/shared/devtools/lambdaset"
	"github.com/rmmbridge/rmmbridge/shared/devtools/localrun"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/devtools/rie"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/fnenv"
)

// devFixtureKey is the API key events/authorizer-request.json carries.
const devFixtureKey = "rmb_devkey_example"

// runInvoke is `sam local invoke` without Docker: it builds one function's
// bootstrap the way the deploy does (for this machine) and invokes it once
// under AWS's runtime interface emulator, with its template environment
// against the local stack's moto: the one at AWS_ENDPOINT_URL (a running
// `make dev`: same stack name, so the same table and queues) or one
// started for this call with the demo tenant seeded.
func runInvoke(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fn := fs.String("fn", "", "function to invoke, a directory of functions/: "+functionDirs())
	event := fs.String("event", "", "event file, e.g. events/api-health.json")
	template := fs.String("template", "template.yaml", "SAM template")
	stack := fs.String("stack", "rmmbridge-dev", "stack name used for resource names (make dev's by default)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	id := rie.LogicalID(*fn)
	if id == "" {
		return fmt.Errorf("-fn %q: no such function (choose one of %s)", *fn, functionDirs())
	}
	if *event == "" {
		return fmt.Errorf("-event is required, e.g. -event events/api-health.json")
	}
	payload, err := os.ReadFile(*event)
	if err != nil {
		return fmt.Errorf("read event: %w", err)
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	endpoint := getenv("AWS_ENDPOINT_URL")
	started := false
	if endpoint != "" {
		if err := motoserver.Ping(endpoint); err != nil {
			return fmt.Errorf("AWS_ENDPOINT_URL is set but nothing answers there: %w", err)
		}
	} else {
		m, err := motoserver.StartWith(ctx, nil, motoserver.StartOptions{SafeTransactions: true})
		if err != nil {
			return err
		}
		defer m.Stop()
		endpoint, started = m.Endpoint, true
	}
	cfg, err := motoserver.AWSConfig(ctx, endpoint)
	if err != nil {
		return err
	}
	envs, err := localrun.Environments(ctx, localrun.Options{
		TemplatePath: *template, AWS: cfg, StackName: *stack,
		// As `make dev`: the functions may call the sandboxes on loopback.
		ExtraEnv: map[string]string{fnenv.AllowLoopbackEnv: "true"},
	})
	if err != nil {
		return err
	}
	fe, ok := envs[id]
	if !ok {
		return fmt.Errorf("%s has no %s", *template, id)
	}
	if started {
		if _, err := lambdaset.SeedDemo(ctx, cfg, fe.Env["TABLE_NAME"], devFixtureKey); err != nil {
			return err
		}
	}
	emulator, err := rie.EmulatorPath(ctx, root)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "building functions/%s for this machine (CGO_ENABLED=0, -tags lambda.norpc) …\n", *fn)
	bins, err := rie.Build(ctx, root, filepath.Join(root, "build", "local"), "./functions/"+*fn)
	if err != nil {
		return err
	}
	em, out, invokeErr := rie.StartInvoke(ctx, rie.Options{
		Emulator: emulator, Bootstrap: bins["./functions/"+*fn],
		Env: rie.RuntimeEnv(fe.Env, aws.ToString(cfg.BaseEndpoint)), Timeout: fe.Timeout,
	}, "", payload)
	if em == nil {
		return invokeErr
	}
	defer em.Stop()
	fmt.Fprint(stderr, em.Output())
	if invokeErr != nil {
		return invokeErr
	}
	fmt.Fprintf(stdout, "%s\n", out)
	if d, err := em.InitDuration(); err == nil {
		fmt.Fprintf(stderr, "init %.1f ms under the emulator\n", float64(d.Microseconds())/1000)
	}
	return nil
}

func functionDirs() string {
	var names []string
	for _, f := range rie.Functions {
		names = append(names, f.Dir)
	}
	return strings.Join(names, ", ")
}

// moduleRoot is the directory holding go.mod, at or above the working
// directory.
func moduleRoot() (string, error) {
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
			return "", fmt.Errorf("go.mod not found above %s: run from the repository", dir)
		}
		dir = parent
	}
}
