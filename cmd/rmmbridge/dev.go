package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/localstack"
	"github.com/rmmbridge/rmmbridge/shared/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/wire"
)

func runDev(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:3000", "address of the local HTTP API")
	tpl := fs.String("template", "template.yaml", "SAM template to run")
	stackName := fs.String("stack", "rmmbridge-dev", "stack name used for resource names")
	verbose := fs.Bool("v", false, "debug logs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)

	endpoint := getenv("AWS_ENDPOINT_URL")
	if endpoint == "" {
		fmt.Fprintln(stdout, "starting moto_server …")
		srv, err := motoserver.Start(ctx, nil)
		if err != nil {
			return err
		}
		defer srv.Stop()
		endpoint = srv.Endpoint
	} else if err := motoserver.Ping(endpoint); err != nil {
		return fmt.Errorf("AWS_ENDPOINT_URL is set but nothing answers there: %w", err)
	}
	cfg, err := motoserver.AWSConfig(ctx, endpoint)
	if err != nil {
		return err
	}
	stack, err := localstack.Start(ctx, localstack.Options{
		TemplatePath: *tpl,
		AWS:          cfg,
		StackName:    *stackName,
		Functions:    wire.Functions(),
		APIAddr:      *addr,
		Logger:       log,
	})
	if err != nil {
		return fmt.Errorf("start local stack: %w", err)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := stack.Stop(sctx); err != nil {
			fmt.Fprintln(stderr, "stop local stack:", err)
		}
	}()
	key, err := wire.SeedDemo(ctx, cfg, stack.TableName("Table"), getenv("RMMBRIDGE_DEV_API_KEY"))
	if err != nil {
		return err
	}
	printBanner(stdout, stack.APIURL(), endpoint, key, getenv("RMMBRIDGE_DEV_API_KEY") != "")
	<-ctx.Done()
	fmt.Fprintln(stdout, "\nstopping …")
	return nil
}

func printBanner(w io.Writer, api, moto, key string, chosen bool) {
	source := "generated for this run; set RMMBRIDGE_DEV_API_KEY to choose one"
	if chosen {
		source = "from RMMBRIDGE_DEV_API_KEY"
	}
	fmt.Fprintf(w, `
rmmbridge is running locally
  HTTP API   %[1]s
  moto       %[2]s  (AWS_ENDPOINT_URL for aws cli / SDK calls)
  tenant     t_demo
  API key    %[3]s  (%[4]s)

Try:
  curl -s %[1]s/v1/health
  curl -s -H "Authorization: Bearer %[3]s" %[1]s/v1/connections
  curl -s -i %[1]s/v1/connections                      # no key → 401

Ctrl-C stops everything.
`, api, moto, key, source)
}
