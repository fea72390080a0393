package dynamostore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
	"github.com/rmmbridge/rmmbridge/shared/sqsbatch"
)

func testJob(id string, created time.Time) importjob.Job {
	return importjob.Job{ID: id, TenantID: "t_a", IntegrationID: "i_1", Kind: importjob.KindAssets, Status: importjob.StatusQueued,
		CreateMissingAccounts: true, OrganizationIDs: []string{"1", "2"}, Orgs: 2, CreatedAt: created}
}

func TestImportJobsRepository(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	r := NewImportJobs(s)
	base := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 3 {
		j := testJob(importjob.NewJobID(base.Add(time.Duration(i)*time.Second)), base.Add(time.Duration(i)*time.Second))
		if err := r.CreateJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	ref := importjob.Ref{TenantID: "t_a", IntegrationID: "i_1", JobID: ids[0]}
	got, err := r.GetJob(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(testJob(ids[0], base), got); diff != "" {
		t.Errorf("GetJob (-want +got):\n%s", diff)
	}
	if err := r.CreateJob(ctx, testJob(ids[0], base)); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("CreateJob twice = %v, want Conflict", err)
	}
	if _, err := r.GetJob(ctx, importjob.Ref{TenantID: "t_other", IntegrationID: "i_1", JobID: ids[0]}); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("another tenant's job = %v, want NotFound", err)
	}

	// Newest first, paged.
	page1, next, err := r.ListJobs(ctx, "t_a", "i_1", 2, "")
	if err != nil || next == "" {
		t.Fatalf("ListJobs = %d, %q, %v; want a full page and a cursor", len(page1), next, err)
	}
	page2, next2, err := r.ListJobs(ctx, "t_a", "i_1", 2, next)
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, j := range append(page1, page2...) {
		listed = append(listed, j.ID)
	}
	if diff := cmp.Diff([]string{ids[2], ids[1], ids[0]}, listed); diff != "" || next2 != "" {
		t.Errorf("ListJobs order (-want +got):\n%s (last cursor %q)", diff, next2)
	}

	// Status changes.
	start := base.Add(time.Minute)
	if err := r.UpdateStatus(ctx, ref, importjob.StatusChange{From: []importjob.Status{importjob.StatusQueued}, To: importjob.StatusRunning, StartedAt: start}); err != nil {
		t.Fatal(err)
	}
	if err := r.UpdateStatus(ctx, ref, importjob.StatusChange{From: []importjob.Status{importjob.StatusQueued}, To: importjob.StatusRunning, StartedAt: start}); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("second start = %v, want Conflict", err)
	}
	end := base.Add(time.Hour)
	if err := r.UpdateStatus(ctx, ref, importjob.StatusChange{From: []importjob.Status{importjob.StatusQueued, importjob.StatusRunning}, To: importjob.StatusPartial, FinishedAt: end}); err != nil {
		t.Fatal(err)
	}
	got, _ = r.GetJob(ctx, ref)
	if got.Status != importjob.StatusPartial || !got.StartedAt.Equal(start) || !got.FinishedAt.Equal(end) {
		t.Errorf("after finish: %s started %v finished %v", got.Status, got.StartedAt, got.FinishedAt)
	}
	// Reopened (retry): finishedAt goes, startedAt stays.
	if err := r.UpdateStatus(ctx, ref, importjob.StatusChange{From: []importjob.Status{importjob.StatusPartial}, To: importjob.StatusQueued, ClearFinished: true}); err != nil {
		t.Fatal(err)
	}
	if err := r.UpdateStatus(ctx, ref, importjob.StatusChange{From: []importjob.Status{importjob.StatusQueued}, To: importjob.StatusRunning, StartedAt: end}); err != nil {
		t.Fatal(err)
	}
	got, _ = r.GetJob(ctx, ref)
	if got.Status != importjob.StatusRunning || !got.StartedAt.Equal(start) || !got.FinishedAt.IsZero() {
		t.Errorf("after reopen: %s started %v finished %v, want running, first start kept, no finish", got.Status, got.StartedAt, got.FinishedAt)
	}
}

func TestImportJobsApply(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	r := NewImportJobs(s)
	now := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	j := testJob("j1", now)
	if err := r.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	ref := j.Ref()
	item := func(key string, o importjob.Outcome) importjob.Item {
		return importjob.Item{Key: key, Status: o, Reason: "because " + key, Updated: now}
	}
	counts := func() importjob.Counts {
		t.Helper()
		got, err := r.GetJob(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		return got.Counts
	}

	// New items with their counters.
	err := r.Apply(ctx, ref, importjob.Change{Items: []importjob.ItemChange{{Item: item("d1", importjob.Failed)}, {Item: item("d2", importjob.Review)}, {Item: item("d3", importjob.Created)}},
		Delta: importjob.Counts{Total: 3, Failed: 1, Review: 1, Created: 1}})
	if err != nil {
		t.Fatal(err)
	}
	// A second insert of d3 loses its condition and changes nothing.
	err = r.Apply(ctx, ref, importjob.Change{Items: []importjob.ItemChange{{Item: item("d4", importjob.Created)}, {Item: item("d3", importjob.Updated)}}, Delta: importjob.Counts{Created: 1, Updated: 1}})
	if !apperr.Is(err, apperr.Conflict) {
		t.Errorf("insert of an existing item = %v, want Conflict", err)
	}
	if _, err := r.GetItem(ctx, ref, "d4"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("d4 was written by a canceled transaction (%v)", err)
	}
	if diff := cmp.Diff(importjob.Counts{Total: 3, Failed: 1, Review: 1, Created: 1}, counts()); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	// failed → updated, conditioned on the previous status.
	if err := r.Apply(ctx, ref, importjob.Change{Items: []importjob.ItemChange{{Item: item("d1", importjob.Updated), From: importjob.Failed}}, Delta: importjob.Counts{Failed: -1, Updated: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := r.Apply(ctx, ref, importjob.Change{Items: []importjob.ItemChange{{Item: item("d1", importjob.Created), From: importjob.Failed}}, Delta: importjob.Counts{Failed: -1, Created: 1}}); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("second move from failed = %v, want Conflict", err)
	}
	got, err := r.GetItem(ctx, ref, "d1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(item("d1", importjob.Updated), got); diff != "" {
		t.Errorf("GetItem (-want +got):\n%s", diff)
	}
	// The failed index no longer lists d1; review lists d2.
	failed, _, err := r.ListItems(ctx, ref, importjob.Failed, 10, "")
	if err != nil || len(failed) != 0 {
		t.Errorf("failed items = %+v, %v; want none", failed, err)
	}
	review, _, err := r.ListItems(ctx, ref, importjob.Review, 10, "")
	if err != nil || len(review) != 1 || review[0].Key != "d2" || review[0].Reason != "because d2" {
		t.Errorf("review items = %+v, %v; want d2", review, err)
	}
	// Organizations: counted once.
	org := importjob.Change{Org: &importjob.OrgChange{OrgID: "o1", To: importjob.OrgCounted, Devices: 7}, Delta: importjob.Counts{Total: 7}, OrgsDone: 1}
	if err := r.Apply(ctx, ref, org); err != nil {
		t.Fatal(err)
	}
	if err := r.Apply(ctx, ref, org); !apperr.Is(err, apperr.Conflict) {
		t.Errorf("second count of an organization = %v, want Conflict", err)
	}
	if rec, err := r.GetOrg(ctx, ref, "o1"); err != nil || rec != (importjob.OrgRecord{OrgID: "o1", State: importjob.OrgCounted, Devices: 7}) {
		t.Errorf("GetOrg = %+v, %v", rec, err)
	}
	if rec, err := r.GetOrg(ctx, ref, "o2"); err != nil || rec.State != "" {
		t.Errorf("GetOrg(unknown) = %+v, %v; want no state", rec, err)
	}
	if jj, _ := r.GetJob(ctx, ref); jj.OrgsDone != 1 || jj.Counts.Total != 10 {
		t.Errorf("job orgsDone %d total %d, want 1 and 10", jj.OrgsDone, jj.Counts.Total)
	}
	// Delete conditioned on status.
	if err := r.Apply(ctx, ref, importjob.Change{Items: []importjob.ItemChange{{Item: importjob.Item{Key: "d2"}, From: importjob.Review, Delete: true}}, Delta: importjob.Counts{Review: -1, Total: -1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.GetItem(ctx, ref, "d2"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("deleted item = %v, want NotFound", err)
	}
	// A missing job is NotFound and nothing is written.
	missing := importjob.Ref{TenantID: "t_a", IntegrationID: "i_1", JobID: "nope"}
	if err := r.Apply(ctx, missing, importjob.Change{Items: []importjob.ItemChange{{Item: item("x", importjob.Created)}}, Delta: importjob.Counts{Created: 1}}); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("Apply on a missing job = %v, want NotFound", err)
	}
	if _, err := r.GetItem(ctx, missing, "x"); !apperr.Is(err, apperr.NotFound) {
		t.Errorf("item of a missing job was written (%v)", err)
	}
}

func TestImportJobsPreviewItems(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	r := NewImportJobs(s)
	now := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	j := testJob("j1", now)
	j.DryRun, j.Kind = true, importjob.KindOrganizations
	if err := r.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	pv := &importjob.PreviewItem{Key: "5", Action: "link", Name: "Globex", TargetID: "300", Reason: "would be linked"}
	if err := r.Apply(ctx, j.Ref(), importjob.Change{Items: []importjob.ItemChange{{Item: importjob.Item{Key: "5", Status: importjob.Linked, Reason: pv.Reason, Updated: now, Preview: pv}}},
		Delta: importjob.Counts{Linked: 1}}); err != nil {
		t.Fatal(err)
	}
	// An organization record of the job is not an item.
	if err := r.Apply(ctx, j.Ref(), importjob.Change{Org: &importjob.OrgChange{OrgID: "5", To: importjob.OrgCounted}}); err != nil {
		t.Fatal(err)
	}
	items, err := r.PreviewItems(ctx, j.Ref())
	if err != nil {
		t.Fatal(err)
	}
	want := []importjob.Item{{Key: "5", Status: importjob.Linked, Reason: pv.Reason, Updated: now, Preview: pv}}
	if diff := cmp.Diff(want, items); diff != "" {
		t.Errorf("PreviewItems (-want +got):\n%s", diff)
	}
}

// serialHTTP lets one request at a time reach moto. moto does not isolate
// concurrent transactions (a canceled TransactWriteItems restores a copy
// of the whole table taken when it began, undoing writes that committed
// meanwhile), while in DynamoDB every request is atomic. With requests
// serialized on the wire each one is atomic again, and the goroutines
// still interleave freely between requests, which is the race under test.
type serialHTTP struct {
	mu sync.Mutex
	c  *http.Client
}

func (s *serialHTTP) Do(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	resp, err := s.c.Do(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}

func TestImportJobsConcurrentRecordCountsOnce(t *testing.T) {
	ctx := context.Background()
	table, _ := newTestStore(t)
	serial := &serialHTTP{c: &http.Client{}}
	s := New(dynamodb.NewFromConfig(motoserver.ForTest(t), func(o *dynamodb.Options) { o.HTTPClient = serial }), table.Table())
	r := NewImportJobs(s)
	tr := importjob.NewTracker(r, importjob.Options{})
	j := testJob("j1", time.Now().UTC().Truncate(time.Millisecond))
	j.Status, j.Orgs, j.OrgsDone, j.Counts.Total = importjob.StatusRunning, 1, 1, 11
	if err := r.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() { // the same device from 10 redeliveries at once
			if err := tr.Record(ctx, "t_a", "i_1", "j1", importjob.Item{Key: "dup", Status: importjob.Created}); err != nil {
				t.Errorf("Record(dup): %v", err)
			}
		})
		wg.Go(func() { // and 10 other devices
			if err := tr.Record(ctx, "t_a", "i_1", "j1", importjob.Item{Key: "d" + strconv.Itoa(i), Status: importjob.Updated}); err != nil {
				t.Errorf("Record(d%d): %v", i, err)
			}
		})
	}
	wg.Wait()
	got, err := r.GetJob(ctx, j.Ref())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(importjob.Counts{Total: 11, Created: 1, Updated: 10}, got.Counts); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if got.Status != importjob.StatusSucceeded || got.FinishedAt.IsZero() {
		t.Errorf("job = %s finished %v, want succeeded", got.Status, got.FinishedAt)
	}

	// What one Record costs: one transaction, the completion check's read.
	before := s.Ops()
	if err := tr.Record(ctx, "t_a", "i_1", "j1", importjob.Item{Key: "late", Status: importjob.Updated}); err != nil {
		t.Fatal(err)
	}
	t.Logf("DynamoDB requests per Record of a new item: %d", s.Ops()-before)
	before = s.Ops()
	if err := tr.Record(ctx, "t_a", "i_1", "j1", importjob.Item{Key: "late", Status: importjob.Updated}); err != nil {
		t.Fatal(err)
	}
	t.Logf("DynamoDB requests per redelivered Record: %d", s.Ops()-before)
}

// downOpener fails every open, as an RMM outage would.
type downOpener struct{}

func (downOpener) Open(context.Context, string, string) (importjob.Clients, error) {
	return importjob.Clients{}, apperr.New(apperr.Unavailable, "the RMM is unreachable")
}

func TestImportJobsLastReceiveCountsFailed(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	r := NewImportJobs(s)
	tr := importjob.NewTracker(r, importjob.Options{})
	j := testJob("j1", time.Now().UTC())
	j.Orgs = 1
	if err := r.CreateJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	d := importjob.NewDispatcher(importjob.DispatcherDeps{Store: r, Tracker: tr,
		Accounts: account.NewService(NewMappings(s), account.Options{}), Opener: downOpener{}})
	handle := sqsbatch.Processor{Name: "import-dispatch"}.Handler(d.Dispatch)
	ev := func(receives int) events.SQSEvent {
		return events.SQSEvent{Records: []events.SQSMessage{{MessageId: fmt.Sprintf("m%d", receives),
			Body:       `{"tenantId":"t_a","integrationId":"i_1","jobId":"j1","kind":"assets","organizationId":"12"}`,
			Attributes: map[string]string{"ApproximateReceiveCount": strconv.Itoa(receives)}}}}
	}
	for receives := 1; receives <= queuemsg.MaxReceives; receives++ {
		resp, err := handle(ctx, ev(receives))
		if err != nil || len(resp.BatchItemFailures) != 1 {
			t.Fatalf("receive %d: %+v, %v; want the message reported failed", receives, resp, err)
		}
		got, _ := r.GetJob(ctx, j.Ref())
		want := importjob.Counts{}
		if receives == queuemsg.MaxReceives {
			want = importjob.Counts{Total: 1, Failed: 1}
		}
		if diff := cmp.Diff(want, got.Counts); diff != "" {
			t.Errorf("receive %d counts (-want +got):\n%s", receives, diff)
		}
	}
	got, _ := r.GetJob(ctx, j.Ref())
	if got.Status != importjob.StatusFailed || got.OrgsDone != 1 {
		t.Errorf("job = %s orgsDone %d, want failed with the organization done", got.Status, got.OrgsDone)
	}
	items, _, err := r.ListItems(ctx, j.Ref(), importjob.Failed, 10, "")
	if err != nil || len(items) != 1 || items[0].Key != "org:12" || items[0].Reason != "the RMM is unreachable" {
		t.Errorf("failed items = %+v, %v; want org:12 with the reason", items, err)
	}
	// A redelivery after the DLQ redrive does not count it again.
	if _, err := handle(ctx, ev(queuemsg.MaxReceives+1)); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.GetJob(ctx, j.Ref()); got.Counts != (importjob.Counts{Total: 1, Failed: 1}) {
		t.Errorf("counts after another receive = %+v", got.Counts)
	}
}
