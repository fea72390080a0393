// Package queues adapts sqsqueue to the import queues' sender
// (importjob.Sender), for the functions that start imports (api) and fan
// them out (import-dispatch).
package queues

import (
	"context"

	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/sqsqueue"
)

// Sender sends importjob messages through an sqsqueue client: batches of
// 10, failed entries re-sent, the message group set (fair queues on a
// standard queue).
type Sender struct{ Client *sqsqueue.Client }

var _ importjob.Sender = Sender{}

// SendBatch implements importjob.Sender.
func (s Sender) SendBatch(ctx context.Context, queueURL string, msgs []importjob.Message) error {
	out := make([]sqsqueue.Message, len(msgs))
	for i, m := range msgs {
		out[i] = sqsqueue.Message{Body: m.Body, GroupID: m.GroupID}
	}
	return s.Client.SendBatch(ctx, queueURL, out)
}
