package asset

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/lease"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
	"github.com/rmmbridge/rmmbridge/shared/vendorspec"
)

// PSA is what a refresh asks of the PSA.
type PSA interface {
	Finder
	psa.AssetWriter
}

// AssetLinker is an optional role of the RMM client: an RMM that can keep
// our PSA asset id on the device (Datto RMM writes it to the device UDF
// its assetUdf setting names, and does nothing without that setting). The
// service calls it, through vendorspec.Role (clients come wrapped with
// their capabilities), after it linked a device to a new or adopted PSA
// asset — only when the link changed, never on a refresh of a linked
// device. A failure is logged and recorded in the Result's Reason; it
// never fails the refresh (the asset exists and is linked).
type AssetLinker interface {
	LinkAsset(ctx context.Context, deviceID, assetID string) error
}

// Clients are the vendor clients one refresh uses.
type Clients struct {
	RMM rmm.DeviceGetter
	PSA PSA
}

// Options tune the service.
type Options struct {
	Now func() time.Time
	// Lease is how long a creating claim is held (default 90 s, longer
	// than the asset-refresh function's 60 s timeout, so a live refresh
	// never loses its claim mid-create; one that dies holding it delays
	// the device by at most this long).
	Lease time.Duration
	// Wait is how long a refresh that lost the claim waits for the
	// winner's link (default 10 s) before answering Conflict (try again).
	Wait time.Duration
	// Poll is the interval of that wait (default 100 ms).
	Poll time.Duration
	// Sleep waits; tests may replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	// MappingTTL is how long an import's refresh reuses an organization's
	// mapping read by this warm instance (default 10 s; negative: never).
	// The Sync button and alerts always read it.
	MappingTTL time.Duration
	// MatchMaxAge is how old an import's index answer may be and still be
	// trusted (default 15 min); an older one runs the lookup ladder.
	MatchMaxAge time.Duration
	// ConfirmEvery is how often an import rewrites an unchanged device's
	// link just to move its lastSyncedAt (default 1 h; negative: every
	// time): an unchanged re-import within that time writes nothing. The
	// Sync button and alerts confirm every time.
	ConfirmEvery time.Duration
	// Logger logs what does not fail a refresh (an RMM that would not
	// keep the asset id); nil: slog.Default().
	Logger *slog.Logger
}

// Known is what an import already knows of a device when its message
// comes: the device as read in bulk, and the answer of the PSA index built
// from the account's assets.
type Known struct {
	// Device is the device's snapshot; nil: Refresh reads it from the RMM.
	Device *rmm.Device
	// Match is the index's answer; nil: the full lookup ladder. It is
	// trusted only for a device with no link and no claim at all, while
	// the organization is still mapped to Match.AccountID and for
	// Options.MatchMaxAge; a redelivered message must not pass one (a
	// crash between create and record is then adopted by the ladder,
	// never created twice).
	Match *queuemsg.AssetMatch
	// Import says the refresh is part of an import (the mapping may come
	// from this instance's short cache).
	Import bool
}

// Service refreshes devices into PSA assets and reads the links.
type Service struct {
	links Store
	maps  Mappings
	o     Options

	mu      sync.Mutex
	mapping map[string]cachedMapping
}

// cachedMapping is a mapping read, with when it was read.
type cachedMapping struct {
	m  account.Mapping
	at time.Time
}

// NewService returns a Service over the link store and the organization
// mappings.
func NewService(links Store, maps Mappings, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Lease == 0 {
		o.Lease = 90 * time.Second
	}
	if o.Wait == 0 {
		o.Wait = 10 * time.Second
	}
	if o.Poll == 0 {
		o.Poll = 100 * time.Millisecond
	}
	if o.Sleep == nil {
		o.Sleep = lease.Sleep
	}
	if o.MappingTTL == 0 {
		o.MappingTTL = 10 * time.Second
	}
	if o.MatchMaxAge == 0 {
		o.MatchMaxAge = 15 * time.Minute
	}
	if o.ConfirmEvery == 0 {
		o.ConfirmEvery = time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Service{links: links, maps: maps, o: o, mapping: map[string]cachedMapping{}}
}

func (s *Service) now() time.Time { return s.o.Now().UTC().Truncate(time.Millisecond) }

// Result is how one refresh ended. Link is the stored link for Created,
// Linked, Updated and Unchanged; Reason explains Skipped and Review, and
// for Created and Linked says when the RMM would not keep the asset id
// (AssetLinker).
type Result struct {
	Link    Link
	Outcome importjob.Outcome
	Reason  string
}

// Refresh reads device deviceID from the RMM and upserts its PSA asset:
//
//   - a device of an unmapped organization is Skipped (the import maps or
//     creates accounts before it fans devices out);
//   - with a link, the asset is rewritten only when the content hash
//     differs (Updated, one PSA request) and left alone otherwise
//     (Unchanged, none); an asset deleted in the PSA drops the link and the
//     device is matched again;
//   - without one, the device is claimed and matched by external reference
//     and serial number: an existing asset is adopted and rewritten
//     (Linked), a serial shared by several assets is a Review item, and
//     otherwise the asset is created (Created).
//
// The link (asset id, hash, lastSyncedAt, display fields) is written with a
// condition on the version read or on the refresh's own claim. An RMM
// that does not know the device answers NotFound.
func (s *Service) Refresh(ctx context.Context, sc tenancy.Scope, c Clients, deviceID string) (Result, error) {
	return s.RefreshKnown(ctx, sc, c, deviceID, Known{})
}

// getMapping reads an organization's mapping, from this instance's cache
// (Options.MappingTTL) when cached is set. Only a settled mapping is
// cached.
func (s *Service) getMapping(ctx context.Context, sc tenancy.Scope, orgID string, cached bool) (account.Mapping, error) {
	key := sc.TenantID + "/" + sc.IntegrationID + "/" + orgID
	if cached && s.o.MappingTTL > 0 {
		s.mu.Lock()
		hit, ok := s.mapping[key]
		s.mu.Unlock()
		if ok && s.o.Now().Sub(hit.at) < s.o.MappingTTL {
			return hit.m, nil
		}
	}
	m, err := s.maps.GetMapping(ctx, sc, orgID)
	if err == nil && m.State == account.StateMapped && s.o.MappingTTL > 0 {
		s.mu.Lock()
		if len(s.mapping) > 10000 {
			clear(s.mapping)
		}
		s.mapping[key] = cachedMapping{m: m, at: s.o.Now()}
		s.mu.Unlock()
	}
	return m, err
}

// RefreshKnown is Refresh with what an import already knows (Known): the
// device's snapshot instead of an RMM read, and the PSA index's answer
// instead of the lookup ladder. A device with no link at all is claimed
// straight away (no read first) and, when the index found nothing, its
// asset created under the claim: one PSA request. Any other state — a
// link, another refresh's claim, a claim whose lease ended (its owner may
// have created the asset and died before recording it) — drops the answer
// and goes the ordinary way, the ladder included.
func (s *Service) RefreshKnown(ctx context.Context, sc tenancy.Scope, c Clients, deviceID string, k Known) (Result, error) {
	var (
		d   rmm.Device
		err error
	)
	if k.Device != nil && k.Device.ID == deviceID {
		d = *k.Device
	} else {
		d, err = c.RMM.GetDevice(ctx, deviceID)
		if apperr.Is(err, apperr.NotFound) {
			return Result{}, apperr.Wrap(apperr.NotFound, err, "the RMM has no device %s", deviceID)
		}
		if err != nil {
			return Result{}, fmt.Errorf("read device %s: %w", deviceID, err)
		}
	}
	if d.ID == "" {
		d.ID = deviceID
	}
	if d.OrganizationID == "" {
		return Result{Outcome: importjob.Skipped, Reason: fmt.Sprintf("device %s belongs to no organization", d.ID)}, nil
	}
	m, err := s.getMapping(ctx, sc, d.OrganizationID, k.Import)
	switch {
	case apperr.Is(err, apperr.NotFound):
		return Result{Outcome: importjob.Skipped, Reason: fmt.Sprintf("organization %s is not mapped", d.OrganizationID)}, nil
	case err != nil:
		return Result{}, fmt.Errorf("read mapping of organization %s: %w", d.OrganizationID, err)
	case m.State != account.StateMapped:
		return Result{}, apperr.New(apperr.Conflict, "organization %s is being mapped; try again shortly", d.OrganizationID)
	}
	want := ToPSA(d, m.AccountID, m.Sites[d.SiteID])
	hint := k.Match
	if hint != nil && (hint.AccountID != m.AccountID || s.o.Now().Sub(hint.AsOf) > s.o.MatchMaxAge || hint.AsOf.IsZero()) {
		hint = nil // the organization was mapped elsewhere since, or the answer is old
	}

	var res Result
	if hint != nil && (hint.By == string(NoMatch) || hint.NoLink) {
		// The index found nothing (most likely a new device), or the
		// import saw no link: claim the device without reading first (a
		// zero time claims only a device without any link or claim).
		claim := Link{DeviceID: d.ID, OrganizationID: d.OrganizationID, State: StateCreating,
			LeaseOwner: lease.NewOwner(), LeaseUntil: s.leaseUntil(ctx), Version: 1}
		err := s.links.ClaimLink(ctx, sc, claim, time.Time{})
		switch {
		case err == nil:
			return s.createClaimed(ctx, sc, c, d, want, claim, hint)
		case !apperr.Is(err, apperr.Conflict):
			return Result{}, fmt.Errorf("claim device %s: %w", d.ID, err)
		}
		// The device has a link or a claim: the ordinary way, ladder
		// included.
		hint = nil
	}
	busy, err := lease.Wait{For: s.o.Wait, Poll: s.o.Poll, Now: s.o.Now, Sleep: s.o.Sleep}.Until(ctx, func() (bool, error) {
		l, err := s.links.GetLink(ctx, sc, d.ID)
		switch {
		case err != nil && !apperr.Is(err, apperr.NotFound):
			return true, fmt.Errorf("read link of device %s: %w", d.ID, err)
		case err == nil && l.State == StateLinked:
			r, gone, err := s.refreshLinked(ctx, sc, c, d, want, l, k.Import)
			res = r
			return !gone, err
		case err == nil && l.State == StateCreating && l.LeaseUntil.After(s.now()):
			// Another refresh is creating the asset: wait for its link.
			return false, nil
		}
		// The index's answer holds only for a device that had no link and
		// no claim at all: a claim whose lease ended may have created the
		// asset before its owner died.
		fresh := apperr.Is(err, apperr.NotFound)
		claim := Link{DeviceID: d.ID, OrganizationID: d.OrganizationID, State: StateCreating,
			LeaseOwner: lease.NewOwner(), LeaseUntil: s.leaseUntil(ctx), Version: l.Version + 1}
		err = s.links.ClaimLink(ctx, sc, claim, s.now())
		if err == nil {
			h := hint
			if !fresh {
				h = nil
			}
			res, err = s.createClaimed(ctx, sc, c, d, want, claim, h)
			return true, err
		}
		if !apperr.Is(err, apperr.Conflict) {
			return true, fmt.Errorf("claim device %s: %w", d.ID, err)
		}
		return false, nil
	})
	switch {
	case busy:
		return Result{}, apperr.New(apperr.Conflict, "device %s is being synced by another request; try again shortly", d.ID)
	case err != nil:
		return Result{}, err
	}
	return res, nil
}

// refreshLinked updates (or leaves) the linked asset. gone reports that the
// asset no longer exists in the PSA and its link was dropped.
//
// An unchanged device of an import whose link was confirmed less than
// Options.ConfirmEvery ago is left as it is (no write at all); the Sync
// button and alerts always confirm it (lastSyncedAt = now).
func (s *Service) refreshLinked(ctx context.Context, sc tenancy.Scope, c Clients, d rmm.Device, want psa.Asset, l Link, imported bool) (res Result, gone bool, err error) {
	outcome := importjob.Unchanged
	if Hash(want) != l.Hash {
		want.ID = l.AssetID
		if _, err := c.PSA.UpdateAsset(ctx, want); err != nil {
			if !apperr.Is(err, apperr.NotFound) {
				return Result{}, false, fmt.Errorf("update asset %s of device %s: %w", l.AssetID, d.ID, err)
			}
			err := s.links.DeleteLink(ctx, sc, d.ID, Precondition{Version: l.Version})
			if err != nil && !apperr.Is(err, apperr.Conflict) {
				return Result{}, false, fmt.Errorf("drop link of device %s to deleted asset %s: %w", d.ID, l.AssetID, err)
			}
			return Result{}, true, nil
		}
		outcome = importjob.Updated
	}
	next := linkFor(d, want, l.AssetID, s.now())
	next.Version = l.Version + 1
	if imported && outcome == importjob.Unchanged && s.o.ConfirmEvery > 0 && next.LastSyncedAt.Sub(l.LastSyncedAt) < s.o.ConfirmEvery && sameDisplay(l, next) {
		// Nothing to write: the asset and the link's display fields are as
		// recorded, and lastSyncedAt is recent enough.
		return Result{Link: l, Outcome: outcome}, false, nil
	}
	if err := s.links.PutLink(ctx, sc, next, Precondition{Version: l.Version}); err != nil {
		if !apperr.Is(err, apperr.Conflict) {
			return Result{}, false, fmt.Errorf("record link of device %s: %w", d.ID, err)
		}
		// Another refresh wrote the link meanwhile: fine if it wrote what
		// this one did.
		cur, gerr := s.links.GetLink(ctx, sc, d.ID)
		if gerr == nil && cur.State == StateLinked && cur.AssetID == next.AssetID && cur.Hash == next.Hash {
			return Result{Link: cur, Outcome: outcome}, false, nil
		}
		return Result{}, false, apperr.Wrap(apperr.Conflict, err, "device %s was synced by another request at the same time; try again", d.ID)
	}
	return Result{Link: next, Outcome: outcome}, false, nil
}

// sameDisplay reports whether two links show the same: everything but the
// version and lastSyncedAt.
func sameDisplay(a, b Link) bool {
	a.Version, b.Version = 0, 0
	a.LastSyncedAt, b.LastSyncedAt = time.Time{}, time.Time{}
	for _, l := range []*Link{&a, &b} {
		l.LastCheckIn = l.LastCheckIn.UTC().Truncate(time.Millisecond)
		if len(l.Storage.Volumes) == 0 {
			l.Storage.Volumes = nil
		}
	}
	return reflect.DeepEqual(a, b)
}

// createClaimed runs the ladder's PSA rungs under the claim — or takes the
// import index's answer hint instead — then creates or adopts the asset
// and finalizes the link while the claim stands.
func (s *Service) createClaimed(ctx context.Context, sc tenancy.Scope, c Clients, d rmm.Device, want psa.Asset, claim Link, hint *queuemsg.AssetMatch) (Result, error) {
	owner := Precondition{Owner: claim.LeaseOwner}
	release := func() {
		// Best effort: an unreleased claim only delays the device until
		// its lease ends.
		_ = s.links.DeleteLink(context.WithoutCancel(ctx), sc, d.ID, owner)
	}
	var (
		m   Match
		err error
	)
	if hint != nil {
		m = matchOf(*hint, d.SerialNumber)
	} else if m, err = Resolve(ctx, nil, c.PSA, d); err != nil {
		release()
		return Result{}, err
	}
	var (
		assetID string
		outcome importjob.Outcome
	)
	switch m.By {
	case Tie:
		release()
		return Result{Outcome: importjob.Review, Reason: m.Reason}, nil
	case NoMatch:
		a, err := c.PSA.CreateAsset(ctx, want)
		if err != nil {
			// The create may have been applied (a timeout, a 5xx after the
			// write): leave the claim as an ended lease rather than
			// releasing it, so the next refresh of the device, whatever
			// message brings it, runs the ladder and adopts such an asset.
			expired := claim
			expired.LeaseUntil = s.now().Add(-time.Millisecond)
			_ = s.links.PutLink(context.WithoutCancel(ctx), sc, expired, owner)
			return Result{}, fmt.Errorf("create asset for device %s: %w", d.ID, err)
		}
		assetID, outcome = a.ID, importjob.Created
	default:
		want.ID = m.AssetID
		if _, err := c.PSA.UpdateAsset(ctx, want); err != nil {
			release()
			if apperr.Is(err, apperr.NotFound) {
				// Deleted since the lookup: match again on the next try.
				return Result{}, apperr.Wrap(apperr.Conflict, err, "asset %s matched to device %s was deleted meanwhile; try again", m.AssetID, d.ID)
			}
			return Result{}, fmt.Errorf("update matched asset %s of device %s: %w", m.AssetID, d.ID, err)
		}
		assetID, outcome = m.AssetID, importjob.Linked
	}
	l := linkFor(d, want, assetID, s.now())
	l.Version = claim.Version + 1
	if err := s.links.PutLink(ctx, sc, l, owner); err != nil {
		// Conflict: the claim lapsed. The asset carries our reference, so
		// the next refresh adopts it instead of creating another.
		return Result{}, fmt.Errorf("record link of device %s to asset %s: %w", d.ID, assetID, err)
	}
	return Result{Link: l, Outcome: outcome, Reason: s.linkRMM(ctx, sc, c.RMM, d.ID, assetID)}, nil
}

// linkRMM gives the RMM the asset id of a device just linked, when the RMM
// client offers AssetLinker; it answers "" or, when the RMM refused, the
// reason to record (logged, never an error: the asset exists).
func (s *Service) linkRMM(ctx context.Context, sc tenancy.Scope, r rmm.DeviceGetter, deviceID, assetID string) string {
	l, ok := vendorspec.Role[AssetLinker](r)
	if !ok {
		return ""
	}
	if err := l.LinkAsset(ctx, deviceID, assetID); err != nil {
		s.o.Logger.WarnContext(ctx, "the RMM did not keep the PSA asset id of the device", "tenantId", sc.TenantID,
			"integrationId", sc.IntegrationID, "deviceId", deviceID, "assetId", assetID, "error", err.Error())
		return fmt.Sprintf("asset %s is linked, but writing its id to the RMM device failed: %v", assetID, err)
	}
	return ""
}

// leaseMargin is how long a claim outlives its refresh's deadline: the
// requests in flight at the deadline have ended by then.
const leaseMargin = 10 * time.Second

// leaseUntil is when a claim taken now ends: Options.Lease from now, or
// sooner when the refresh's context has a deadline (the function's
// timeout): leaseMargin after it. A refresh that dies holding its claim
// then delays the device by about its function's timeout, not the full
// lease.
func (s *Service) leaseUntil(ctx context.Context) time.Time {
	until := s.now().Add(s.o.Lease)
	if dl, ok := ctx.Deadline(); ok {
		if d := dl.UTC().Add(leaseMargin).Truncate(time.Millisecond); d.Before(until) {
			until = d
		}
	}
	return until
}

// matchOf is the index answer as a ladder match.
func matchOf(h queuemsg.AssetMatch, serial string) Match {
	switch h.By {
	case string(ByExternalRef):
		return Match{AssetID: h.AssetID, By: ByExternalRef}
	case string(BySerial):
		return Match{AssetID: h.AssetID, By: BySerial}
	case string(Tie):
		return Match{By: Tie, Candidates: h.Candidates,
			Reason: fmt.Sprintf("serial number %s matches %d PSA assets (%s); choose one", strings.TrimSpace(serial), len(h.Candidates), strings.Join(h.Candidates, ", "))}
	}
	return Match{By: NoMatch}
}

// Get returns a device's synced asset (NotFound when it has none yet).
func (s *Service) Get(ctx context.Context, sc tenancy.Scope, deviceID string) (Link, error) {
	l, err := s.links.GetLink(ctx, sc, deviceID)
	if err != nil {
		return Link{}, err
	}
	if l.State != StateLinked {
		return Link{}, apperr.New(apperr.NotFound, "no synced asset for device %s", deviceID)
	}
	return l, nil
}

// List returns a page of synced assets by device id.
func (s *Service) List(ctx context.Context, sc tenancy.Scope, q ListQuery) ([]Link, string, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	return s.links.ListLinks(ctx, sc, q)
}
