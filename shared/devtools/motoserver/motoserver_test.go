package motoserver

import (
	"context"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"testing"
)

func TestForTest(t *testing.T) {
	cfg := ForTest(t)
	_, err := sqs.NewFromConfig(cfg).ListQueues(context.Background(), &sqs.ListQueuesInput{})
	if err != nil {
		t.Fatal(err)
	}
}
