// Package dynamotest gives tests a fresh single-table store in moto: a
// table with the pk/sk key schema every rmmbridge item uses, dropped when
// the test ends. For tests only.
package dynamotest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
)

// Store creates a table named after prefix (made unique) in the test's
// moto server and returns a store on it.
func Store(t testing.TB, prefix string) *dynamostore.Store {
	t.Helper()
	return StoreOn(t, motoserver.ForTest(t), prefix)
}

// SafeStore is Store on moto behind scripts/moto-server
// (motoserver.SafeForTest): conditional writes exclude each other as in
// DynamoDB, which budget leases and claims under concurrency rely on.
func SafeStore(t testing.TB, prefix string) *dynamostore.Store {
	t.Helper()
	return StoreOn(t, motoserver.SafeForTest(t), prefix)
}

// StoreOn is Store on the DynamoDB endpoint of cfg (e.g. moto behind
// scripts/moto-server).
func StoreOn(t testing.TB, cfg aws.Config, prefix string) *dynamostore.Store {
	t.Helper()
	client := dynamodb.NewFromConfig(cfg)
	table := motoserver.UniqueName(prefix)
	str := func(name string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: types.ScalarAttributeTypeS}
	}
	_, err := client.CreateTable(context.Background(), &dynamodb.CreateTableInput{
		TableName: aws.String(table), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{str("pk"), str("sk")},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		},
	})
	if err != nil {
		t.Fatalf("create table %s: %v", table, err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	return dynamostore.New(client, table)
}
