// Package connection manages a tenant's vendor connections and the
// integrations that pair them.
//
// Saving a connection always tests its credentials against the vendor
// first ("Test & save"): a failed test is an Invalid error carrying the
// vendor's reason, and nothing is saved. Credentials go to a secret store,
// one secret per connection; they are never stored with the connection,
// returned, or logged.
package connection

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/limits"
	"github.com/rmmbridge/rmmbridge/shared/netguard"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// Kinds of connection.
const (
	KindRMM = "rmm"
	KindPSA = "psa"
)

// Credentials are a connection's secret fields.
type Credentials map[string]string

// Connection is a saved, tested vendor connection. It holds a reference to
// its secret, never the credentials.
type Connection struct {
	ID         string         `json:"id"`
	TenantID   string         `json:"-"`
	Name       string         `json:"name"`
	Kind       string         `json:"kind"`
	Provider   string         `json:"provider"`
	BaseURL    string         `json:"baseUrl"`
	Settings   map[string]any `json:"settings"`
	Status     string         `json:"status"` // "ok" | "failed"
	TestedAt   time.Time      `json:"testedAt"`
	TestDetail string         `json:"testDetail,omitempty"`
	CreatedAt  time.Time      `json:"createdAt"`
	UpdatedAt  time.Time      `json:"updatedAt"`
	SecretRef  string         `json:"-"`
	// Refs counts the integrations using this connection; delete needs 0.
	Refs int `json:"-"`
	// Version counts the connection's updates (1 when created; 0 for one
	// stored before versions existed). The API shows it as the ETag.
	Version int64 `json:"-"`
	// Capabilities are what the connection can do, from its vendor's spec
	// and its settings (computed when read, not stored).
	Capabilities []string `json:"capabilities"`
}

// Tester checks credentials against the vendor with a cheap authenticated
// call. A refusal is returned as an error whose apperr message is the
// vendor's reason (safe to show).
type Tester interface {
	Test(ctx context.Context, provider, baseURL string, creds Credentials) error
}

// SettingsTester is a Tester that also checks the connection's settings
// against the vendor (Autotask: the defaults named in settings exist in
// the tenant's picklists). The service uses it when its Tester has it; a
// refusal that names settings fields (apperr.Invalid with Fields
// "settings.…") is answered with those fields.
type SettingsTester interface {
	TestSettings(ctx context.Context, provider, baseURL string, creds Credentials, settings map[string]any) error
}

// Secrets stores credential blobs (secretstore.Store).
//
// A changed secret is all-or-nothing with the record that names it: Stage
// writes the new value as a new version without making it current and
// returns a reference pinned to that version; the record stores the
// reference, and Get reads the version the record names. Until the record
// is written the old record reads the old version; once it is, the new
// record reads the new one. Promote, after the record commits, makes the
// version current (housekeeping only: reads go by the pinned reference).
type Secrets interface {
	// Stage stores value as a new version of the secret name, creating the
	// secret if needed, and returns a reference pinned to that version. An
	// existing secret's current version does not change.
	Stage(ctx context.Context, name string, value []byte) (ref string, err error)
	// Promote makes the version ref is pinned to the current one.
	Promote(ctx context.Context, ref string) error
	// Get reads the secret ref: the pinned version, or the current one.
	Get(ctx context.Context, ref string) ([]byte, error)
	// Delete deletes the secret ref names, every version of it.
	Delete(ctx context.Context, ref string) error
}

// ErrStale is in the chain of a Store update refused because the item is
// no longer at the version it was read at (a Conflict): another update
// came first.
var ErrStale = errors.New("changed since it was read")

// Versions is an update's precondition (HTTP If-Match): the update applies
// only while the item is at one of these versions. nil is no
// precondition: the update applies to the current version.
type Versions []int64

func (v Versions) allow(n int64) bool { return v == nil || slices.Contains(v, n) }

// maxAttempts bounds how often an update without a precondition is
// applied again to a fresh read after another update came first. Each
// round of a race has a winner, so n updates racing all succeed within n
// attempts; more than this many at once on one item is a 409.
const maxAttempts = 20

// retryStale runs try until it succeeds, fails otherwise than with
// ErrStale, or has run maxAttempts times. With a precondition it runs
// once: a lost race then means the version the client read is gone, so
// the answer is PreconditionFailed.
func retryStale[T any](pre Versions, what, id string, try func() (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		v, err := try()
		if !errors.Is(err, ErrStale) {
			return v, err
		}
		if pre != nil {
			return v, stale(what, id, err)
		}
		if attempt == maxAttempts {
			return v, apperr.Wrap(apperr.Conflict, err, "%s %s is being changed by others; try again", what, id)
		}
	}
}

// stale is the error of an update whose precondition does not hold.
func stale(what, id string, cause error) error {
	return apperr.Wrap(apperr.PreconditionFailed, cause, "the %s %s changed since you read it; read it again and re-apply your change", what, id)
}

// checkPre refuses an update whose precondition the version read fails.
func checkPre(pre Versions, version int64, what, id string) error {
	if pre.allow(version) {
		return nil
	}
	return stale(what, id, nil)
}

// Store persists connections and integrations.
//
// Updates are conditional on the version: UpdateConnection and
// UpdateIntegration write only if the stored item is still at the Version
// of the value passed (the version it was read at), store Version+1, and
// fail with a Conflict wrapping ErrStale otherwise, NotFound when it is
// gone. Of two updates from the same read exactly one succeeds.
type Store interface {
	PutConnection(ctx context.Context, c Connection) error // new; Conflict if it exists
	// UpdateConnection replaces c when it is at c.Version (see above).
	UpdateConnection(ctx context.Context, c Connection) error
	GetConnection(ctx context.Context, tenantID, id string) (Connection, error)
	ListConnections(ctx context.Context, tenantID string, limit int, cursor string) ([]Connection, string, error)
	// DeleteConnection deletes it when no integration uses it (Conflict otherwise).
	DeleteConnection(ctx context.Context, tenantID, id string) error

	// PutIntegration stores a new integration and counts a use of both its
	// connections atomically (Conflict/NotFound if either is gone).
	PutIntegration(ctx context.Context, in Integration) error
	// UpdateIntegration replaces in when it is at in.Version (see above).
	UpdateIntegration(ctx context.Context, in Integration) error
	GetIntegration(ctx context.Context, tenantID, id string) (Integration, error)
	ListIntegrations(ctx context.Context, tenantID string, limit int, cursor string) ([]Integration, string, error)
	// DeleteIntegration deletes it and releases its connections atomically.
	DeleteIntegration(ctx context.Context, in Integration) error
}

// Options tune a Service.
type Options struct {
	// AllowLoopback accepts http:// base URLs on loopback addresses (the
	// local stack's sandboxes). Never set in AWS.
	AllowLoopback bool
	Now           func() time.Time
	Rand          io.Reader

	// Resolver looks base URL hosts up, so that a name resolving to an
	// address rmmbridge does not connect to is refused at once (the
	// vendor clients' dialer refuses it again at connect time); nil uses
	// net.DefaultResolver.
	Resolver netguard.Resolver

	// Vendors are the vendors connections may name, with their
	// credentials, settings and capabilities; nil takes them from the
	// tester when it has them (providers.Registry does), else none. The
	// tester's catalog is asked for on first use, not in NewService: a
	// function's cold start does not validate every vendor's spec.
	Vendors *vendorspec.Catalog
}

// Service is the connections and integrations use cases.
type Service struct {
	store   Store
	secrets Secrets
	tester  Tester
	o       Options
	// cataloged gives the vendors when o.Vendors is nil (the tester).
	cataloged vendorspec.Cataloged
}

// NewService returns a Service.
func NewService(store Store, secrets Secrets, tester Tester, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	s := &Service{store: store, secrets: secrets, tester: tester, o: o}
	if o.Vendors == nil {
		s.cataloged, _ = tester.(vendorspec.Cataloged)
	}
	return s
}

// vendors are the vendors connections may name (Options.Vendors).
func (s *Service) vendors() *vendorspec.Catalog {
	if s.o.Vendors == nil && s.cataloged != nil {
		return s.cataloged.Catalog()
	}
	return s.o.Vendors
}

func (s *Service) newID(prefix string) (string, error) {
	b := make([]byte, 10)
	if _, err := io.ReadFull(s.o.Rand, b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

func (s *Service) now() time.Time { return s.o.Now().UTC().Truncate(time.Millisecond) }

// CreateInput is a new connection.
type CreateInput struct {
	Name        string         `json:"name"`
	Kind        string         `json:"kind"`
	Provider    string         `json:"provider"`
	BaseURL     string         `json:"baseUrl"`
	Credentials Credentials    `json:"credentials"`
	Settings    map[string]any `json:"settings"`
}

// Create validates, tests and saves a connection. The vendor's declared
// settings are stored typed, with their defaults.
func (s *Service) Create(ctx context.Context, tenantID string, in CreateInput) (Connection, error) {
	in.Name = strings.TrimSpace(in.Name)
	var fe []apperr.FieldError
	fe = appendErr(fe, checkName(in.Name, "is required"))
	v, ok := s.vendors().Vendor(in.Provider)
	if !ok {
		fe = append(fe, apperr.FieldError{Field: "provider", Message: s.vendors().OneOf()})
	} else {
		if in.Kind != string(v.Kind) {
			fe = append(fe, apperr.FieldError{Field: "kind", Message: fmt.Sprintf("must be %q for provider %s", v.Kind, v.Name)})
		}
		fe = append(fe, v.CheckCredentials(in.Credentials)...)
	}
	baseURL, uerr := s.baseURL(ctx, in.BaseURL)
	fe = appendErr(fe, uerr)
	settings, sfe := s.checkSettings(v, in.Settings)
	fe = append(fe, sfe...)
	if len(fe) > 0 {
		return Connection{}, apperr.InvalidFields(limits.Cap(fe)...)
	}
	if err := s.test(ctx, in.Provider, baseURL, in.Credentials, settings); err != nil {
		return Connection{}, err
	}
	id, err := s.newID("c_")
	if err != nil {
		return Connection{}, err
	}
	ref, err := s.stageSecret(ctx, tenantID, id, in.Credentials)
	if err != nil {
		return Connection{}, err
	}
	now := s.now()
	c := Connection{ID: id, TenantID: tenantID, Name: in.Name, Kind: string(v.Kind), Provider: v.Name, BaseURL: baseURL,
		Settings: settings, Status: "ok", TestedAt: now, CreatedAt: now, UpdatedAt: now, SecretRef: ref, Version: 1}
	if err := s.store.PutConnection(ctx, c); err != nil {
		_ = s.secrets.Delete(context.WithoutCancel(ctx), ref)
		return Connection{}, fmt.Errorf("save connection %s: %w", id, err)
	}
	return s.withCapabilities(c), nil
}

// checkSettings bounds settings (depth, size), then checks the vendor's
// declared ones (v nil: an unknown provider, refused already) and returns
// them as stored: typed, with defaults.
func (s *Service) checkSettings(v *vendorspec.Vendor, in map[string]any) (map[string]any, []apperr.FieldError) {
	if fe := limits.Settings("settings", in); len(fe) > 0 {
		return nil, fe
	}
	if v == nil {
		return nonNil(in), nil
	}
	typed, fe := v.CheckSettings(in)
	if len(fe) > 0 {
		return nil, fe
	}
	return map[string]any(typed), nil
}

// capabilities returns what a connection can do (nothing for a provider
// the service does not know).
func (s *Service) capabilities(c Connection) vendorspec.Set {
	v, ok := s.vendors().Vendor(c.Provider)
	if !ok {
		return vendorspec.Set{Provider: c.Provider, Kind: vendorspec.Kind(c.Kind)}
	}
	typed, fe := v.CheckSettings(c.Settings)
	if len(fe) > 0 {
		return vendorspec.Set{Provider: c.Provider, Kind: vendorspec.Kind(c.Kind)}
	}
	return v.Capabilities(typed)
}

// withCapabilities sets c.Capabilities.
func (s *Service) withCapabilities(c Connection) Connection {
	c.Capabilities = s.capabilities(c).Strings()
	return c
}

// appendErr appends fe when it is not nil.
func appendErr(list []apperr.FieldError, fe *apperr.FieldError) []apperr.FieldError {
	if fe != nil {
		list = append(list, *fe)
	}
	return list
}

// checkName checks a trimmed name: not empty (empty says what is wrong
// then) and at most limits.MaxNameLength characters.
func checkName(name, empty string) *apperr.FieldError {
	if name == "" {
		return &apperr.FieldError{Field: "name", Message: empty}
	}
	return limits.Text("name", name, limits.MaxNameLength)
}

// baseURL bounds the base URL's length before checkBaseURL looks at it.
func (s *Service) baseURL(ctx context.Context, raw string) (string, *apperr.FieldError) {
	if fe := limits.Bytes("baseUrl", raw, limits.MaxURLLength); fe != nil {
		return "", fe
	}
	return s.checkBaseURL(ctx, raw)
}

func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// baseURLLookupTimeout bounds the DNS lookup of a base URL's host.
const baseURLLookupTimeout = 5 * time.Second

// checkBaseURL accepts https URLs on public hosts, and http on loopback
// when allowed. It refuses metadata host names, literal addresses that are
// not public (loopback unless allowed, private, CGNAT, link-local, ULA,
// NAT64, multicast, broadcast, unspecified; IPv4-mapped forms included),
// and host names that resolve to such addresses or to nothing. A lookup
// that fails otherwise (a DNS outage) is left to the connection test,
// whose dialer checks every address it connects to.
func (s *Service) checkBaseURL(ctx context.Context, raw string) (string, *apperr.FieldError) {
	bad := func(msg string) (string, *apperr.FieldError) {
		return "", &apperr.FieldError{Field: "baseUrl", Message: msg}
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return bad("must be an absolute https URL")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return bad("must not carry credentials, a query or a fragment")
	}
	policy := netguard.Policy{AllowLoopback: s.o.AllowLoopback}
	host := strings.ToLower(u.Hostname())
	ip, literal := netip.ParseAddr(host)
	loopback := host == "localhost" || (literal == nil && ip.Unmap().IsLoopback())
	switch {
	case host == "metadata.google.internal" || host == "metadata" || strings.HasSuffix(host, ".internal"):
		return bad("must not point at a metadata service")
	case literal == nil:
		var re *netguard.RefusedError
		if errors.As(policy.CheckAddr(ip), &re) {
			return bad("must not point at " + re.Class)
		}
	case host == "localhost" || strings.HasSuffix(host, ".localhost"):
		if !s.o.AllowLoopback {
			return bad("must not point at " + netguard.ClassLoopback)
		}
	default:
		ctx, cancel := context.WithTimeout(ctx, baseURLLookupTimeout)
		defer cancel()
		_, err := policy.Resolve(ctx, s.o.Resolver, "tcp", host)
		var re *netguard.RefusedError
		var de *net.DNSError
		switch {
		case errors.As(err, &re):
			return bad("must not point at a host that resolves to " + re.Class)
		case errors.As(err, &de) && de.IsNotFound:
			return bad("must name a host that resolves (" + clipHost(host) + " does not)")
		}
	}
	if u.Scheme == "http" && !loopback {
		return bad("must use https")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// clipHost bounds a host name quoted in a message.
func clipHost(h string) string {
	if len(h) > 100 {
		return h[:100] + "…"
	}
	return h
}

func (s *Service) test(ctx context.Context, provider, baseURL string, creds Credentials, settings map[string]any) error {
	var err error
	if st, ok := s.tester.(SettingsTester); ok {
		err = st.TestSettings(ctx, provider, baseURL, creds, settings)
	} else {
		err = s.tester.Test(ctx, provider, baseURL, creds)
	}
	if err == nil {
		return nil
	}
	reason := "the vendor refused the credentials"
	fields := []apperr.FieldError{{Field: "credentials", Message: reason}}
	if e, ok := apperr.As(err); ok && e.Message != "" {
		reason = e.Message
		fields[0].Message = reason
		if e.Kind == apperr.Invalid && len(e.Fields) > 0 && strings.HasPrefix(e.Fields[0].Field, "settings.") {
			fields = e.Fields
		}
	}
	e := apperr.Wrap(apperr.Invalid, err, "connection test failed: %s", reason)
	e.Fields = fields
	return e
}

// stageSecret stores credentials as a new version of the connection's
// secret and returns the reference pinned to it; the version is used once
// a record holding the reference is written.
func (s *Service) stageSecret(ctx context.Context, tenantID, id string, creds Credentials) (string, error) {
	blob, err := marshalCreds(creds)
	if err != nil {
		return "", err
	}
	ref, err := s.secrets.Stage(ctx, tenantID+"/"+id, blob)
	if err != nil {
		return "", fmt.Errorf("store credentials of connection %s: %w", id, err)
	}
	return ref, nil
}

// Get returns one connection, with its capabilities.
func (s *Service) Get(ctx context.Context, tenantID, id string) (Connection, error) {
	c, err := s.store.GetConnection(ctx, tenantID, id)
	if err != nil {
		return Connection{}, err
	}
	return s.withCapabilities(c), nil
}

// List returns a page of connections, with their capabilities.
func (s *Service) List(ctx context.Context, tenantID string, limit int, cursor string) ([]Connection, string, error) {
	cs, next, err := s.store.ListConnections(ctx, tenantID, limit, cursor)
	for i := range cs {
		cs[i] = s.withCapabilities(cs[i])
	}
	return cs, next, err
}

// Credentials returns a connection's credentials (for workers that call the vendor).
func (s *Service) Credentials(ctx context.Context, c Connection) (Credentials, error) {
	blob, err := s.secrets.Get(ctx, c.SecretRef)
	if err != nil {
		return nil, fmt.Errorf("read credentials of connection %s: %w", c.ID, err)
	}
	return unmarshalCreds(blob)
}

// TestResult is the outcome of POST /connections/{id}/test.
type TestResult struct {
	Status   string    `json:"status"`
	Detail   string    `json:"detail"`
	TestedAt time.Time `json:"testedAt"`
	// Capabilities are what the connection can do (Connection.Capabilities).
	Capabilities []string `json:"capabilities"`
}

// Retest tests a saved connection's credentials now and records the
// outcome (tested again on a fresh read when another update came first).
func (s *Service) Retest(ctx context.Context, tenantID, id string) (TestResult, error) {
	return retryStale(nil, "connection", id, func() (TestResult, error) { return s.retest(ctx, tenantID, id) })
}

func (s *Service) retest(ctx context.Context, tenantID, id string) (TestResult, error) {
	c, err := s.store.GetConnection(ctx, tenantID, id)
	if err != nil {
		return TestResult{}, err
	}
	creds, err := s.Credentials(ctx, c)
	if err != nil {
		return TestResult{}, err
	}
	res := TestResult{Status: "ok", Detail: "credentials accepted", TestedAt: s.now(), Capabilities: s.capabilities(c).Strings()}
	if terr := s.test(ctx, c.Provider, c.BaseURL, creds, c.Settings); terr != nil {
		e, _ := apperr.As(terr)
		res.Status, res.Detail = "failed", e.Fields[0].Message
	}
	c.Status, c.TestedAt, c.TestDetail = res.Status, res.TestedAt, detailIfFailed(res)
	if err := s.store.UpdateConnection(ctx, c); err != nil {
		return TestResult{}, fmt.Errorf("record test of connection %s: %w", id, err)
	}
	return res, nil
}

func detailIfFailed(r TestResult) string {
	if r.Status == "failed" {
		return r.Detail
	}
	return ""
}

// UpdateInput is a PATCH: nil fields stay as they are; at least one must
// be set.
type UpdateInput struct {
	Name        *string         `json:"name"`
	BaseURL     *string         `json:"baseUrl"`
	Credentials Credentials     `json:"credentials"`
	Settings    *map[string]any `json:"settings"`
	// IfMatch is the precondition (HTTP If-Match); nil: none.
	IfMatch Versions `json:"-"`
}

// noChange is the error of a PATCH that sets nothing.
func noChange(fields ...string) error {
	return apperr.InvalidFields(apperr.FieldError{Field: "(body)", Message: "must set at least one of " + strings.Join(fields, ", ")})
}

// Update changes a connection; when the base URL or credentials change it
// is tested again first and nothing is saved if the test fails.
//
// New credentials are staged as a new version of the connection's secret
// and the record is written pointing at that version, so the change is all
// or nothing: if the record write fails (or the process dies before it),
// the record still names the old version and the old credentials work
// with the old base URL; once it succeeds, the new record reads the new
// credentials.
//
// The write is conditional on the version read: with in.IfMatch set,
// nothing is written unless the connection is at one of its versions
// then (PreconditionFailed otherwise); without it, an update that another
// one overtakes is applied again to a fresh read.
func (s *Service) Update(ctx context.Context, tenantID, id string, in UpdateInput) (Connection, error) {
	if in.Name == nil && in.BaseURL == nil && in.Credentials == nil && in.Settings == nil {
		return Connection{}, noChange("name", "baseUrl", "credentials", "settings")
	}
	return retryStale(in.IfMatch, "connection", id, func() (Connection, error) { return s.update(ctx, tenantID, id, in) })
}

func (s *Service) update(ctx context.Context, tenantID, id string, in UpdateInput) (Connection, error) {
	c, err := s.store.GetConnection(ctx, tenantID, id)
	if err != nil {
		return Connection{}, err
	}
	if err := checkPre(in.IfMatch, c.Version, "connection", id); err != nil {
		return Connection{}, err
	}
	var fe []apperr.FieldError
	if in.Name != nil {
		c.Name = strings.TrimSpace(*in.Name)
		fe = appendErr(fe, checkName(c.Name, "must not be empty"))
	}
	baseURL := c.BaseURL
	if in.BaseURL != nil {
		u, uerr := s.baseURL(ctx, *in.BaseURL)
		fe = appendErr(fe, uerr)
		baseURL = u
	}
	v, _ := s.vendors().Vendor(c.Provider)
	creds := in.Credentials
	if creds != nil {
		if v == nil {
			fe = append(fe, apperr.FieldError{Field: "credentials", Message: "provider " + c.Provider + " is not supported"})
		} else {
			fe = append(fe, v.CheckCredentials(creds)...)
		}
	}
	var settings map[string]any
	if in.Settings != nil {
		var sfe []apperr.FieldError
		settings, sfe = s.checkSettings(v, *in.Settings)
		fe = append(fe, sfe...)
	}
	if len(fe) > 0 {
		return Connection{}, apperr.InvalidFields(limits.Cap(fe)...)
	}
	retest := in.BaseURL != nil || creds != nil
	if retest {
		if creds == nil {
			if creds, err = s.Credentials(ctx, c); err != nil {
				return Connection{}, err
			}
		}
		effective := c.Settings
		if in.Settings != nil {
			effective = settings
		}
		if err := s.test(ctx, c.Provider, baseURL, creds, effective); err != nil {
			return Connection{}, err
		}
		c.BaseURL, c.Status, c.TestedAt, c.TestDetail = baseURL, "ok", s.now(), ""
	}
	staged := ""
	if in.Credentials != nil {
		// The version this record reads must stay labelled while the new
		// one is staged (a crash may have left it unpromoted).
		_ = s.secrets.Promote(ctx, c.SecretRef)
		if staged, err = s.stageSecret(ctx, tenantID, c.ID, in.Credentials); err != nil {
			return Connection{}, err
		}
		c.SecretRef = staged
	}
	if in.Settings != nil {
		c.Settings = settings
	}
	c.UpdatedAt = s.now()
	if err := s.store.UpdateConnection(ctx, c); err != nil {
		// The staged version stays unused: the stored record names the old one.
		return Connection{}, fmt.Errorf("update connection %s: %w", id, err)
	}
	c.Version++
	if staged != "" {
		// Best effort: the record already reads the new version by its
		// pinned reference; a failed promotion is repaired by the next update.
		_ = s.secrets.Promote(ctx, staged)
	}
	return s.withCapabilities(c), nil
}

// Delete removes a connection no integration uses, then its secret.
func (s *Service) Delete(ctx context.Context, tenantID, id string) error {
	c, err := s.store.GetConnection(ctx, tenantID, id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteConnection(ctx, tenantID, id); err != nil {
		if apperr.Is(err, apperr.Conflict) {
			return apperr.Wrap(apperr.Conflict, err, "connection %s is used by an integration; delete the integration first", id)
		}
		return fmt.Errorf("delete connection %s: %w", id, err)
	}
	if err := s.secrets.Delete(ctx, c.SecretRef); err != nil && !apperr.Is(err, apperr.NotFound) {
		return fmt.Errorf("delete credentials of connection %s: %w", id, err)
	}
	return nil
}
