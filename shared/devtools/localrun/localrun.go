// Package localrun runs rmmbridge's functions locally the way AWS runs
// them, driven by template.yaml: it creates the template's DynamoDB tables,
// SQS queues and Cognito user pools (with their app clients and groups) in
// moto, builds each function once with the environment its
// template entry gives it, serves the HTTP API (API Gateway payload 2.0
// events, the Lambda authorizer with its result cache), polls each SQS
// event source like the Lambda event source mapping (batch size, batching
// window, partial batch failures, visibility timeouts, redrive) and fires
// each Schedule event's rate like an EventBridge rule (Stack.Trigger fires
// one on demand).
//
// It is the engine behind `rmmbridge dev` and the end-to-end tests; the
// handlers it runs are the same lambdafn.Handlers the Lambda mains run.
package localrun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/devtools/samtemplate"
	"github.com/rmmbridge/rmmbridge/shared/lambdafn"
	"github.com/rmmbridge/rmmbridge/shared/sdkhttp"
)

// Options configure a local stack.
type Options struct {
	// TemplatePath is the SAM template, normally template.yaml.
	TemplatePath string
	// AWS is the SDK config pointed at moto (motoserver.AWSConfig); the
	// functions get it too, with its HTTP client wrapped by sdkhttp.
	AWS aws.Config
	// StackName stands for ${AWS::StackName} and names the resources:
	// "<stack>-<LogicalId>" (FIFO queues end in .fifo) unless the template
	// names them itself.
	StackName string
	// Functions builds each template function, by logical id. A template
	// function without a factory (or a factory for no template function)
	// is an error.
	Functions map[string]lambdafn.Factory
	// ExtraEnv is added to every function's environment (local-only
	// switches); it wins over the template.
	ExtraEnv map[string]string
	// APIAddr is where the HTTP API listens, default "127.0.0.1:3000";
	// "127.0.0.1:0" picks a free port (see Stack.APIURL).
	APIAddr string
	// Logger receives one line per invocation; slog.Default() when nil.
	Logger *slog.Logger
	// PollWait is the ReceiveMessage long-poll wait, default 1 s. Below a
	// second (SQS waits whole seconds) pollers short-poll and pause this
	// long when a queue is empty.
	PollWait time.Duration
	// Pollers is the number of concurrent pollers per standard queue
	// event, default 2, capped by the event's MaximumConcurrency. FIFO
	// queues get one.
	Pollers int
	// ScheduleEvery, when set, replaces the period of every enabled
	// Schedule event (cron ones included), e.g. to run the scheduler each
	// minute in development; 0 keeps the template's rate.
	ScheduleEvery time.Duration
}

// Lambda and API Gateway constants the stack enforces.
const (
	defaultAPIAddr = "127.0.0.1:3000"
	// accountID is moto's default account, the one its ARNs carry.
	accountID = "123456789012"
	// apiID stands for the HTTP API's id in events and ARNs.
	apiID = "local"
	// maxPayload is Lambda's synchronous invocation payload limit.
	maxPayload = 6 * 1024 * 1024
	// maxHTTPBody is API Gateway's HTTP API payload limit.
	maxHTTPBody = 10 * 1024 * 1024
	// authorizerTimeout is API Gateway's limit on a Lambda authorizer.
	authorizerTimeout = 10 * time.Second
)

// Stack is a running local stack.
type Stack struct {
	o    Options
	tmpl *samtemplate.Template
	log  *slog.Logger

	region  string
	tables  map[string]tableInfo
	queues  map[string]queueInfo
	pools   map[string]poolInfo // Cognito user pools (cognito.go)
	clients map[string]string   // their app clients' ids
	funcs   map[string]*function

	sqs sqsAPI

	router   *router
	server   *http.Server
	listener net.Listener
	serveErr chan error

	stopPolling context.CancelFunc
	pollers     sync.WaitGroup
	inflight    sync.WaitGroup
	stopOnce    sync.Once
	stopErr     error
}

type tableInfo struct {
	name string
	arn  string
}

type queueInfo struct {
	name string
	url  string
	arn  string
}

// function is one template function, built.
type function struct {
	id      string
	name    string
	arn     string
	timeout time.Duration
	env     map[string]string
	h       lambdafn.Handlers
}

// Start creates the template's tables and queues (reusing any that exist),
// builds every function, serves the HTTP API and starts the SQS pollers.
func Start(ctx context.Context, o Options) (*Stack, error) {
	if o.StackName == "" {
		return nil, apperr.New(apperr.Invalid, "localrun: StackName is required")
	}
	if o.AWS.Region == "" {
		return nil, apperr.New(apperr.Invalid, "localrun: the AWS config has no region")
	}
	if o.APIAddr == "" {
		o.APIAddr = defaultAPIAddr
	}
	if o.PollWait <= 0 {
		o.PollWait = time.Second
	}
	if o.Pollers <= 0 {
		o.Pollers = 2
	}
	// Every SDK client of the stack — its pollers' and the functions' —
	// sends buffered request bodies: on a loaded machine the SDK's own
	// body races net/http's writer, which then closes a connection under
	// a response being read, and the SDK's retry of a served
	// ReceiveMessage leaves its batch in flight, unseen (sdkhttp).
	o.AWS = sdkhttp.WithBufferedBodies(o.AWS)
	tmpl, err := samtemplate.ParseFile(o.TemplatePath)
	if err != nil {
		return nil, fmt.Errorf("localrun: %w", err)
	}
	s := &Stack{
		o: o, tmpl: tmpl, log: o.Logger, region: o.AWS.Region,
		tables: map[string]tableInfo{}, queues: map[string]queueInfo{}, funcs: map[string]*function{},
		pools: map[string]poolInfo{}, clients: map[string]string{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if err := s.checkFactories(); err != nil {
		return nil, err
	}
	sqsClient := sqs.NewFromConfig(o.AWS)
	s.sqs = sqsClient
	if err := s.createTables(ctx, dynamodb.NewFromConfig(o.AWS)); err != nil {
		return nil, fmt.Errorf("localrun: %w", err)
	}
	if err := s.createQueues(ctx, sqsClient); err != nil {
		return nil, fmt.Errorf("localrun: %w", err)
	}
	if err := s.createUserPools(ctx, cognitoidentityprovider.NewFromConfig(o.AWS)); err != nil {
		return nil, fmt.Errorf("localrun: %w", err)
	}
	if err := s.buildFunctions(ctx); err != nil {
		return nil, fmt.Errorf("localrun: %w", err)
	}
	if s.router, err = s.buildRouter(); err != nil {
		return nil, fmt.Errorf("localrun: %w", err)
	}
	consumers, err := s.buildConsumers()
	if err != nil {
		return nil, fmt.Errorf("localrun: %w", err)
	}
	tickers, err := s.buildTickers()
	if err != nil {
		return nil, fmt.Errorf("localrun: %w", err)
	}
	if s.listener, err = net.Listen("tcp", o.APIAddr); err != nil {
		return nil, fmt.Errorf("localrun: listen for the HTTP API on %s: %w", o.APIAddr, err)
	}
	s.server = &http.Server{Handler: s.router, ReadHeaderTimeout: 10 * time.Second}
	s.serveErr = make(chan error, 1)
	go func() { s.serveErr <- s.server.Serve(s.listener) }()

	pollCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stopPolling = cancel
	for _, c := range consumers {
		for i := 0; i < c.pollers; i++ {
			s.pollers.Add(1)
			go func() {
				defer s.pollers.Done()
				c.run(pollCtx)
			}()
		}
	}
	for _, k := range tickers {
		s.pollers.Add(1)
		go func() {
			defer s.pollers.Done()
			k.run(pollCtx)
		}()
	}
	return s, nil
}

// APIURL is the HTTP API's base URL, e.g. http://127.0.0.1:3000.
func (s *Stack) APIURL() string {
	return "http://" + s.listener.Addr().String()
}

// Env returns (a copy of) the environment a function was built with; nil
// for an unknown function.
func (s *Stack) Env(logicalID string) map[string]string {
	f, ok := s.funcs[logicalID]
	if !ok {
		return nil
	}
	out := make(map[string]string, len(f.env))
	for k, v := range f.env {
		out[k] = v
	}
	return out
}

// QueueURL returns the URL of a template queue, "" for an unknown one.
func (s *Stack) QueueURL(logicalID string) string { return s.queues[logicalID].url }

// TableName returns the name of a template table, "" for an unknown one.
func (s *Stack) TableName(logicalID string) string { return s.tables[logicalID].name }

// Stop stops the HTTP server, the pollers and the schedules and waits for
// in-flight invocations to finish, or for ctx to end. It is safe to call
// twice.
func (s *Stack) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.stopPolling()
		var errs []error
		if err := s.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop HTTP API: %w", err))
		}
		if err := <-s.serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("HTTP API: %w", err))
		}
		done := make(chan struct{})
		go func() {
			s.pollers.Wait()
			s.inflight.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("wait for pollers and in-flight invocations: %w", ctx.Err()))
		}
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}

func (s *Stack) checkFactories() error {
	var missing, unknown []string
	for _, f := range s.tmpl.Functions {
		if s.o.Functions[f.LogicalID] == nil {
			missing = append(missing, f.LogicalID)
		}
	}
	for id := range s.o.Functions {
		if _, ok := s.tmpl.Function(id); !ok {
			unknown = append(unknown, id)
		}
	}
	sort.Strings(unknown)
	switch {
	case len(missing) > 0:
		return apperr.New(apperr.Invalid, "localrun: no factory for template functions %v", missing)
	case len(unknown) > 0:
		return apperr.New(apperr.Invalid, "localrun: factories for functions not in the template: %v", unknown)
	}
	return nil
}

// resolver evaluates template intrinsics against the created resources.
func (s *Stack) resolver() samtemplate.Resolver {
	return samtemplate.Resolver{
		StackName: s.o.StackName,
		Region:    s.region,
		AccountID: accountID,
		Ref:       s.ref,
		GetAtt:    s.getAtt,
	}
}

func (s *Stack) ref(id string) (string, error) {
	if t, ok := s.tables[id]; ok {
		return t.name, nil
	}
	if q, ok := s.queues[id]; ok {
		return q.url, nil // Ref of an SQS queue is its URL
	}
	if p, ok := s.pools[id]; ok {
		return p.id, nil // Ref of a user pool is its id
	}
	if c, ok := s.clients[id]; ok {
		return c, nil // Ref of an app client is its client id
	}
	if f, ok := s.funcs[id]; ok {
		return f.name, nil
	}
	if _, ok := s.tmpl.HTTPAPI(id); ok {
		return apiID, nil
	}
	if _, ok := s.tmpl.Function(id); ok {
		return s.functionName(id)
	}
	return "", fmt.Errorf("resource %s (%s) is not available locally", id, s.tmpl.Resources[id].Type)
}

func (s *Stack) getAtt(id, attr string) (string, error) {
	if q, ok := s.queues[id]; ok {
		switch attr {
		case "Arn":
			return q.arn, nil
		case "QueueUrl":
			return q.url, nil
		case "QueueName":
			return q.name, nil
		}
	}
	if t, ok := s.tables[id]; ok && attr == "Arn" {
		return t.arn, nil
	}
	if p, ok := s.pools[id]; ok {
		switch attr {
		case "Arn":
			return p.arn, nil
		case "ProviderURL": // the issuer of the pool's tokens
			return "https://" + s.poolProviderName(p.id), nil
		case "ProviderName":
			return s.poolProviderName(p.id), nil
		case "UserPoolId":
			return p.id, nil
		}
	}
	if _, ok := s.tmpl.Function(id); ok && attr == "Arn" {
		name, err := s.functionName(id)
		if err != nil {
			return "", err
		}
		return s.functionARN(name), nil
	}
	return "", fmt.Errorf("attribute %s of %s (%s) is not available locally", attr, id, s.tmpl.Resources[id].Type)
}

func (s *Stack) functionName(id string) (string, error) {
	f, _ := s.tmpl.Function(id)
	if f.FunctionName == nil {
		return s.o.StackName + "-" + id, nil
	}
	r := s.resolver()
	r.Ref, r.GetAtt = nil, nil // a name from other resources would recurse
	return s.tmpl.Resolve(f.FunctionName, r)
}

func (s *Stack) functionARN(name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", s.region, accountID, name)
}

// buildFunctions resolves each function's environment and runs its factory.
func (s *Stack) buildFunctions(ctx context.Context) error {
	for _, tf := range s.tmpl.Functions {
		name, err := s.functionName(tf.LogicalID)
		if err != nil {
			return fmt.Errorf("function %s name: %w", tf.LogicalID, err)
		}
		env, err := s.functionEnv(tf, name)
		if err != nil {
			return err
		}
		getenv := func(k string) string { return env[k] }
		h, err := s.o.Functions[tf.LogicalID](ctx, getenv, s.o.AWS)
		if err != nil {
			return fmt.Errorf("build function %s: %w", tf.LogicalID, err)
		}
		if err := checkHandlers(tf, h); err != nil {
			return err
		}
		s.funcs[tf.LogicalID] = &function{
			id: tf.LogicalID, name: name, arn: s.functionARN(name),
			timeout: time.Duration(tf.Timeout) * time.Second, env: env, h: h,
		}
	}
	for _, api := range s.tmpl.HTTPAPIs {
		for _, a := range api.Authorizers {
			if a.FunctionRef != "" && s.funcs[a.FunctionRef].h.Authorizer == nil {
				return apperr.New(apperr.Invalid, "function %s is authorizer %s but its factory gave no Authorizer handler", a.FunctionRef, a.Name)
			}
		}
	}
	return nil
}

// functionEnv is a function's environment: its template variables resolved
// against the created resources, the local switches, and what the Lambda
// runtime sets for every function.
func (s *Stack) functionEnv(tf samtemplate.Function, name string) (map[string]string, error) {
	env, err := s.tmpl.ResolveMap(tf.Environment, s.resolver())
	if err != nil {
		return nil, fmt.Errorf("function %s environment: %w", tf.LogicalID, err)
	}
	for k, v := range s.o.ExtraEnv {
		env[k] = v
	}
	env["AWS_REGION"] = s.region
	env["AWS_DEFAULT_REGION"] = s.region
	env["AWS_LAMBDA_FUNCTION_NAME"] = name
	env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = strconv.Itoa(tf.MemorySize)
	return env, nil
}

// FunctionEnv is one function's environment and timeout, as Start gives
// them.
type FunctionEnv struct {
	Env     map[string]string
	Timeout time.Duration
}

// Environments creates the template's tables and queues (reusing any that
// exist, so a running stack's are shared) and returns every function's
// environment, keyed by logical id, as Start would give it — without
// building a function, serving the API or polling a queue. It is for
// running the real bootstraps elsewhere (shared/devtools/rie); Options'
// Functions, APIAddr and polling fields are ignored.
func Environments(ctx context.Context, o Options) (map[string]FunctionEnv, error) {
	if o.StackName == "" {
		return nil, apperr.New(apperr.Invalid, "localrun: StackName is required")
	}
	if o.AWS.Region == "" {
		return nil, apperr.New(apperr.Invalid, "localrun: the AWS config has no region")
	}
	tmpl, err := samtemplate.ParseFile(o.TemplatePath)
	if err != nil {
		return nil, fmt.Errorf("localrun: %w", err)
	}
	s := &Stack{o: o, tmpl: tmpl, region: o.AWS.Region,
		tables: map[string]tableInfo{}, queues: map[string]queueInfo{}, funcs: map[string]*function{},
		pools: map[string]poolInfo{}, clients: map[string]string{}}
	if err := s.createTables(ctx, dynamodb.NewFromConfig(o.AWS)); err != nil {
		return nil, fmt.Errorf("localrun: %w", err)
	}
	if err := s.createQueues(ctx, sqs.NewFromConfig(o.AWS)); err != nil {
		return nil, fmt.Errorf("localrun: %w", err)
	}
	if err := s.createUserPools(ctx, cognitoidentityprovider.NewFromConfig(o.AWS)); err != nil {
		return nil, fmt.Errorf("localrun: %w", err)
	}
	out := map[string]FunctionEnv{}
	for _, tf := range tmpl.Functions {
		name, err := s.functionName(tf.LogicalID)
		if err != nil {
			return nil, fmt.Errorf("localrun: function %s name: %w", tf.LogicalID, err)
		}
		env, err := s.functionEnv(tf, name)
		if err != nil {
			return nil, fmt.Errorf("localrun: %w", err)
		}
		out[tf.LogicalID] = FunctionEnv{Env: env, Timeout: time.Duration(tf.Timeout) * time.Second}
	}
	return out, nil
}

// checkHandlers makes sure a function answers every trigger its template
// entry gives it.
func checkHandlers(tf samtemplate.Function, h lambdafn.Handlers) error {
	for _, e := range tf.Events {
		switch {
		case e.HTTPAPI != nil && h.HTTP == nil:
			return apperr.New(apperr.Invalid, "function %s has HttpApi event %s but its factory gave no HTTP handler", tf.LogicalID, e.Name)
		case e.SQS != nil && h.SQS == nil:
			return apperr.New(apperr.Invalid, "function %s has SQS event %s but its factory gave no SQS handler", tf.LogicalID, e.Name)
		case e.Schedule != nil && h.Scheduled == nil:
			return apperr.New(apperr.Invalid, "function %s has Schedule event %s but its factory gave no Scheduled handler", tf.LogicalID, e.Name)
		}
	}
	return nil
}
