package fnenv

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// lazyDynamoDB is the DynamoDB client of a function, built on its first
// request rather than at the function's start: an invocation that never
// reaches the table (an authorizer refusal, a malformed request) does not
// pay for it, and neither does the cold start.
type lazyDynamoDB struct{ c func() *dynamodb.Client }

// newLazyDynamoDB returns the client of cfg, built on first use.
func newLazyDynamoDB(cfg aws.Config) lazyDynamoDB {
	return lazyDynamoDB{c: sync.OnceValue(func() *dynamodb.Client { return dynamodb.NewFromConfig(cfg) })}
}

func (l lazyDynamoDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return l.c().GetItem(ctx, in, o...)
}

func (l lazyDynamoDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return l.c().PutItem(ctx, in, o...)
}

func (l lazyDynamoDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return l.c().UpdateItem(ctx, in, o...)
}

func (l lazyDynamoDB) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	return l.c().DeleteItem(ctx, in, o...)
}

func (l lazyDynamoDB) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return l.c().Query(ctx, in, o...)
}

func (l lazyDynamoDB) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return l.c().TransactWriteItems(ctx, in, o...)
}

func (l lazyDynamoDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	return l.c().BatchGetItem(ctx, in, o...)
}
