package wire

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/config"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/providers"
	"github.com/rmmbridge/rmmbridge/shared/sqsqueue"
)

// ImportDispatch builds the per-organization import worker.
func ImportDispatch(_ context.Context, getenv func(string) string, cfg aws.Config) (lambdafn.Handlers, error) {
	r := config.New(getenv)
	e := env{Table: r.String("TABLE_NAME"), ImportQueue: r.URL("IMPORT_QUEUE_URL"), AssetQueue: r.URL("ASSET_QUEUE_URL"), SecretPrefix: r.String("SECRET_PREFIX")}
	allowLoopback := r.Bool(AllowLoopbackEnv, false)
	if err := r.Err(); err != nil {
		return lambdafn.Handlers{}, fmt.Errorf("import-dispatch: %w", err)
	}
	st := store(cfg, e.Table)
	q := sqsqueue.New(sqs.NewFromConfig(cfg))
	jobs := dynamostore.NewImportJobs(st)
	o := importjob.Options{Logger: slog.Default()}
	d := importjob.NewDispatcher(importjob.DispatcherDeps{
		Store:      jobs,
		Tracker:    importjob.NewTracker(jobs, o),
		Accounts:   account.NewService(dynamostore.NewMappings(st), account.Options{}),
		Opener:     &providers.Opener{Conns: connections(st, cfg, e, allowLoopback), Registry: registry(allowLoopback), Budgets: budgets(st)},
		Sender:     QueueSender{Client: q},
		Queues:     importjob.Queues{Import: e.ImportQueue, Asset: e.AssetQueue},
		Visibility: q,
		Options:    o,
	})
	return lambdafn.Handlers{SQS: d.Handle}, nil
}

// importService builds the import jobs service the API starts, reads and
// retries jobs with.
func importService(st *dynamostore.Store, cfg aws.Config, e env) *importjob.Service {
	jobs := dynamostore.NewImportJobs(st)
	o := importjob.Options{Logger: slog.Default(), StallAfter: e.ImportStallAfter}
	return importjob.NewService(jobs, importjob.NewTracker(jobs, o), QueueSender{Client: sqsqueue.New(sqs.NewFromConfig(cfg))},
		importjob.Queues{Import: e.ImportQueue, Asset: e.AssetQueue}, o)
}

// QueueSender sends importjob messages through an sqsqueue client: batches
// of 10, failed entries re-sent, the message group set (fair queues on a
// standard queue).
type QueueSender struct{ Client *sqsqueue.Client }

var _ importjob.Sender = QueueSender{}

// SendBatch implements importjob.Sender.
func (s QueueSender) SendBatch(ctx context.Context, queueURL string, msgs []importjob.Message) error {
	out := make([]sqsqueue.Message, len(msgs))
	for i, m := range msgs {
		out[i] = sqsqueue.Message{Body: m.Body, GroupID: m.GroupID}
	}
	return s.Client.SendBatch(ctx, queueURL, out)
}
