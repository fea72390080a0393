package account

import (
	"context"
	"fmt"
	"sort"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/psa"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
	"github.com/rmmbridge/rmmbridge/shared/tenancy"
)

// SiteCreate is the sites-map value that asks for a new location.
const SiteCreate = "create"

// MapInput is a PUT /mappings/{orgId} body: exactly one of AccountID and
// CreateAccount, and optionally an explicit site map.
type MapInput struct {
	AccountID     string            `json:"accountId,omitempty"`
	CreateAccount *NewAccountSpec   `json:"createAccount,omitempty"`
	Sites         map[string]string `json:"sites,omitempty"`
}

// Map links an organization to an existing account or creates one for it,
// then maps its sites: an explicit entry wins (a location id, or "create");
// unlisted sites are matched to the account's locations by normalized name,
// else created.
func (s *Service) Map(ctx context.Context, sc tenancy.Scope, r RMM, p PSA, orgID string, in MapInput) (Mapping, error) {
	if (in.AccountID == "") == (in.CreateAccount == nil) {
		return Mapping{}, apperr.InvalidFields(apperr.FieldError{Field: "accountId", Message: "give exactly one of accountId and createAccount"})
	}
	org, err := r.GetOrganization(ctx, orgID)
	if err != nil {
		return Mapping{}, fmt.Errorf("read organization %s: %w", orgID, err)
	}
	var fe []apperr.FieldError
	for siteID := range in.Sites {
		if !hasSite(org, siteID) {
			fe = append(fe, apperr.FieldError{Field: "sites." + siteID, Message: "organization " + orgID + " has no such site"})
		}
	}
	if len(fe) > 0 {
		sort.Slice(fe, func(i, j int) bool { return fe[i].Field < fe[j].Field })
		return Mapping{}, apperr.InvalidFields(fe...)
	}
	before, err := s.store.GetMapping(ctx, sc, orgID)
	hadMapping := err == nil && before.State == StateMapped
	if err != nil && !apperr.Is(err, apperr.NotFound) {
		return Mapping{}, fmt.Errorf("read mapping of organization %s: %w", orgID, err)
	}

	var m Mapping
	action := "mapping.link"
	if in.CreateAccount != nil {
		// Idempotent: a mapped organization keeps its account. A new
		// account gets its sites mapped under the create claim; an
		// existing mapping only changes when sites are given explicitly.
		spec := *in.CreateAccount
		spec.Sites = in.Sites
		var created bool
		m, created, err = s.EnsureAccount(ctx, sc, p, org, spec)
		if err != nil || created || len(in.Sites) == 0 {
			return m, err
		}
		action = "mapping.sites"
	} else {
		acct, err := p.GetAccount(ctx, in.AccountID)
		if apperr.Is(err, apperr.NotFound) {
			return Mapping{}, apperr.InvalidFields(apperr.FieldError{Field: "accountId", Message: "the PSA has no such account"})
		}
		if err != nil {
			return Mapping{}, fmt.Errorf("read account %s: %w", in.AccountID, err)
		}
		m = Mapping{OrganizationID: org.ID, OrganizationName: org.Name, AccountID: acct.ID, AccountName: acct.Name, Mode: ModeLinked}
		if hadMapping && before.AccountID == acct.ID {
			m.Mode, m.Sites = before.Mode, before.Sites
		}
	}
	sites, err := s.mapSites(ctx, p, org, m.AccountID, m.Sites, in.Sites)
	if err != nil {
		return Mapping{}, err
	}
	m.Sites, m.State, m.UpdatedAt = sites, StateMapped, s.now()
	var prev *Mapping
	if hadMapping {
		prev = &before
	}
	if err := s.store.PutMapping(ctx, sc, m, "", s.event(sc, action, orgID, prev, &m)); err != nil {
		return Mapping{}, fmt.Errorf("write mapping of organization %s: %w", orgID, err)
	}
	return m, nil
}

func hasSite(org rmm.Organization, siteID string) bool {
	for _, st := range org.Sites {
		if st.ID == siteID {
			return true
		}
	}
	return false
}

// mapSites resolves every site of org to a location of the account.
func (s *Service) mapSites(ctx context.Context, p PSA, org rmm.Organization, accountID string, current, explicit map[string]string) (map[string]string, error) {
	locs, err := p.ListLocations(ctx, accountID)
	if err != nil {
		return nil, fmt.Errorf("list locations of account %s: %w", accountID, err)
	}
	byID := map[string]psa.Location{}
	byName := map[string]psa.Location{}
	for _, l := range locs {
		byID[l.ID] = l
		if k := Normalize(l.Name).Key; k != "" {
			if _, dup := byName[k]; !dup {
				byName[k] = l
			}
		}
	}
	out := map[string]string{}
	var fe []apperr.FieldError
	for _, site := range org.Sites {
		want, listed := explicit[site.ID]
		switch {
		case listed && want == SiteCreate:
			l, err := p.CreateLocation(ctx, accountID, psa.NewLocation{Name: site.Name})
			if err != nil {
				return nil, fmt.Errorf("create location for site %s: %w", site.ID, err)
			}
			out[site.ID] = l.ID
		case listed:
			if _, ok := byID[want]; !ok {
				fe = append(fe, apperr.FieldError{Field: "sites." + site.ID, Message: "account " + accountID + " has no location " + want})
				continue
			}
			out[site.ID] = want
		case current[site.ID] != "" && byID[current[site.ID]].ID != "":
			out[site.ID] = current[site.ID]
		default:
			if l, ok := byName[Normalize(site.Name).Key]; ok {
				out[site.ID] = l.ID
				continue
			}
			l, err := p.CreateLocation(ctx, accountID, psa.NewLocation{Name: site.Name})
			if err != nil {
				return nil, fmt.Errorf("create location for site %s: %w", site.ID, err)
			}
			byName[Normalize(l.Name).Key] = l
			out[site.ID] = l.ID
		}
	}
	if len(fe) > 0 {
		sort.Slice(fe, func(i, j int) bool { return fe[i].Field < fe[j].Field })
		return nil, apperr.InvalidFields(fe...)
	}
	return out, nil
}

// Get returns a final mapping (NotFound while none or only a claim exists).
func (s *Service) Get(ctx context.Context, sc tenancy.Scope, orgID string) (Mapping, error) {
	m, err := s.store.GetMapping(ctx, sc, orgID)
	if err != nil {
		return Mapping{}, err
	}
	if m.State != StateMapped {
		return Mapping{}, apperr.New(apperr.NotFound, "organization %s is not mapped", orgID)
	}
	return m, nil
}

// List returns every final mapping of the integration, by organization id.
func (s *Service) List(ctx context.Context, sc tenancy.Scope) ([]Mapping, error) {
	all, err := s.store.ListMappings(ctx, sc)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, m := range all {
		if m.State == StateMapped {
			out = append(out, m)
		}
	}
	return out, nil
}

// Unmap deletes a mapping; nothing is deleted in the PSA.
func (s *Service) Unmap(ctx context.Context, sc tenancy.Scope, orgID string) error {
	m, err := s.Get(ctx, sc, orgID)
	if err != nil {
		return err
	}
	return s.store.DeleteMapping(ctx, sc, orgID, s.event(sc, "mapping.delete", orgID, &m, nil))
}

// OrganizationView is an RMM organization with its mapping, if any.
type OrganizationView struct {
	Organization rmm.Organization
	Mapping      *Mapping
}

// Organizations lists the RMM's organizations with their mappings.
func (s *Service) Organizations(ctx context.Context, sc tenancy.Scope, r RMM) ([]OrganizationView, error) {
	orgs, err := r.ListOrganizations(ctx)
	if err != nil {
		return nil, fmt.Errorf("list organizations: %w", err)
	}
	maps, err := s.List(ctx, sc)
	if err != nil {
		return nil, err
	}
	byOrg := map[string]*Mapping{}
	for i := range maps {
		byOrg[maps[i].OrganizationID] = &maps[i]
	}
	out := make([]OrganizationView, 0, len(orgs))
	for _, o := range orgs {
		out = append(out, OrganizationView{Organization: o, Mapping: byOrg[o.ID]})
	}
	return out, nil
}

// SearchLimit caps each server-side search behind auto-match.
const SearchLimit = 100

// MatchOrganization auto-matches one organization against the PSA's
// accounts, found with the PSA's own name search (one query per search
// term, never a download of every account).
func (s *Service) MatchOrganization(ctx context.Context, r RMM, p psa.AccountSearcher, orgID string) (rmm.Organization, MatchResult, error) {
	org, err := r.GetOrganization(ctx, orgID)
	if err != nil {
		return rmm.Organization{}, MatchResult{}, fmt.Errorf("read organization %s: %w", orgID, err)
	}
	res, err := MatchName(ctx, p, org.Name)
	return org, res, err
}

// MatchName matches a name against the PSA's accounts.
func MatchName(ctx context.Context, p psa.AccountSearcher, name string) (MatchResult, error) {
	seen := map[string]bool{}
	var pool []psa.Account
	for _, term := range SearchTerms(name) {
		page, err := p.SearchAccounts(ctx, psa.AccountQuery{Search: term, Limit: SearchLimit})
		if err != nil {
			return MatchResult{}, fmt.Errorf("search accounts for %q: %w", term, err)
		}
		for _, a := range page.Items {
			if !seen[a.ID] {
				seen[a.ID] = true
				pool = append(pool, a)
			}
		}
	}
	return Match(name, pool), nil
}

// Provisioned is the result of creating an RMM organization for an account.
type Provisioned struct {
	OrganizationID string
	AccountID      string
	Sites          map[string]string // RMM site id → PSA location id
}

// ProvisionRMM creates the RMM organization for a PSA account (one site per
// location) and maps them. An account already mapped is a Conflict. The
// account decision runs in reverse (DecideOrganization): an organization
// that auto-match finds for the account's name is adopted rather than
// duplicated, and when several could be it nothing is created (Conflict
// naming them: map it by hand).
func (s *Service) ProvisionRMM(ctx context.Context, sc tenancy.Scope, r RMM, p PSA, accountID string) (Provisioned, error) {
	existing, err := s.store.MappingsByAccount(ctx, sc, accountID)
	if err != nil {
		return Provisioned{}, fmt.Errorf("look up mappings of account %s: %w", accountID, err)
	}
	for _, m := range existing {
		if m.State == StateMapped {
			return Provisioned{}, apperr.New(apperr.Conflict, "account %s is already mapped to organization %s", accountID, m.OrganizationID)
		}
	}
	acct, err := p.GetAccount(ctx, accountID)
	if err != nil {
		return Provisioned{}, fmt.Errorf("read account %s: %w", accountID, err)
	}
	locs, err := p.ListLocations(ctx, accountID)
	if err != nil {
		return Provisioned{}, fmt.Errorf("list locations of account %s: %w", accountID, err)
	}
	org, err := s.findOrCreateOrg(ctx, r, acct, locs)
	if err != nil {
		return Provisioned{}, err
	}
	// An adopted organization may be mapped to another account; never move
	// that mapping silently.
	if m, err := s.store.GetMapping(ctx, sc, org.ID); err == nil && m.State == StateMapped && m.AccountID != acct.ID {
		return Provisioned{}, apperr.New(apperr.Conflict,
			"the RMM already has organization %q (%s), mapped to account %s; map it by hand", org.Name, org.ID, m.AccountID)
	} else if err != nil && !apperr.Is(err, apperr.NotFound) {
		return Provisioned{}, fmt.Errorf("read mapping of organization %s: %w", org.ID, err)
	}
	sites := map[string]string{}
	locByName := map[string]string{}
	for _, l := range locs {
		locByName[Normalize(l.Name).Key] = l.ID
	}
	for _, st := range org.Sites {
		if id, ok := locByName[Normalize(st.Name).Key]; ok {
			sites[st.ID] = id
		}
	}
	m := Mapping{OrganizationID: org.ID, OrganizationName: org.Name, AccountID: acct.ID, AccountName: acct.Name,
		Mode: ModeLinked, Sites: sites, State: StateMapped, UpdatedAt: s.now()}
	if err := s.store.PutMapping(ctx, sc, m, "", s.event(sc, "mapping.provision", org.ID, nil, &m)); err != nil {
		return Provisioned{}, fmt.Errorf("write mapping of organization %s: %w", org.ID, err)
	}
	return Provisioned{OrganizationID: org.ID, AccountID: acct.ID, Sites: sites}, nil
}

// findOrCreateOrg carries out the reverse account decision for acct: the
// organization auto-match finds, or a new one; Conflict when several
// organizations could be the account.
func (s *Service) findOrCreateOrg(ctx context.Context, r RMM, acct psa.Account, locs []psa.Location) (rmm.Organization, error) {
	orgs, err := r.ListOrganizations(ctx)
	if err != nil {
		return rmm.Organization{}, fmt.Errorf("list organizations: %w", err)
	}
	d := DecideOrganization(acct, false, MatchOrganizations(acct.Name, orgs))
	switch d.Action {
	case ActionReview:
		return rmm.Organization{}, apperr.New(apperr.Conflict, "%s", d.Reason)
	case ActionLink:
		for _, o := range orgs {
			if o.ID == d.Target.Account.ID {
				return o, nil
			}
		}
		return rmm.Organization{}, apperr.New(apperr.Internal, "matched organization %s is not among those listed", d.Target.Account.ID)
	}
	var siteNames []string
	for _, l := range locs {
		siteNames = append(siteNames, l.Name)
	}
	org, err := r.CreateOrganization(ctx, rmm.NewOrganization{Name: acct.Name, Sites: siteNames})
	if err != nil {
		return rmm.Organization{}, fmt.Errorf("create organization for account %s: %w", acct.ID, err)
	}
	return org, nil
}
