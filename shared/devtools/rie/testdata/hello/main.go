// Command hello is the hello-world Go function cold starts are measured
// against: the Lambda runtime client and a handler answering a constant,
// nothing else (no AWS SDK, no config).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, map[string]any) (map[string]string, error) {
		return map[string]string{"hello": "world"}, nil
	})
}
