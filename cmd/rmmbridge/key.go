package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/tenant"
)

// runKey creates a tenant and its first admin key in a deployed table, with
// the caller's AWS credentials. The key is printed once and never stored.
func runKey(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return fmt.Errorf(`usage: rmmbridge key create -table TABLE -tenant-name NAME [-tenant ID] [-role admin|operator|viewer]`)
	}
	fs := flag.NewFlagSet("key create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	table := fs.String("table", "", "DynamoDB table name (the stack's TableName output)")
	name := fs.String("tenant-name", "", "name of a new tenant")
	tenantID := fs.String("tenant", "", "existing tenant id (instead of -tenant-name)")
	role := fs.String("role", tenant.RoleAdmin, "role of the key")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *table == "" || (*name == "") == (*tenantID == "") {
		return fmt.Errorf("give -table and exactly one of -tenant-name or -tenant")
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS config: %w", err)
	}
	svc := tenant.NewService(dynamostore.NewTenants(dynamostore.New(dynamodb.NewFromConfig(cfg), *table)))
	id := *tenantID
	if id == "" {
		t, err := svc.CreateTenant(ctx, *name)
		if err != nil {
			return err
		}
		id = t.ID
	}
	key, k, err := svc.IssueKey(ctx, id, *role, "cli")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "tenant %s\nkey id %s (role %s)\nAPI key (shown once): %s\n", id, k.ID, k.Role, key)
	return nil
}
