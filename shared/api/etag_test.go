package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/devtools/motoserver"
)

// etagResource is a resource with an ETag and a PATCH honouring If-Match:
// tenant t_a's i_a or c_psa (stored before versions existed: version 0),
// and tenant t_b's counterpart.
type etagResource struct {
	name, route, param, mine, theirs string
}

var etagResources = []etagResource{
	{name: "integration", route: intRoute, param: "integrationId", mine: "i_a", theirs: "i_b"},
	{name: "connection", route: connRoute, param: "connectionId", mine: "c_psa", theirs: "c_b2"},
}

func (r etagResource) get(id string) request {
	return request{method: "GET", route: r.route, params: map[string]string{r.param: id}}
}

func (r etagResource) patch(id, name string, headers map[string]string) request {
	return request{method: "PATCH", route: r.route, params: map[string]string{r.param: id},
		body: fmt.Sprintf(`{"name":%q}`, name), headers: headers}
}

// read GETs the resource and returns its ETag header and its name and
// version from the body, checking that the two agree.
func (e *inputEnv) read(t *testing.T, r etagResource, tenant, id string) (etag, name string) {
	t.Helper()
	q := r.get(id)
	q.tenant = tenant
	resp := serve(t, e.rt, q)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s %s = %d %s", r.name, id, resp.StatusCode, resp.Body)
	}
	var body struct {
		Name    string
		Version int64
	}
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatal(err)
	}
	etag = resp.Headers["etag"]
	if want := fmt.Sprintf("%q", fmt.Sprint(body.Version)); etag != want {
		t.Errorf("GET %s: ETag %q, want %q (the version %d quoted)", r.name, etag, want, body.Version)
	}
	return etag, body.Name
}

// TestIfMatch walks a PATCH's If-Match through fresh, stale, "*", weak,
// foreign, malformed and absent values, on an integration and a
// connection: a tag that is not the current version is a 412 and nothing
// is written; a malformed header is a 400 naming If-Match; without it the
// PATCH applies as before.
func TestIfMatch(t *testing.T) {
	e := newInputEnv(t)
	for _, r := range etagResources {
		t.Run(r.name, func(t *testing.T) {
			v0, _ := e.read(t, r, "t_a", r.mine)
			if v0 != `"0"` {
				t.Errorf("ETag of a %s stored before versions: %q, want \"0\"", r.name, v0)
			}
			steps := []struct {
				name    string
				ifMatch *string // nil: no header
				want    int
				field   string // the field a 400 names
				saved   bool
			}{
				{name: "fresh", ifMatch: &v0, want: http.StatusOK, saved: true},
				{name: "stale", ifMatch: &v0, want: http.StatusPreconditionFailed},
				{name: "any", ifMatch: ptr("*"), want: http.StatusOK, saved: true},
				{name: "weak current", ifMatch: ptr("W/CURRENT"), want: http.StatusPreconditionFailed},
				{name: "not ours", ifMatch: ptr(`"abc", "-1", "01"`), want: http.StatusPreconditionFailed},
				{name: "stale among others", ifMatch: ptr(`"99", ` + v0), want: http.StatusPreconditionFailed},
				{name: "current in a list", ifMatch: ptr(`"99", CURRENT`), want: http.StatusOK, saved: true},
				{name: "unquoted", ifMatch: ptr("BARE"), want: http.StatusBadRequest, field: "If-Match"},
				{name: "empty", ifMatch: ptr(""), want: http.StatusBadRequest, field: "If-Match"},
				{name: "unterminated", ifMatch: ptr(`"1`), want: http.StatusBadRequest, field: "If-Match"},
				{name: "absent", want: http.StatusOK, saved: true},
			}
			for i, s := range steps {
				before, beforeName := e.read(t, r, "t_a", r.mine)
				var headers map[string]string
				if s.ifMatch != nil {
					v := *s.ifMatch
					switch v {
					case "W/CURRENT":
						v = "W/" + before
					case `"99", CURRENT`:
						v = `"99", ` + before
					case "BARE":
						v = before[1 : len(before)-1]
					}
					headers = map[string]string{"if-match": v}
				}
				newName := fmt.Sprintf("%s step %d", r.name, i)
				resp := serve(t, e.rt, r.patch(r.mine, newName, headers))
				if resp.StatusCode != s.want {
					t.Fatalf("%s: PATCH with If-Match %v = %d %s, want %d", s.name, headers, resp.StatusCode, resp.Body, s.want)
				}
				after, afterName := e.read(t, r, "t_a", r.mine)
				if s.saved {
					if afterName != newName || after == before {
						t.Errorf("%s: after a 200 the %s is %q with ETag %s (before %s), want %q and a new ETag", s.name, r.name, afterName, after, before, newName)
					}
					if got := resp.Headers["etag"]; got != after {
						t.Errorf("%s: the PATCH answered ETag %q, GET %q", s.name, got, after)
					}
					continue
				}
				if afterName != beforeName || after != before {
					t.Errorf("%s: a %d wrote: %q %s, was %q %s", s.name, s.want, afterName, after, beforeName, before)
				}
				detail, fe := problemOf(t, resp)
				if s.field != "" {
					if len(fe) != 1 || fe[0].Field != s.field {
						t.Errorf("%s: fields %+v, want one naming %s", s.name, fe, s.field)
					}
				} else if want := "the " + r.name + " " + r.mine + " changed since you read it; read it again and re-apply your change"; detail != want {
					t.Errorf("%s: detail %q, want %q", s.name, detail, want)
				}
			}
		})
	}
}

// TestIfMatchOtherTenant: another tenant's id is a 404 with or without
// If-Match (its current ETag included), and nothing of theirs changes.
func TestIfMatchOtherTenant(t *testing.T) {
	e := newInputEnv(t)
	for _, r := range etagResources {
		t.Run(r.name, func(t *testing.T) {
			theirs, name := e.read(t, r, "t_b", r.theirs)
			for _, h := range []string{theirs, "*", `"0"`, `"1"`} {
				resp := serve(t, e.rt, r.patch(r.theirs, "mine now", map[string]string{"if-match": h}))
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("PATCH t_b's %s with If-Match %s = %d %s, want 404", r.name, h, resp.StatusCode, resp.Body)
				}
				problemOf(t, resp)
			}
			if after, afterName := e.read(t, r, "t_b", r.theirs); after != theirs || afterName != name {
				t.Errorf("t_b's %s changed: %q %s, was %q %s", r.name, afterName, after, name, theirs)
			}
		})
	}
}

// TestConcurrentPatchesWithOneETag races 20 PATCHes sent with the same
// If-Match: exactly one wins (200), the 19 others get 412, and the stored
// name is the winner's at the next version.
func TestConcurrentPatchesWithOneETag(t *testing.T) {
	e := newInputEnvOn(t, motoserver.SafeForTest(t))
	const n = 20
	for _, r := range etagResources {
		t.Run(r.name, func(t *testing.T) {
			etag, _ := e.read(t, r, "t_a", r.mine)
			statuses := make([]int, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					resp, err := e.rt.Serve(context.Background(), r.patch(r.mine, fmt.Sprintf("racer %d", i), map[string]string{"if-match": etag}).event())
					if err != nil {
						t.Errorf("racer %d: %v", i, err)
						return
					}
					statuses[i] = resp.StatusCode
				}()
			}
			close(start)
			wg.Wait()
			count := map[int]int{}
			winner := -1
			for i, st := range statuses {
				count[st]++
				if st == http.StatusOK {
					winner = i
				}
			}
			if diff := cmp.Diff(map[int]int{http.StatusOK: 1, http.StatusPreconditionFailed: n - 1}, count); diff != "" {
				t.Fatalf("statuses (-want +got):\n%s", diff)
			}
			after, name := e.read(t, r, "t_a", r.mine)
			if want := fmt.Sprintf("racer %d", winner); name != want {
				t.Errorf("stored name %q, want the winner's %q", name, want)
			}
			if want := fmt.Sprintf(`"%d"`, versionOf(t, etag)+1); after != want {
				t.Errorf("ETag after the race %s, want %s (one write)", after, want)
			}
		})
	}
}

// TestConcurrentPatchesWithoutIfMatch races 20 PATCHes without If-Match:
// they all succeed, as before versions existed, each applied once (the
// version moves by 20).
func TestConcurrentPatchesWithoutIfMatch(t *testing.T) {
	e := newInputEnvOn(t, motoserver.SafeForTest(t))
	const n = 20
	for _, r := range etagResources {
		t.Run(r.name, func(t *testing.T) {
			before, _ := e.read(t, r, "t_a", r.mine)
			statuses := make([]int, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := e.rt.Serve(context.Background(), r.patch(r.mine, fmt.Sprintf("writer %d", i), nil).event())
					if err != nil {
						t.Errorf("writer %d: %v", i, err)
						return
					}
					statuses[i] = resp.StatusCode
				}()
			}
			wg.Wait()
			for i, st := range statuses {
				if st != http.StatusOK {
					t.Errorf("writer %d: %d, want 200", i, st)
				}
			}
			if after, _ := e.read(t, r, "t_a", r.mine); after != fmt.Sprintf(`"%d"`, versionOf(t, before)+n) {
				t.Errorf("ETag after %d writes %s, was %s", n, after, before)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// versionOf reads the version out of an ETag ("3").
func versionOf(t *testing.T, etag string) int64 {
	t.Helper()
	var v int64
	if _, err := fmt.Sscanf(etag, `"%d"`, &v); err != nil {
		t.Fatalf("ETag %q: %v", etag, err)
	}
	return v
}
