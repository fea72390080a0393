package scheduler_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/rmmbridge/rmmbridge/shared/devtools/apitest"
	"github.com/rmmbridge/rmmbridge/shared/devtools/devstack"
	"github.com/rmmbridge/rmmbridge/shared/devtools/lambdaset"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/lambdas/fnenv"
)

// TestStalledImportEndToEnd runs an asset import through the local stack
// (the functions as their wiring builds them, IMPORT_STALL_AFTER shortened to a
// second), then puts the finished job back into the state issue 9 found:
// running, one counter increment short, on the work list. The scheduler
// function's tick finishes it with its true counts (read from the table,
// not through the API); put back again, a GET finishes it.
func TestStalledImportEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var logw io.Writer = io.Discard
	if testing.Verbose() {
		logw = os.Stderr
	}
	env, err := devstack.Start(ctx, devstack.Options{
		Template: "../../template.yaml", StackName: motoserver.UniqueName("sweep"),
		APIAddr: "127.0.0.1:0", RMMAddr: "127.0.0.1:0", PSAAddr: "127.0.0.1:0",
		Endpoint: os.Getenv("AWS_ENDPOINT_URL"), Orgs: 2, Devices: 6, NoPSAAssets: true,
		Logger: slog.New(slog.NewJSONHandler(logw, nil)), PollWait: 200 * time.Millisecond,
		ExtraEnv: map[string]string{fnenv.ImportStallAfterEnv: "1s"},
	})
	if err != nil {
		t.Fatalf("start dev environment: %v", err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := env.Stop(sctx); err != nil {
			t.Errorf("stop dev environment: %v", err)
		}
	})
	api := apitest.New(t, env.Stack.APIURL(), env.APIKey)
	path := "/v1/integrations/" + env.IntegrationID + "/imports"
	var queued struct{ ID string }
	if r := api.Do(http.MethodPost, path, map[string]any{"kind": "assets", "createMissingAccounts": true}); r.Status != http.StatusAccepted {
		t.Fatalf("POST imports = %d %s", r.Status, r.Body)
	} else {
		r.JSON(t, &queued)
	}
	ref := importjob.Ref{TenantID: lambdaset.DemoTenantID, IntegrationID: env.IntegrationID, JobID: queued.ID}
	st := dynamostore.New(dynamodb.NewFromConfig(env.AWS), env.Stack.TableName("Table"))
	jobs := dynamostore.NewImportJobs(st)
	var done importjob.Job
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(250 * time.Millisecond) {
		if done, err = jobs.GetJob(ctx, ref); err != nil {
			t.Fatal(err)
		}
		if done.Status.Final() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("import still %s after 2 minutes: %+v", done.Status, done.Counts)
		}
	}
	if done.Counts.Total != 6 || done.Counts.Done() != 6 {
		t.Fatalf("import finished %s with %+v; want 6 devices with an outcome", done.Status, done.Counts)
	}

	// stall puts the job back to running with one increment lost, as the
	// issue found it.
	stall := func(t *testing.T) {
		t.Helper()
		err := jobs.UpdateStatus(ctx, ref, importjob.StatusChange{From: []importjob.Status{done.Status, importjob.StatusRunning}, To: importjob.StatusRunning, ClearFinished: true})
		if err != nil {
			t.Fatal(err)
		}
		counter := "created"
		if done.Counts.Created == 0 {
			counter = "skipped"
		}
		upd := expression.Add(expression.Name(counter), expression.Value(-1))
		if err := st.Update(ctx, dynamostore.Key{PK: dynamostore.IntegrationPK(ref.TenantID, ref.IntegrationID), SK: "JOB#" + ref.JobID}, upd, nil, nil); err != nil {
			t.Fatal(err)
		}
		j, err := jobs.GetJob(ctx, ref)
		if err != nil || j.Status != importjob.StatusRunning || j.Counts.Done() >= 6 {
			t.Fatalf("stalled job = %s %+v, %v; want running short of 6/6", j.Status, j.Counts, err)
		}
		time.Sleep(1100 * time.Millisecond) // IMPORT_STALL_AFTER
	}

	t.Run("the scheduler's tick finishes it", func(t *testing.T) {
		stall(t)
		if err := env.Stack.Trigger(ctx, "SchedulerFunction"); err != nil {
			t.Fatalf("trigger the scheduler: %v", err)
		}
		j, err := jobs.GetJob(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status != done.Status || j.Counts != done.Counts || j.FinishedAt.IsZero() {
			t.Errorf("after the tick: %s %+v finished %v; want %s %+v, finished", j.Status, j.Counts, j.FinishedAt, done.Status, done.Counts)
		}
	})
	t.Run("a GET finishes it", func(t *testing.T) {
		stall(t)
		var got struct {
			Status string
			Counts importjob.Counts
		}
		r := api.Do(http.MethodGet, path+"/"+ref.JobID, nil)
		r.JSON(t, &got)
		if r.Status != http.StatusOK || got.Status != string(done.Status) || got.Counts != done.Counts {
			t.Errorf("GET = %d %s %+v; want %s %+v", r.Status, got.Status, got.Counts, done.Status, done.Counts)
		}
	})
}
