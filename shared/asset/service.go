package asset

import (
	"context"
	"fmt"
	"time"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/lease"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// PSA is what a refresh asks of the PSA.
type PSA interface {
	Finder
	psa.AssetWriter
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
}

// Service refreshes devices into PSA assets and reads the links.
type Service struct {
	links Store
	maps  Mappings
	o     Options
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
	return &Service{links: links, maps: maps, o: o}
}

func (s *Service) now() time.Time { return s.o.Now().UTC().Truncate(time.Millisecond) }

// Result is how one refresh ended. Link is the stored link for Created,
// Linked, Updated and Unchanged; Reason explains Skipped and Review.
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
	d, err := c.RMM.GetDevice(ctx, deviceID)
	if apperr.Is(err, apperr.NotFound) {
		return Result{}, apperr.Wrap(apperr.NotFound, err, "the RMM has no device %s", deviceID)
	}
	if err != nil {
		return Result{}, fmt.Errorf("read device %s: %w", deviceID, err)
	}
	if d.ID == "" {
		d.ID = deviceID
	}
	if d.OrganizationID == "" {
		return Result{Outcome: importjob.Skipped, Reason: fmt.Sprintf("device %s belongs to no organization", d.ID)}, nil
	}
	m, err := s.maps.GetMapping(ctx, sc, d.OrganizationID)
	switch {
	case apperr.Is(err, apperr.NotFound):
		return Result{Outcome: importjob.Skipped, Reason: fmt.Sprintf("organization %s is not mapped", d.OrganizationID)}, nil
	case err != nil:
		return Result{}, fmt.Errorf("read mapping of organization %s: %w", d.OrganizationID, err)
	case m.State != account.StateMapped:
		return Result{}, apperr.New(apperr.Conflict, "organization %s is being mapped; try again shortly", d.OrganizationID)
	}
	want := ToPSA(d, m.AccountID, m.Sites[d.SiteID])

	var res Result
	busy, err := lease.Wait{For: s.o.Wait, Poll: s.o.Poll, Now: s.o.Now, Sleep: s.o.Sleep}.Until(ctx, func() (bool, error) {
		l, err := s.links.GetLink(ctx, sc, d.ID)
		switch {
		case err != nil && !apperr.Is(err, apperr.NotFound):
			return true, fmt.Errorf("read link of device %s: %w", d.ID, err)
		case err == nil && l.State == StateLinked:
			r, gone, err := s.refreshLinked(ctx, sc, c, d, want, l)
			res = r
			return !gone, err
		case err == nil && l.State == StateCreating && l.LeaseUntil.After(s.now()):
			// Another refresh is creating the asset: wait for its link.
			return false, nil
		}
		claim := Link{DeviceID: d.ID, OrganizationID: d.OrganizationID, State: StateCreating,
			LeaseOwner: lease.NewOwner(), LeaseUntil: s.now().Add(s.o.Lease), Version: l.Version + 1}
		err = s.links.ClaimLink(ctx, sc, claim, s.now())
		if err == nil {
			res, err = s.createClaimed(ctx, sc, c, d, want, claim)
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
func (s *Service) refreshLinked(ctx context.Context, sc tenancy.Scope, c Clients, d rmm.Device, want psa.Asset, l Link) (res Result, gone bool, err error) {
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

// createClaimed runs the ladder's PSA rungs under the claim, then creates
// or adopts the asset and finalizes the link while the claim stands.
func (s *Service) createClaimed(ctx context.Context, sc tenancy.Scope, c Clients, d rmm.Device, want psa.Asset, claim Link) (Result, error) {
	owner := Precondition{Owner: claim.LeaseOwner}
	release := func() {
		// Best effort: an unreleased claim only delays the device until
		// its lease ends.
		_ = s.links.DeleteLink(context.WithoutCancel(ctx), sc, d.ID, owner)
	}
	m, err := Resolve(ctx, nil, c.PSA, d)
	if err != nil {
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
			release()
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
	return Result{Link: l, Outcome: outcome}, nil
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
