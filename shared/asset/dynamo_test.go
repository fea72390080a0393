package asset_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/asset"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/devtools/testtable"
	"github.com/rmmbridge/rmmbridge/shared/dynamostore"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
	"github.com/rmmbridge/rmmbridge/shared/sqsbatch"
)

// newTable creates the project's table layout (pk/sk, GSI1) in moto.
func newTable(t *testing.T) *dynamostore.Store {
	t.Helper()
	client := dynamodb.NewFromConfig(motoserver.ForTest(t))
	table := testtable.Create(t, client, "asset")
	return dynamostore.New(client, table)
}

// mapOrg writes the mapping of o1 → account 250 (site s1 → location 31).
func mapOrg(t *testing.T, st *dynamostore.Store) {
	t.Helper()
	m := account.Mapping{OrganizationID: "o1", OrganizationName: "Acme", AccountID: "250", AccountName: "Acme Corp",
		Mode: account.ModeLinked, Sites: map[string]string{"s1": "31"}, State: account.StateMapped,
		UpdatedAt: time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)}
	err := dynamostore.NewMappings(st).PutMapping(context.Background(), testScope, m, "",
		account.AuditEvent{At: m.UpdatedAt, Actor: "test", Action: "mapping.link", Target: "organization/o1", After: &m})
	if err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentRefreshCreatesOnce races ten refreshes of one new device
// through the real DynamoDB repository: exactly one PSA asset is created,
// one refresh reports it created and the others find it unchanged.
func TestConcurrentRefreshCreatesOnce(t *testing.T) {
	st := newTable(t)
	mapOrg(t, st)
	rmmC := newFakeRMM()
	rmmC.set(laptop())
	p := newFakePSA()
	p.createDelay = 200 * time.Millisecond // the window a second create would need
	svc := asset.NewService(dynamostore.NewAssets(st), dynamostore.NewMappings(st), asset.Options{Poll: 25 * time.Millisecond})
	c := asset.Clients{RMM: rmmC, PSA: p}

	const n = 10
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		outcomes = map[importjob.Outcome]int{}
		assetIDs = map[string]bool{}
	)
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res, err := svc.Refresh(context.Background(), testScope, c, "1001")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("Refresh: %v", err)
				return
			}
			outcomes[res.Outcome]++
			assetIDs[res.Link.AssetID] = true
		}()
	}
	close(start)
	wg.Wait()
	if got := p.count("create"); got != 1 {
		t.Errorf("CreateAsset called %d times, want 1", got)
	}
	if diff := cmp.Diff(map[importjob.Outcome]int{importjob.Created: 1, importjob.Unchanged: n - 1}, outcomes); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]bool{"501": true}, assetIDs); diff != "" {
		t.Errorf("asset ids (-want +got):\n%s", diff)
	}
}

// TestRefreshCosts measures what one device costs in each outcome: RMM,
// PSA and DynamoDB requests (the vendor clients and the integration's
// connections are opened by the caller and not counted here).
func TestRefreshCosts(t *testing.T) {
	st := newTable(t)
	mapOrg(t, st)
	rmmC := newFakeRMM()
	rmmC.set(laptop())
	p := newFakePSA()
	svc := asset.NewService(dynamostore.NewAssets(st), dynamostore.NewMappings(st), asset.Options{})
	c := asset.Clients{RMM: rmmC, PSA: p}
	type cost struct{ RMM, PSA, Dynamo int }
	steps := []struct {
		name    string
		change  func()
		outcome importjob.Outcome
		want    cost
	}{
		// GetMapping, GetLink, ClaimLink, PutLink; find by reference, by
		// serial, create.
		{"create", func() {}, importjob.Created, cost{RMM: 1, PSA: 3, Dynamo: 4}},
		// GetMapping, GetLink, PutLink (lastSyncedAt); no PSA request.
		{"unchanged", func() {}, importjob.Unchanged, cost{RMM: 1, PSA: 0, Dynamo: 3}},
		// GetMapping, GetLink, PutLink; one update.
		{"update", func() {
			d := laptop()
			d.LastCheckIn = d.LastCheckIn.Add(time.Hour)
			rmmC.set(d)
		}, importjob.Updated, cost{RMM: 1, PSA: 1, Dynamo: 3}},
	}
	for _, step := range steps {
		step.change()
		r0, p0, d0 := rmmC.calls(), p.total(), st.Ops()
		res, err := svc.Refresh(context.Background(), testScope, c, "1001")
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if res.Outcome != step.outcome {
			t.Errorf("%s: outcome %s, want %s", step.name, res.Outcome, step.outcome)
		}
		got := cost{RMM: rmmC.calls() - r0, PSA: p.total() - p0, Dynamo: int(st.Ops() - d0)}
		if diff := cmp.Diff(step.want, got); diff != "" {
			t.Errorf("%s: cost (-want +got):\n%s", step.name, diff)
		}
		t.Logf("%-9s RMM %d, PSA %d, DynamoDB %d", step.name, got.RMM, got.PSA, got.Dynamo)
	}
}

// TestWorkerAccountsEachDeviceOnce runs the worker with the real import
// tracker against DynamoDB (moto): a redelivered message does not count
// twice, a device whose failure persists to the last receive is counted
// failed (finishing the job), and a later successful retry moves it to its
// outcome.
func TestWorkerAccountsEachDeviceOnce(t *testing.T) {
	ctx := context.Background()
	st := newTable(t)
	mapOrg(t, st)
	jobs := dynamostore.NewImportJobs(st)
	job := importjob.Job{ID: "j_1", TenantID: "t_a", IntegrationID: "i_a", Kind: importjob.KindAssets,
		Status: importjob.StatusRunning, Counts: importjob.Counts{Total: 2}, Orgs: 1, OrgsDone: 1,
		CreatedAt: time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)}
	if err := jobs.CreateJob(ctx, job); err != nil {
		t.Fatal(err)
	}
	rmmC := newFakeRMM()
	rmmC.set(laptop())
	second := laptop()
	second.ID, second.SerialNumber = "1002", "SN-1002"
	rmmC.set(second)
	p := newFakePSA()
	down := true
	p.fail = func(op string) error {
		if down && op == "create" && p.calls()["create"] > 1 {
			return apperr.New(apperr.Unavailable, "PSA is down")
		}
		return nil
	}
	svc := asset.NewService(dynamostore.NewAssets(st), dynamostore.NewMappings(st), asset.Options{})
	open := func(context.Context, string, string) (asset.Clients, error) {
		return asset.Clients{RMM: rmmC, PSA: p}, nil
	}
	w := sqsbatch.Processor{}.Handler(asset.NewWorker(svc, open, importjob.NewTracker(jobs, importjob.Options{}), nil).Process)

	steps := []struct {
		name   string
		device string
		recv   int
		failed bool
		counts importjob.Counts
	}{
		{"1001 created", "1001", 1, false, importjob.Counts{Total: 2, Created: 1}},
		{"1001 redelivered: unchanged, not counted again", "1001", 2, false, importjob.Counts{Total: 2, Created: 1}},
		{"1002 fails, receive 1: not counted yet", "1002", 1, true, importjob.Counts{Total: 2, Created: 1}},
		{"1002 fails on the last receive: counted failed", "1002", queuemsg.MaxReceives, true, importjob.Counts{Total: 2, Created: 1, Failed: 1}},
		{"1002 retried after the outage: failed becomes created", "1002", 1, false, importjob.Counts{Total: 2, Created: 2}},
	}
	for i, step := range steps {
		if i == len(steps)-1 {
			down = false
		}
		ev := events.SQSEvent{Records: []events.SQSMessage{assetRecord(t, "m"+step.device, importMsg(step.device), step.recv)}}
		resp, _ := w(ctx, ev)
		if got := len(resp.BatchItemFailures) == 1; got != step.failed {
			t.Errorf("%s: reported failed = %v, want %v", step.name, got, step.failed)
		}
		got, err := jobs.GetJob(ctx, job.Ref())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(step.counts, got.Counts); diff != "" {
			t.Errorf("%s: counts (-want +got):\n%s", step.name, diff)
		}
		// Every device accounted for, one failed: the job is finished.
		if step.recv == queuemsg.MaxReceives && got.Status != importjob.StatusPartial {
			t.Errorf("%s: job status = %s, want partial", step.name, got.Status)
		}
	}
}
