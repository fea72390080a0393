package lambdafn

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
)

// Ids of the request the log-key test sends.
const (
	logTestLambdaID = "lambda-invocation-1"
	logTestAPIID    = "apigw-request-1"
	// apiRequestIDKey is the key API Gateway's request id is logged under.
	apiRequestIDKey = "apiRequestId"
)

// logChildEnv marks the child process of TestHTTPLogLinesHaveUniqueKeys.
const logChildEnv = "RMMBRIDGE_LOGKEYS_CHILD"

// TestHTTPLogLinesHaveUniqueKeys serves HTTP requests the way a deployed
// function does — the Lambda logger Main installs (lambdacontext.NewLogger
// with AWS_LAMBDA_LOG_FORMAT=JSON, as template.yaml's LoggingConfig sets),
// the invocation's Lambda context, the runtime's handler path — and parses
// every log line: no line may carry a key twice, requestId is the
// invocation's id and apiRequestId API Gateway's.
//
// The Lambda logger reads AWS_LAMBDA_LOG_FORMAT when its package loads and
// writes to stdout, so the requests run in a child process of this test
// binary started with the variable set.
func TestHTTPLogLinesHaveUniqueKeys(t *testing.T) {
	if os.Getenv(logChildEnv) == "1" {
		serveLoggedRequests(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHTTPLogLinesHaveUniqueKeys$", "-test.count=1")
	cmd.Env = append(os.Environ(), logChildEnv+"=1", "AWS_LAMBDA_LOG_FORMAT=JSON", "AWS_LAMBDA_LOG_LEVEL=INFO")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	var lines int
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.HasPrefix(line, []byte("{")) {
			continue // the test framework's own output
		}
		lines++
		dups, err := duplicateKeys(line)
		if err != nil {
			t.Fatalf("log line is not JSON: %v\n%s", err, line)
		}
		if len(dups) > 0 {
			t.Errorf("log line carries %v more than once:\n%s", dups, line)
		}
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatal(err)
		}
		if rec["requestId"] != logTestLambdaID || rec[apiRequestIDKey] != logTestAPIID {
			t.Errorf("log line has requestId %v and %s %v; want %q and %q:\n%s", rec["requestId"], apiRequestIDKey,
				rec[apiRequestIDKey], logTestLambdaID, logTestAPIID, line)
		}
	}
	if lines != 2 {
		t.Errorf("got %d JSON log lines, want 2 (a refused and a failed request):\n%s", lines, out)
	}
}

// serveLoggedRequests is the child's side: two requests whose handlers
// fail, so the router logs one line for each.
func serveLoggedRequests(t *testing.T) {
	slog.SetDefault(lambdacontext.NewLogger())
	rt := httpapi.NewRouter(httpapi.Options{})
	rt.Handle("GET /v1/things/{thingId}", httpapi.Public, func(_ context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		if r.PathParam("thingId") == "boom" {
			return nil, errors.New("the database is on fire")
		}
		return nil, apperr.New(apperr.NotFound, "no thing %s", r.PathParam("thingId"))
	})
	h := NewHandler(Handlers{HTTP: rt.Serve})
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: logTestLambdaID})
	for _, id := range []string{"nope", "boom"} {
		ev := events.APIGatewayV2HTTPRequest{RouteKey: "GET /v1/things/{thingId}", RawPath: "/v1/things/" + id,
			PathParameters: map[string]string{"thingId": id},
			RequestContext: events.APIGatewayV2HTTPRequestContext{RequestID: logTestAPIID, RouteKey: "GET /v1/things/{thingId}"}}
		payload, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.Invoke(ctx, payload); err != nil {
			t.Fatalf("invoke %s: %v", id, err)
		}
	}
}

// duplicateKeys returns the keys that appear more than once in one JSON
// object of doc (at any depth), as path.key.
func duplicateKeys(doc []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var dups []string
	var walk func(path string) error
	walk = func(path string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				k := kt.(string)
				if seen[k] {
					dups = append(dups, path+k)
				}
				seen[k] = true
				if err := walk(path + k + "."); err != nil {
					return err
				}
			}
			_, err = dec.Token() // }
			return err
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if err := walk(fmt.Sprintf("%s%d.", path, i)); err != nil {
					return err
				}
			}
			_, err = dec.Token() // ]
			return err
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data after the object")
	}
	return dups, nil
}

func TestDuplicateKeys(t *testing.T) {
	tests := []struct {
		doc  string
		want []string
	}{
		{`{"a":1,"b":{"a":2}}`, nil},
		{`{"a":1,"a":2}`, []string{"a"}},
		{`{"x":{"k":[1,{"k":1,"k":2}]}}`, []string{"x.k.1.k"}},
	}
	for _, tt := range tests {
		got, err := duplicateKeys([]byte(tt.doc))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("duplicateKeys(%s) = %v, want %v", tt.doc, got, tt.want)
		}
	}
}
