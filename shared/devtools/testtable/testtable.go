// Package testtable gives a test the application's DynamoDB table exactly
// as template.yaml declares it — keys, attribute definitions, the GSI1
// index, time-to-live — in the test's moto server, created the way the
// local stack creates it (localrun.CreateTable). Test packages call it
// instead of writing the table's shape by hand, so a change to the
// template's table reaches every test at once.
package testtable

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rmmbridge/rmmbridge/shared/devtools/localrun"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/devtools/samtemplate"
)

// LogicalID is the template's table resource.
const LogicalID = "Table"

// template is template.yaml, parsed once per test binary.
var template = sync.OnceValues(func() (*samtemplate.Template, error) {
	dir, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return samtemplate.ParseFile(filepath.Join(dir, "template.yaml"))
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil, fmt.Errorf("go.mod not found above the test directory")
		}
		dir = parent
	}
})

// Spec returns template.yaml's table resource.
func Spec(t testing.TB) samtemplate.Table {
	t.Helper()
	tpl, err := template()
	if err != nil {
		t.Fatalf("read template.yaml: %v", err)
	}
	for _, tb := range tpl.Tables {
		if tb.LogicalID == LogicalID {
			return tb
		}
	}
	t.Fatalf("template.yaml has no %s resource", LogicalID)
	return samtemplate.Table{}
}

// Admin is what Create needs of the DynamoDB client (*dynamodb.Client
// satisfies it).
type Admin interface {
	localrun.TableAdmin
	DeleteTable(context.Context, *dynamodb.DeleteTableInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteTableOutput, error)
}

// Create creates the template's table through client (a client of the
// test's moto server) under a unique name starting with prefix, deletes it
// when the test ends, and returns its name.
func Create(t testing.TB, client Admin, prefix string) string {
	t.Helper()
	name := motoserver.UniqueName(prefix)
	if _, err := localrun.CreateTable(context.Background(), client, Spec(t), name); err != nil {
		t.Fatalf("create the template's table: %v", err)
	}
	t.Cleanup(func() {
		if _, err := client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			t.Errorf("delete table %s: %v", name, err)
		}
	})
	return name
}
