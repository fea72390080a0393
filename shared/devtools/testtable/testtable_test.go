package testtable_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/devtools/testtable"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
)

// TestCreateIsTheTemplateTable: the table a test gets has the keys, the
// index and the time-to-live the store's code relies on, as template.yaml
// declares them.
func TestCreateIsTheTemplateTable(t *testing.T) {
	cfg := motoserver.ForTest(t)
	client := dynamodb.NewFromConfig(cfg)
	name := testtable.Create(t, client, "testtable")
	ctx := context.Background()
	desc, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	keys := func(ks []types.KeySchemaElement) []string {
		var out []string
		for _, k := range ks {
			out = append(out, aws.ToString(k.AttributeName)+" "+string(k.KeyType))
		}
		return out
	}
	if diff := cmp.Diff([]string{dynamostore.AttrPK + " HASH", dynamostore.AttrSK + " RANGE"}, keys(desc.Table.KeySchema)); diff != "" {
		t.Errorf("key schema (-want +got):\n%s", diff)
	}
	if len(desc.Table.GlobalSecondaryIndexes) != 1 || aws.ToString(desc.Table.GlobalSecondaryIndexes[0].IndexName) != dynamostore.IndexGSI1 {
		t.Fatalf("indexes = %+v, want %s", desc.Table.GlobalSecondaryIndexes, dynamostore.IndexGSI1)
	}
	if diff := cmp.Diff([]string{dynamostore.AttrGSI1PK + " HASH", dynamostore.AttrGSI1SK + " RANGE"},
		keys(desc.Table.GlobalSecondaryIndexes[0].KeySchema)); diff != "" {
		t.Errorf("GSI1 key schema (-want +got):\n%s", diff)
	}
	ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != dynamostore.AttrTTL {
		t.Errorf("time to live = %+v, want enabled on %s", ttl.TimeToLiveDescription, dynamostore.AttrTTL)
	}
}
