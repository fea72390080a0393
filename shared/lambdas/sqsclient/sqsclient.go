// Package sqsclient gives the functions that send to or manage SQS queues
// their sqsqueue client over an SDK client built on first use, not at the
// function's start (cold start): an invocation that sends nothing does not
// build it.
package sqsclient

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rmmbridge/rmmbridge/shared/sqsqueue"
)

// New returns the sqsqueue client of cfg; its SDK client is built on its
// first request.
func New(cfg aws.Config, opts ...sqsqueue.Option) *sqsqueue.Client {
	return sqsqueue.New(lazy{c: sync.OnceValue(func() *sqs.Client { return sqs.NewFromConfig(cfg) })}, opts...)
}

// lazy is an SQS client built on first use.
type lazy struct{ c func() *sqs.Client }

func (l lazy) SendMessage(ctx context.Context, in *sqs.SendMessageInput, o ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return l.c().SendMessage(ctx, in, o...)
}

func (l lazy) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, o ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	return l.c().SendMessageBatch(ctx, in, o...)
}

func (l lazy) ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, o ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	return l.c().ChangeMessageVisibility(ctx, in, o...)
}

func (l lazy) DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, o ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	return l.c().DeleteMessage(ctx, in, o...)
}
