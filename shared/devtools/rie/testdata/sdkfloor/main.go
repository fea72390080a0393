// Command sdkfloor is hello (shared/devtools/rie/testdata/hello) with the
// AWS SDK packages the queue workers link imported for their
// initialisation only: the DynamoDB, SQS and Secrets Manager clients and
// DynamoDB's attributevalue. Its cold start is the floor any function using
// those real SDK clients starts from; `rmmbridge coldstart` prints it
// beside the functions (for information: it is not judged).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	_ "github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	_ "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	_ "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	_ "github.com/aws/aws-sdk-go-v2/service/sqs"
)

func main() {
	lambda.Start(func(context.Context, map[string]any) (map[string]string, error) {
		return map[string]string{"hello": "world"}, nil
	})
}
