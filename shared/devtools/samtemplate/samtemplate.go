// Package samtemplate reads rmmbridge's SAM template (template.yaml) into a
// typed model: the Globals merged into each function, parameters with their
// defaults, functions with their HTTP API, SQS and Schedule events, SQS
// queues with their redrive policies, DynamoDB tables, the HTTP API's
// Lambda authorizers, and Cognito user pools with their app clients and
// groups.
//
// It parses with yaml.v3's Node API so that the short-form intrinsics
// (!Ref, !GetAtt, !Sub) survive; values that depend on deployed resources
// (environment variables, queue names) stay as nodes and are evaluated later
// through a caller-supplied Resolver (see Template.Resolve). The local stack
// uses it to run the handlers against moto, the template tests to check the
// template's invariants.
package samtemplate

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// Resource types the model understands. Other resources are kept in
// Template.Resources only.
const (
	TypeFunction = "AWS::Serverless::Function"
	TypeHTTPAPI  = "AWS::Serverless::HttpApi"
	TypeQueue    = "AWS::SQS::Queue"
	TypeTable    = "AWS::DynamoDB::Table"
)

// ImplicitHTTPAPI is the logical id SAM gives the HTTP API it creates for
// HttpApi events that name no ApiId.
const ImplicitHTTPAPI = "ServerlessHttpApi"

// Defaults SAM, Lambda, SQS and API Gateway apply when the template is
// silent.
const (
	DefaultTimeout                = 3      // Lambda function timeout, seconds
	DefaultMemorySize             = 128    // Lambda memory, MB
	DefaultBatchSize              = 10     // SQS event source mapping
	DefaultVisibilityTimeout      = 30     // SQS, seconds
	DefaultMessageRetentionPeriod = 345600 // SQS, seconds (4 days)
	DefaultIntegrationTimeoutMs   = 30000  // HTTP API Lambda integration, the hard maximum
)

// Template is a parsed SAM template.
type Template struct {
	// Parameters in template order.
	Parameters []Parameter
	// Globals are the function defaults from the Globals section; they are
	// already merged into every Function.
	Globals Globals
	// Functions, queues, tables and HTTP APIs, each in template order.
	Functions []Function
	Queues    []Queue
	Tables    []Table
	HTTPAPIs  []HTTPAPI
	// Cognito user pools, their app clients and groups, in template order
	// (cognito.go).
	UserPools       []UserPool
	UserPoolClients []UserPoolClient
	UserPoolGroups  []UserPoolGroup
	// Resources holds every resource of the template by logical id,
	// including those the model does not interpret (alarms, ...).
	Resources map[string]Resource
}

// Resource is one entry of the template's Resources section.
type Resource struct {
	LogicalID  string
	Type       string
	Properties *yaml.Node // nil when the resource has none
	Line       int
}

// Parameter is one template parameter.
type Parameter struct {
	Name       string
	Type       string
	Default    string
	HasDefault bool
	Line       int
}

// Globals holds the Globals section's function defaults.
type Globals struct {
	Function FunctionDefaults
}

// FunctionDefaults are the Globals.Function properties the model uses.
// Zero values mean "not set in Globals".
type FunctionDefaults struct {
	CodeURI     string
	Handler     string
	Runtime     string
	Timeout     int
	MemorySize  int
	Environment map[string]*yaml.Node
}

// Function is an AWS::Serverless::Function with Globals applied.
type Function struct {
	LogicalID string
	Line      int
	CodeURI   string
	Handler   string
	Runtime   string
	// Timeout is in seconds (DefaultTimeout when neither the function nor
	// Globals sets it); MemorySize in MB.
	Timeout    int
	MemorySize int
	// Environment maps each variable (Globals and the function's own, the
	// function's winning) to its unevaluated value; see Template.Resolve.
	Environment map[string]*yaml.Node
	// FunctionName is the explicit name node, nil when the template lets
	// CloudFormation name the function.
	FunctionName *yaml.Node
	// Events in template order.
	Events []Event
}

// Event is one entry of a function's Events. HTTPAPI is set for HttpApi
// events, SQS for SQS events, Schedule for Schedule events; other event
// types carry only Name and Type.
type Event struct {
	Name     string
	Type     string
	Line     int
	HTTPAPI  *HTTPAPIEvent
	SQS      *SQSEvent
	Schedule *ScheduleEvent
}

// HTTPAPIEvent is an HttpApi event: one route of an HTTP API.
type HTTPAPIEvent struct {
	// Method is upper case ("GET", "ANY"); Path a route path with {param}
	// and {proxy+} variables. Both empty: the $default route.
	Method string
	Path   string
	// APIRef is the logical id of the AWS::Serverless::HttpApi the route
	// belongs to (ImplicitHTTPAPI when the event names none).
	APIRef string
	// AuthNone is set by Auth: {Authorizer: NONE}; Authorizer names a
	// route-specific authorizer. Neither: the API's DefaultAuthorizer.
	AuthNone   bool
	Authorizer string
	// TimeoutInMillis is the integration timeout (default and maximum
	// DefaultIntegrationTimeoutMs).
	TimeoutInMillis      int
	PayloadFormatVersion string
}

// RouteKey returns the route key API Gateway gives the route: "GET /x/{id}"
// or "$default".
func (e HTTPAPIEvent) RouteKey() string {
	if e.Method == "" && e.Path == "" {
		return "$default"
	}
	return e.Method + " " + e.Path
}

// SQSEvent is an SQS event: a Lambda event source mapping.
type SQSEvent struct {
	// QueueRef is the logical id of the source queue (from
	// !GetAtt Queue.Arn); empty when Queue is a literal ARN, kept in Queue.
	QueueRef                       string
	Queue                          *yaml.Node
	BatchSize                      int
	MaximumBatchingWindowInSeconds int
	FunctionResponseTypes          []string
	// ReportBatchItemFailures is FunctionResponseTypes containing it.
	ReportBatchItemFailures bool
	// MaximumConcurrency is ScalingConfig.MaximumConcurrency, 0 when unset.
	MaximumConcurrency int
	Enabled            bool
}

// ScheduleEvent is a Schedule event: an EventBridge rule that invokes the
// function on a rate or cron expression.
type ScheduleEvent struct {
	// Expression is the rule's ScheduleExpression, "rate(5 minutes)" or
	// "cron(0 12 * * ? *)"; its syntax is checked, not its meaning.
	Expression string
	// Enabled is false when the rule is created disabled (Enabled: false
	// or State: DISABLED).
	Enabled bool
}

// Queue is an AWS::SQS::Queue.
type Queue struct {
	LogicalID string
	Line      int
	Fifo      bool
	// VisibilityTimeout and MessageRetentionPeriod are in seconds, with
	// SQS's defaults when unset.
	VisibilityTimeout         int
	MessageRetentionPeriod    int
	DelaySeconds              int
	ContentBasedDeduplication bool
	DeduplicationScope        string
	FifoThroughputLimit       string
	// RedrivePolicy is nil when the queue has none.
	RedrivePolicy *RedrivePolicy
	// QueueName is the explicit name node, nil when unset.
	QueueName *yaml.Node
}

// RedrivePolicy sends a message to a dead-letter queue after
// MaxReceiveCount receives.
type RedrivePolicy struct {
	// DLQRef is the logical id of the dead-letter queue (from
	// !GetAtt DLQ.Arn); empty when the target is a literal ARN.
	DLQRef              string
	DeadLetterTargetArn *yaml.Node
	MaxReceiveCount     int
}

// Table is an AWS::DynamoDB::Table.
type Table struct {
	LogicalID              string
	Line                   int
	TableName              *yaml.Node // nil when unset
	BillingMode            string
	KeySchema              []KeyElement
	AttributeDefinitions   []AttributeDefinition
	GlobalSecondaryIndexes []SecondaryIndex
	LocalSecondaryIndexes  []SecondaryIndex
	// TTLAttribute is the enabled time-to-live attribute, "" when none.
	TTLAttribute string
}

// KeyElement is one key attribute: KeyType HASH or RANGE.
type KeyElement struct {
	AttributeName string
	KeyType       string
}

// AttributeDefinition declares a key attribute's type: S, N or B.
type AttributeDefinition struct {
	AttributeName string
	AttributeType string
}

// SecondaryIndex is a GSI or LSI.
type SecondaryIndex struct {
	IndexName        string
	KeySchema        []KeyElement
	ProjectionType   string
	NonKeyAttributes []string
}

// HTTPAPI is an AWS::Serverless::HttpApi (or the implicit one SAM creates).
type HTTPAPI struct {
	LogicalID string
	Line      int
	Implicit  bool
	// Authorizers in template order; DefaultAuthorizer names the one every
	// route uses unless it says otherwise ("" for none).
	Authorizers       []Authorizer
	DefaultAuthorizer string
}

// Authorizer returns the named authorizer.
func (a HTTPAPI) Authorizer(name string) (Authorizer, bool) {
	for _, au := range a.Authorizers {
		if au.Name == name {
			return au, true
		}
	}
	return Authorizer{}, false
}

// Authorizer is one of an HTTP API's authorizers. Lambda authorizers have
// FunctionRef (or FunctionArn); JWT authorizers have JWT set and nothing
// else the model interprets.
type Authorizer struct {
	Name string
	JWT  bool
	// FunctionRef is the logical id of the authorizer function (from
	// !GetAtt Fn.Arn).
	FunctionRef          string
	FunctionArn          *yaml.Node
	PayloadFormatVersion string
	SimpleResponses      bool
	// IdentityHeaders and IdentityQueryStrings are the identity sources,
	// in template order.
	IdentityHeaders      []string
	IdentityQueryStrings []string
	// ReauthorizeEvery is the result cache TTL in seconds; 0 disables the
	// cache.
	ReauthorizeEvery int
}

// ParseFile reads and parses a template file.
func ParseFile(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read template: %w", err)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", path, err)
	}
	return t, nil
}

// Parse parses a template. Errors name the template line at fault.
func Parse(data []byte) (*Template, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, apperr.Wrap(apperr.Invalid, err, "template is not valid YAML")
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, apperr.New(apperr.Invalid, "template is empty")
	}
	root := deref(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		return nil, errAt(root, "template must be a mapping")
	}
	t := &Template{Resources: map[string]Resource{}}
	p := parser{t: t}
	if n := lookup(root, "Parameters"); n != nil {
		if err := p.parameters(n); err != nil {
			return nil, err
		}
	}
	resources := lookup(root, "Resources")
	if resources == nil || resources.Kind != yaml.MappingNode {
		return nil, errAt(root, "template has no Resources mapping")
	}
	// Resources first, so that references can be checked while parsing.
	for i := 0; i+1 < len(resources.Content); i += 2 {
		k, v := resources.Content[i], deref(resources.Content[i+1])
		if v.Kind != yaml.MappingNode {
			return nil, errAt(v, "resource %s must be a mapping", k.Value)
		}
		typ := scalar(lookup(v, "Type"))
		if typ == "" {
			return nil, errAt(v, "resource %s has no Type", k.Value)
		}
		t.Resources[k.Value] = Resource{LogicalID: k.Value, Type: typ, Properties: lookup(v, "Properties"), Line: k.Line}
	}
	var globalAPI *yaml.Node
	if g := lookup(root, "Globals"); g != nil {
		if fn := lookup(g, "Function"); fn != nil {
			d, err := p.functionDefaults(fn)
			if err != nil {
				return nil, err
			}
			t.Globals.Function = d
		}
		globalAPI = lookup(g, "HttpApi")
	}
	for i := 0; i+1 < len(resources.Content); i += 2 {
		id := resources.Content[i].Value
		r := t.Resources[id]
		props := r.Properties
		if props == nil {
			props = &yaml.Node{Kind: yaml.MappingNode, Line: r.Line}
		} else if props.Kind != yaml.MappingNode {
			return nil, errAt(props, "%s: Properties must be a mapping", id)
		}
		var err error
		switch r.Type {
		case TypeFunction:
			err = p.function(id, r.Line, props)
		case TypeQueue:
			err = p.queue(id, r.Line, props)
		case TypeTable:
			err = p.table(id, r.Line, props)
		case TypeHTTPAPI:
			err = p.httpAPI(id, r.Line, props)
		case TypeUserPool:
			err = p.userPool(id, r.Line, props)
		case TypeUserPoolClient:
			err = p.userPoolClient(id, r.Line, props)
		case TypeUserPoolGroup:
			err = p.userPoolGroup(id, r.Line, props)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := p.implicitAPI(globalAPI); err != nil {
		return nil, err
	}
	if err := p.checkRoutes(); err != nil {
		return nil, err
	}
	return t, nil
}

// Function returns the function with the logical id.
func (t *Template) Function(id string) (*Function, bool) {
	for i := range t.Functions {
		if t.Functions[i].LogicalID == id {
			return &t.Functions[i], true
		}
	}
	return nil, false
}

// Queue returns the queue with the logical id.
func (t *Template) Queue(id string) (*Queue, bool) {
	for i := range t.Queues {
		if t.Queues[i].LogicalID == id {
			return &t.Queues[i], true
		}
	}
	return nil, false
}

// Table returns the table with the logical id.
func (t *Template) Table(id string) (*Table, bool) {
	for i := range t.Tables {
		if t.Tables[i].LogicalID == id {
			return &t.Tables[i], true
		}
	}
	return nil, false
}

// HTTPAPI returns the HTTP API with the logical id.
func (t *Template) HTTPAPI(id string) (*HTTPAPI, bool) {
	for i := range t.HTTPAPIs {
		if t.HTTPAPIs[i].LogicalID == id {
			return &t.HTTPAPIs[i], true
		}
	}
	return nil, false
}

// Parameter returns the named parameter.
func (t *Template) Parameter(name string) (*Parameter, bool) {
	for i := range t.Parameters {
		if t.Parameters[i].Name == name {
			return &t.Parameters[i], true
		}
	}
	return nil, false
}

// QueuesInCreationOrder returns the queues with every dead-letter queue
// before the queues that redrive to it.
func (t *Template) QueuesInCreationOrder() []Queue {
	var out []Queue
	done := map[string]bool{}
	var visit func(q Queue, depth int)
	visit = func(q Queue, depth int) {
		if done[q.LogicalID] || depth > len(t.Queues) {
			return
		}
		if q.RedrivePolicy != nil && q.RedrivePolicy.DLQRef != "" {
			if dlq, ok := t.Queue(q.RedrivePolicy.DLQRef); ok {
				visit(*dlq, depth+1)
			}
		}
		if !done[q.LogicalID] {
			done[q.LogicalID] = true
			out = append(out, q)
		}
	}
	for _, q := range t.Queues {
		visit(q, 0)
	}
	return out
}

type parser struct {
	t *Template
}

func (p *parser) parameters(n *yaml.Node) error {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		return errAt(n, "Parameters must be a mapping")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		if v.Kind != yaml.MappingNode {
			return errAt(v, "parameter %s must be a mapping", k.Value)
		}
		par := Parameter{Name: k.Value, Type: scalar(lookup(v, "Type")), Line: k.Line}
		if d := lookup(v, "Default"); d != nil {
			if d.Kind != yaml.ScalarNode {
				return errAt(d, "parameter %s: Default must be a scalar", k.Value)
			}
			par.Default, par.HasDefault = d.Value, true
		}
		p.t.Parameters = append(p.t.Parameters, par)
	}
	return nil
}

func (p *parser) functionDefaults(n *yaml.Node) (FunctionDefaults, error) {
	n = deref(n)
	var d FunctionDefaults
	if n.Kind != yaml.MappingNode {
		return d, errAt(n, "Globals.Function must be a mapping")
	}
	var err error
	d.CodeURI, d.Handler, d.Runtime = scalar(lookup(n, "CodeUri")), scalar(lookup(n, "Handler")), scalar(lookup(n, "Runtime"))
	if d.Timeout, err = p.intProp(n, "Timeout", 0); err != nil {
		return d, err
	}
	if d.MemorySize, err = p.intProp(n, "MemorySize", 0); err != nil {
		return d, err
	}
	d.Environment, err = environment(n)
	return d, err
}

func environment(props *yaml.Node) (map[string]*yaml.Node, error) {
	env := lookup(props, "Environment")
	if env == nil {
		return nil, nil
	}
	vars := lookup(env, "Variables")
	if vars == nil {
		return nil, nil
	}
	if vars.Kind != yaml.MappingNode {
		return nil, errAt(vars, "Environment.Variables must be a mapping")
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(vars.Content); i += 2 {
		out[vars.Content[i].Value] = vars.Content[i+1]
	}
	return out, nil
}

func (p *parser) function(id string, line int, props *yaml.Node) error {
	g := p.t.Globals.Function
	f := Function{LogicalID: id, Line: line, CodeURI: g.CodeURI, Handler: g.Handler, Runtime: g.Runtime,
		Timeout: DefaultTimeout, MemorySize: DefaultMemorySize, FunctionName: lookup(props, "FunctionName")}
	if g.Timeout > 0 {
		f.Timeout = g.Timeout
	}
	if g.MemorySize > 0 {
		f.MemorySize = g.MemorySize
	}
	if v := scalar(lookup(props, "CodeUri")); v != "" {
		f.CodeURI = v
	}
	if v := scalar(lookup(props, "Handler")); v != "" {
		f.Handler = v
	}
	if v := scalar(lookup(props, "Runtime")); v != "" {
		f.Runtime = v
	}
	var err error
	if f.Timeout, err = p.intProp(props, "Timeout", f.Timeout); err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	if f.MemorySize, err = p.intProp(props, "MemorySize", f.MemorySize); err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	own, err := environment(props)
	if err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	if len(g.Environment)+len(own) > 0 {
		f.Environment = map[string]*yaml.Node{}
		for k, v := range g.Environment {
			f.Environment[k] = v
		}
		for k, v := range own {
			f.Environment[k] = v
		}
	}
	if evs := lookup(props, "Events"); evs != nil {
		if evs.Kind != yaml.MappingNode {
			return errAt(evs, "%s: Events must be a mapping", id)
		}
		for i := 0; i+1 < len(evs.Content); i += 2 {
			ev, err := p.event(evs.Content[i].Value, deref(evs.Content[i+1]))
			if err != nil {
				return fmt.Errorf("%s: %w", id, err)
			}
			f.Events = append(f.Events, ev)
		}
	}
	p.t.Functions = append(p.t.Functions, f)
	return nil
}

func (p *parser) event(name string, n *yaml.Node) (Event, error) {
	if n.Kind != yaml.MappingNode {
		return Event{}, errAt(n, "event %s must be a mapping", name)
	}
	ev := Event{Name: name, Type: scalar(lookup(n, "Type")), Line: n.Line}
	props := lookup(n, "Properties")
	if props == nil {
		props = &yaml.Node{Kind: yaml.MappingNode, Line: n.Line}
	}
	var err error
	switch ev.Type {
	case "HttpApi":
		ev.HTTPAPI, err = p.httpAPIEvent(props)
	case "SQS":
		ev.SQS, err = p.sqsEvent(props)
	case "Schedule":
		ev.Schedule, err = p.scheduleEvent(props)
	case "":
		err = errAt(n, "event %s has no Type", name)
	}
	if err != nil {
		return Event{}, fmt.Errorf("event %s: %w", name, err)
	}
	return ev, nil
}

func (p *parser) httpAPIEvent(props *yaml.Node) (*HTTPAPIEvent, error) {
	e := &HTTPAPIEvent{
		Method:               strings.ToUpper(scalar(lookup(props, "Method"))),
		Path:                 scalar(lookup(props, "Path")),
		APIRef:               ImplicitHTTPAPI,
		PayloadFormatVersion: "2.0",
	}
	if v := scalar(lookup(props, "PayloadFormatVersion")); v != "" {
		e.PayloadFormatVersion = v
	}
	if (e.Method == "") != (e.Path == "") {
		return nil, errAt(props, "HttpApi event needs both Method and Path (or neither, for $default)")
	}
	if e.Path != "" {
		if err := checkRoutePath(e.Path); err != nil {
			return nil, errAt(lookup(props, "Path"), "%v", err)
		}
	}
	if api := lookup(props, "ApiId"); api != nil {
		ref, err := p.refTarget(api, TypeHTTPAPI)
		if err != nil {
			return nil, err
		}
		e.APIRef = ref
	}
	if auth := lookup(props, "Auth"); auth != nil {
		switch name := scalar(lookup(auth, "Authorizer")); name {
		case "":
		case "NONE":
			e.AuthNone = true
		default:
			e.Authorizer = name
		}
	}
	var err error
	if e.TimeoutInMillis, err = p.intProp(props, "TimeoutInMillis", DefaultIntegrationTimeoutMs); err != nil {
		return nil, err
	}
	if e.TimeoutInMillis < 50 || e.TimeoutInMillis > DefaultIntegrationTimeoutMs {
		return nil, errAt(lookup(props, "TimeoutInMillis"), "TimeoutInMillis must be 50-%d", DefaultIntegrationTimeoutMs)
	}
	return e, nil
}

// checkRoutePath validates an HTTP API route path: it starts with "/",
// variables fill a whole segment, and a greedy variable comes last.
func checkRoutePath(path string) error {
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("route path %q must start with /", path)
	}
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i, s := range segs {
		open, close := strings.Contains(s, "{"), strings.Contains(s, "}")
		if !open && !close {
			continue
		}
		if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") || len(s) < 3 {
			return fmt.Errorf("route path %q: a variable must be a whole segment", path)
		}
		if strings.HasSuffix(s, "+}") && i != len(segs)-1 {
			return fmt.Errorf("route path %q: a greedy variable must be last", path)
		}
	}
	return nil
}

func (p *parser) sqsEvent(props *yaml.Node) (*SQSEvent, error) {
	e := &SQSEvent{Queue: lookup(props, "Queue")}
	if e.Queue == nil {
		return nil, errAt(props, "SQS event has no Queue")
	}
	ref, err := p.arnTarget(e.Queue, TypeQueue)
	if err != nil {
		return nil, err
	}
	e.QueueRef = ref
	if e.BatchSize, err = p.intProp(props, "BatchSize", DefaultBatchSize); err != nil {
		return nil, err
	}
	if e.MaximumBatchingWindowInSeconds, err = p.intProp(props, "MaximumBatchingWindowInSeconds", 0); err != nil {
		return nil, err
	}
	if e.Enabled, err = p.boolProp(props, "Enabled", true); err != nil {
		return nil, err
	}
	if frt := lookup(props, "FunctionResponseTypes"); frt != nil {
		if frt.Kind != yaml.SequenceNode {
			return nil, errAt(frt, "FunctionResponseTypes must be a list")
		}
		for _, v := range frt.Content {
			s := scalar(v)
			e.FunctionResponseTypes = append(e.FunctionResponseTypes, s)
			if s == "ReportBatchItemFailures" {
				e.ReportBatchItemFailures = true
			}
		}
	}
	if sc := lookup(props, "ScalingConfig"); sc != nil {
		if e.MaximumConcurrency, err = p.intProp(sc, "MaximumConcurrency", 0); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// scheduleEvent reads a Schedule event: Schedule (a rate(...) or cron(...)
// expression) and Enabled or State, not both (SAM refuses both).
func (p *parser) scheduleEvent(props *yaml.Node) (*ScheduleEvent, error) {
	n := lookup(props, "Schedule")
	e := &ScheduleEvent{Expression: strings.TrimSpace(scalar(n))}
	if e.Expression == "" {
		return nil, errAt(props, "Schedule event has no Schedule expression")
	}
	fn, body, ok := strings.Cut(e.Expression, "(")
	if !ok || (fn != "rate" && fn != "cron") || !strings.HasSuffix(body, ")") || strings.TrimSpace(strings.TrimSuffix(body, ")")) == "" {
		return nil, errAt(n, "Schedule %q is neither rate(...) nor cron(...)", e.Expression)
	}
	var err error
	if e.Enabled, err = p.boolProp(props, "Enabled", true); err != nil {
		return nil, err
	}
	if st := lookup(props, "State"); st != nil {
		if lookup(props, "Enabled") != nil {
			return nil, errAt(st, "Schedule event sets both Enabled and State")
		}
		switch v, _ := p.literal(st); v {
		case "ENABLED":
		case "DISABLED":
			e.Enabled = false
		default:
			return nil, errAt(st, "State must be ENABLED or DISABLED, got %q", v)
		}
	}
	return e, nil
}

func (p *parser) queue(id string, line int, props *yaml.Node) error {
	q := Queue{LogicalID: id, Line: line, QueueName: lookup(props, "QueueName"),
		DeduplicationScope:  scalar(lookup(props, "DeduplicationScope")),
		FifoThroughputLimit: scalar(lookup(props, "FifoThroughputLimit")),
	}
	var err error
	wrap := func(err error) error { return fmt.Errorf("%s: %w", id, err) }
	if q.Fifo, err = p.boolProp(props, "FifoQueue", false); err != nil {
		return wrap(err)
	}
	if q.ContentBasedDeduplication, err = p.boolProp(props, "ContentBasedDeduplication", false); err != nil {
		return wrap(err)
	}
	if q.VisibilityTimeout, err = p.intProp(props, "VisibilityTimeout", DefaultVisibilityTimeout); err != nil {
		return wrap(err)
	}
	if q.MessageRetentionPeriod, err = p.intProp(props, "MessageRetentionPeriod", DefaultMessageRetentionPeriod); err != nil {
		return wrap(err)
	}
	if q.DelaySeconds, err = p.intProp(props, "DelaySeconds", 0); err != nil {
		return wrap(err)
	}
	if rp := lookup(props, "RedrivePolicy"); rp != nil {
		if q.RedrivePolicy, err = p.redrivePolicy(rp); err != nil {
			return wrap(err)
		}
	}
	p.t.Queues = append(p.t.Queues, q)
	return nil
}

func (p *parser) redrivePolicy(n *yaml.Node) (*RedrivePolicy, error) {
	if n.Kind == yaml.ScalarNode {
		// CloudFormation also takes the policy as a JSON string.
		var raw struct {
			DeadLetterTargetArn string          `json:"deadLetterTargetArn"`
			MaxReceiveCount     json.RawMessage `json:"maxReceiveCount"`
		}
		if err := json.Unmarshal([]byte(n.Value), &raw); err != nil {
			return nil, errAt(n, "RedrivePolicy is neither a mapping nor JSON: %v", err)
		}
		count, err := strconv.Atoi(strings.Trim(string(raw.MaxReceiveCount), `"`))
		if err != nil {
			return nil, errAt(n, "RedrivePolicy maxReceiveCount must be an integer")
		}
		return &RedrivePolicy{DeadLetterTargetArn: &yaml.Node{Kind: yaml.ScalarNode, Value: raw.DeadLetterTargetArn, Line: n.Line},
			MaxReceiveCount: count}, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, errAt(n, "RedrivePolicy must be a mapping")
	}
	target := lookup(n, "deadLetterTargetArn")
	if target == nil {
		return nil, errAt(n, "RedrivePolicy has no deadLetterTargetArn")
	}
	ref, err := p.arnTarget(target, TypeQueue)
	if err != nil {
		return nil, err
	}
	count, err := p.intProp(n, "maxReceiveCount", 0)
	if err != nil {
		return nil, err
	}
	if count < 1 || count > 1000 {
		return nil, errAt(n, "RedrivePolicy maxReceiveCount must be 1-1000")
	}
	return &RedrivePolicy{DLQRef: ref, DeadLetterTargetArn: target, MaxReceiveCount: count}, nil
}

func (p *parser) table(id string, line int, props *yaml.Node) error {
	tb := Table{LogicalID: id, Line: line, TableName: lookup(props, "TableName"),
		BillingMode: scalar(lookup(props, "BillingMode"))}
	var err error
	if tb.KeySchema, err = keySchema(lookup(props, "KeySchema")); err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	if len(tb.KeySchema) == 0 {
		return errAt(props, "%s: table has no KeySchema", id)
	}
	if ad := lookup(props, "AttributeDefinitions"); ad != nil {
		if ad.Kind != yaml.SequenceNode {
			return errAt(ad, "%s: AttributeDefinitions must be a list", id)
		}
		for _, a := range ad.Content {
			tb.AttributeDefinitions = append(tb.AttributeDefinitions, AttributeDefinition{
				AttributeName: scalar(lookup(a, "AttributeName")), AttributeType: scalar(lookup(a, "AttributeType"))})
		}
	}
	if tb.GlobalSecondaryIndexes, err = secondaryIndexes(lookup(props, "GlobalSecondaryIndexes")); err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	if tb.LocalSecondaryIndexes, err = secondaryIndexes(lookup(props, "LocalSecondaryIndexes")); err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	if ttl := lookup(props, "TimeToLiveSpecification"); ttl != nil {
		on, err := p.boolProp(ttl, "Enabled", false)
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		if on {
			tb.TTLAttribute = scalar(lookup(ttl, "AttributeName"))
		}
	}
	p.t.Tables = append(p.t.Tables, tb)
	return nil
}

func keySchema(n *yaml.Node) ([]KeyElement, error) {
	if n == nil {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, errAt(n, "KeySchema must be a list")
	}
	var out []KeyElement
	for _, k := range n.Content {
		e := KeyElement{AttributeName: scalar(lookup(k, "AttributeName")), KeyType: scalar(lookup(k, "KeyType"))}
		if e.AttributeName == "" || (e.KeyType != "HASH" && e.KeyType != "RANGE") {
			return nil, errAt(k, "KeySchema entry needs AttributeName and KeyType HASH or RANGE")
		}
		out = append(out, e)
	}
	return out, nil
}

func secondaryIndexes(n *yaml.Node) ([]SecondaryIndex, error) {
	if n == nil {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, errAt(n, "secondary indexes must be a list")
	}
	var out []SecondaryIndex
	for _, g := range n.Content {
		ix := SecondaryIndex{IndexName: scalar(lookup(g, "IndexName"))}
		ks, err := keySchema(lookup(g, "KeySchema"))
		if err != nil {
			return nil, err
		}
		ix.KeySchema = ks
		if pr := lookup(g, "Projection"); pr != nil {
			ix.ProjectionType = scalar(lookup(pr, "ProjectionType"))
			if nk := lookup(pr, "NonKeyAttributes"); nk != nil {
				for _, a := range nk.Content {
					ix.NonKeyAttributes = append(ix.NonKeyAttributes, scalar(a))
				}
			}
		}
		if ix.IndexName == "" || len(ix.KeySchema) == 0 {
			return nil, errAt(g, "index needs IndexName and KeySchema")
		}
		out = append(out, ix)
	}
	return out, nil
}

func (p *parser) httpAPI(id string, line int, props *yaml.Node) error {
	api, err := p.httpAPIAuth(id, line, lookup(props, "Auth"))
	if err != nil {
		return err
	}
	p.t.HTTPAPIs = append(p.t.HTTPAPIs, api)
	return nil
}

func (p *parser) httpAPIAuth(id string, line int, auth *yaml.Node) (HTTPAPI, error) {
	api := HTTPAPI{LogicalID: id, Line: line}
	if auth == nil {
		return api, nil
	}
	api.DefaultAuthorizer = scalar(lookup(auth, "DefaultAuthorizer"))
	if as := lookup(auth, "Authorizers"); as != nil {
		if as.Kind != yaml.MappingNode {
			return api, errAt(as, "%s: Auth.Authorizers must be a mapping", id)
		}
		for i := 0; i+1 < len(as.Content); i += 2 {
			a, err := p.authorizer(as.Content[i].Value, deref(as.Content[i+1]))
			if err != nil {
				return api, fmt.Errorf("%s: %w", id, err)
			}
			api.Authorizers = append(api.Authorizers, a)
		}
	}
	if api.DefaultAuthorizer != "" {
		if _, ok := api.Authorizer(api.DefaultAuthorizer); !ok {
			return api, errAt(lookup(auth, "DefaultAuthorizer"), "%s: DefaultAuthorizer %s is not among its Authorizers", id, api.DefaultAuthorizer)
		}
	}
	return api, nil
}

func (p *parser) authorizer(name string, n *yaml.Node) (Authorizer, error) {
	a := Authorizer{Name: name}
	if n.Kind != yaml.MappingNode {
		return a, errAt(n, "authorizer %s must be a mapping", name)
	}
	if lookup(n, "JwtConfiguration") != nil {
		a.JWT = true
		return a, nil
	}
	a.FunctionArn = lookup(n, "FunctionArn")
	if a.FunctionArn == nil {
		return a, errAt(n, "authorizer %s has neither FunctionArn nor JwtConfiguration", name)
	}
	ref, err := p.arnTarget(a.FunctionArn, TypeFunction)
	if err != nil {
		return a, fmt.Errorf("authorizer %s: %w", name, err)
	}
	a.FunctionRef = ref
	a.PayloadFormatVersion = scalar(lookup(n, "AuthorizerPayloadFormatVersion"))
	if a.SimpleResponses, err = p.boolProp(n, "EnableSimpleResponses", false); err != nil {
		return a, err
	}
	if id := lookup(n, "Identity"); id != nil {
		for _, h := range seq(lookup(id, "Headers")) {
			a.IdentityHeaders = append(a.IdentityHeaders, scalar(h))
		}
		for _, q := range seq(lookup(id, "QueryStrings")) {
			a.IdentityQueryStrings = append(a.IdentityQueryStrings, scalar(q))
		}
		if a.ReauthorizeEvery, err = p.intProp(id, "ReauthorizeEvery", 0); err != nil {
			return a, err
		}
		if a.ReauthorizeEvery < 0 || a.ReauthorizeEvery > 3600 {
			return a, errAt(lookup(id, "ReauthorizeEvery"), "ReauthorizeEvery must be 0-3600")
		}
	}
	return a, nil
}

// implicitAPI adds SAM's implicit HTTP API when an HttpApi event names no
// ApiId, with Globals.HttpApi's Auth.
func (p *parser) implicitAPI(globalAPI *yaml.Node) error {
	needed := false
	for _, f := range p.t.Functions {
		for _, e := range f.Events {
			if e.HTTPAPI != nil && e.HTTPAPI.APIRef == ImplicitHTTPAPI {
				needed = true
			}
		}
	}
	if !needed {
		return nil
	}
	if _, ok := p.t.HTTPAPI(ImplicitHTTPAPI); ok {
		return nil
	}
	var auth *yaml.Node
	if globalAPI != nil {
		auth = lookup(globalAPI, "Auth")
	}
	api, err := p.httpAPIAuth(ImplicitHTTPAPI, 0, auth)
	if err != nil {
		return err
	}
	api.Implicit = true
	p.t.HTTPAPIs = append(p.t.HTTPAPIs, api)
	return nil
}

// checkRoutes rejects two functions on one route and routes naming an
// authorizer their API does not have.
func (p *parser) checkRoutes() error {
	seen := map[string]string{}
	for _, f := range p.t.Functions {
		for _, e := range f.Events {
			if e.HTTPAPI == nil {
				continue
			}
			api, ok := p.t.HTTPAPI(e.HTTPAPI.APIRef)
			if !ok {
				return apperr.New(apperr.Invalid, "line %d: %s event %s: HTTP API %s is not in the template", e.Line, f.LogicalID, e.Name, e.HTTPAPI.APIRef)
			}
			if e.HTTPAPI.Authorizer != "" {
				if _, ok := api.Authorizer(e.HTTPAPI.Authorizer); !ok {
					return apperr.New(apperr.Invalid, "line %d: %s event %s: authorizer %s is not defined on %s", e.Line, f.LogicalID, e.Name, e.HTTPAPI.Authorizer, api.LogicalID)
				}
			}
			key := e.HTTPAPI.APIRef + " " + e.HTTPAPI.RouteKey()
			if other, dup := seen[key]; dup {
				return apperr.New(apperr.Invalid, "line %d: route %s of %s is defined twice (%s and %s.%s)", e.Line, e.HTTPAPI.RouteKey(), e.HTTPAPI.APIRef, other, f.LogicalID, e.Name)
			}
			seen[key] = f.LogicalID + "." + e.Name
		}
	}
	return nil
}

// refTarget returns the logical id a !Ref node names, which must be a
// resource of the given type.
func (p *parser) refTarget(n *yaml.Node, typ string) (string, error) {
	in, err := parseIntrinsic(n)
	if err != nil {
		return "", err
	}
	if in == nil || in.fn != "Ref" {
		return "", errAt(n, "want !Ref to a %s", typ)
	}
	name := scalar(in.arg)
	if r, ok := p.t.Resources[name]; !ok || r.Type != typ {
		return "", errAt(n, "!Ref %s: not a %s of this template", name, typ)
	}
	return name, nil
}

// arnTarget returns the logical id a "!GetAtt X.Arn" node names (X must be
// a resource of the given type), or "" for a literal ARN.
func (p *parser) arnTarget(n *yaml.Node, typ string) (string, error) {
	in, err := parseIntrinsic(n)
	if err != nil {
		return "", err
	}
	if in == nil {
		if n.Kind == yaml.ScalarNode && strings.HasPrefix(n.Value, "arn:") {
			return "", nil
		}
		return "", errAt(n, "want !GetAtt <%s>.Arn or an ARN", typ)
	}
	if in.fn != "Fn::GetAtt" {
		return "", errAt(n, "want !GetAtt <%s>.Arn, got %s", typ, in.fn)
	}
	id, attr, err := getAttArgs(in.arg)
	if err != nil {
		return "", err
	}
	if r, ok := p.t.Resources[id]; !ok || r.Type != typ {
		return "", errAt(n, "!GetAtt %s.%s: not a %s of this template", id, attr, typ)
	}
	if attr != "Arn" {
		return "", errAt(n, "!GetAtt %s.%s: want the Arn attribute", id, attr)
	}
	return id, nil
}

// intProp reads an integer property: a literal, or a !Ref to a parameter
// with a default. def is returned when the property is absent.
func (p *parser) intProp(m *yaml.Node, key string, def int) (int, error) {
	n := lookup(m, key)
	if n == nil {
		return def, nil
	}
	s, err := p.literal(n)
	if err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, errAt(n, "%s must be an integer, got %q", key, s)
	}
	return v, nil
}

func (p *parser) boolProp(m *yaml.Node, key string, def bool) (bool, error) {
	n := lookup(m, key)
	if n == nil {
		return def, nil
	}
	s, err := p.literal(n)
	if err != nil {
		return false, err
	}
	switch strings.ToLower(s) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errAt(n, "%s must be true or false, got %q", key, s)
}

// literal returns a scalar's value, or the default of a parameter it
// !Refs.
func (p *parser) literal(n *yaml.Node) (string, error) {
	in, err := parseIntrinsic(n)
	if err != nil {
		return "", err
	}
	if in == nil {
		if n.Kind != yaml.ScalarNode {
			return "", errAt(n, "want a scalar")
		}
		return n.Value, nil
	}
	if in.fn == "Ref" {
		if par, ok := p.t.Parameter(scalar(in.arg)); ok && par.HasDefault {
			return par.Default, nil
		}
	}
	return "", errAt(n, "want a literal (or !Ref to a parameter with a default), got %s", in.fn)
}

// lookup returns the value of key in mapping m, nil when absent (or m is
// not a mapping).
func lookup(m *yaml.Node, key string) *yaml.Node {
	m = deref(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return deref(m.Content[i+1])
		}
	}
	return nil
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// scalar returns a plain scalar's value, "" for anything else (including
// intrinsics).
func scalar(n *yaml.Node) string {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || isIntrinsicTag(n.Tag) {
		return ""
	}
	return n.Value
}

func seq(n *yaml.Node) []*yaml.Node {
	n = deref(n)
	if n == nil {
		return nil
	}
	if n.Kind == yaml.SequenceNode {
		return n.Content
	}
	return []*yaml.Node{n}
}

func errAt(n *yaml.Node, format string, args ...any) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return apperr.New(apperr.Invalid, "line %d: %s", line, fmt.Sprintf(format, args...))
}

// sortedKeys returns a map's keys in order, for deterministic errors.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
