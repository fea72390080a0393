// Package sdkhttp is an HTTP client for the AWS SDK that never lets
// net/http's connection writer race the SDK for a request body.
//
// The race: smithy-go closes a request's body as soon as Client.Do returns
// (ClientHandler.Handle), and its body wrapper answers WriteTo with io.EOF
// once closed. net/http's writer, after sending a body of a length it
// cannot see in memory (it flushes the headers first, then copies the body
// straight to the socket), copies the body once more into io.Discard to
// check nothing is left over. When the server has already answered and the
// caller has closed the body in between — the writer goroutine starved of
// CPU for a moment —, that second copy gets io.EOF, which net/http takes
// for a write error: it closes the connection while the caller is still
// reading the response. The SDK sees "use of closed network connection",
// a retryable error, and sends the request again. For SQS ReceiveMessage
// the first attempt's messages are then in flight with nobody holding
// them until their visibility timeout passes (the local stack's stalled
// imports, 10 messages for 6 minutes); for a send, a retried write.
//
// Client reads each request body into memory before handing the request
// on, so net/http sees a *bytes.Reader (its known in-memory kind: headers
// and body are written together, and the extra copy reads our reader,
// which the SDK cannot close).
package sdkhttp

import (
	"bytes"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// Client is an aws.HTTPClient that buffers request bodies before sending
// them through Next.
type Client struct {
	Next aws.HTTPClient
}

// Wrap returns next behind a Client (a new SDK BuildableClient when next
// is nil). Wrapping a Client again returns it as is.
func Wrap(next aws.HTTPClient) aws.HTTPClient {
	if c, ok := next.(Client); ok {
		return c
	}
	if next == nil {
		next = awshttp.NewBuildableClient()
	}
	return Client{Next: next}
}

// WithBufferedBodies returns cfg with its HTTP client wrapped (Wrap).
func WithBufferedBodies(cfg aws.Config) aws.Config {
	cfg.HTTPClient = Wrap(cfg.HTTPClient)
	return cfg
}

// Do sends req with its body read into memory.
func (c Client) Do(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return c.Next.Do(req)
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(b))
	out.ContentLength = int64(len(b))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return c.Next.Do(out)
}
