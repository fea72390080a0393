package sandbox

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Adding records by hand, beside the generated ones, and reading the
// sandbox's state (tests, the dev stack).

// AddClient adds a client with a site per name and returns the client's
// id and its sites' ids.
func (s *Server) AddClient(name string, sites []string) (int, []int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = strings.TrimSpace(name)
	if name == "" || len(sites) == 0 {
		return 0, nil, fmt.Errorf("add client %q: a name and a first site are needed", name)
	}
	id := 1
	if n := len(s.clients); n > 0 {
		id = s.clients[n-1].ID + 1
	}
	s.clients = append(s.clients, &Client{ID: id, Name: name})
	var ids []int
	for _, sn := range sites {
		x := &Site{ID: s.nextSiteID(), Client: id, Name: sn}
		s.sites = append(s.sites, x)
		ids = append(ids, x.ID)
	}
	return id, ids, nil
}

// AddAgent adds a (its PK is assigned; AgentID is generated when empty)
// at its Site, which must exist, and returns the agent id.
func (s *Server) AddAgent(a Agent) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.findSite(a.Site) == nil {
		return "", fmt.Errorf("add agent %q: no site %d", a.Hostname, a.Site)
	}
	a.PK = 1
	if n := len(s.agents); n > 0 {
		a.PK = s.agents[n-1].PK + 1
	}
	if a.AgentID == "" {
		a.AgentID = fmt.Sprintf("qf%038d", a.PK)
	}
	if a.LoggedInUsername == "" {
		a.LoggedInUsername = "None"
	}
	a.Disks = slices.Clone(a.Disks)
	s.agents = append(s.agents, &a)
	return a.AgentID, nil
}

// Clients returns copies of the clients, by id.
func (s *Server) Clients() []Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Client, len(s.clients))
	for i, c := range s.clients {
		out[i] = *c
	}
	return out
}

// Sites returns copies of the sites, by id.
func (s *Server) Sites() []Site {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Site, len(s.sites))
	for i, x := range s.sites {
		out[i] = *x
	}
	return out
}

// Agents returns copies of the agents, by pk.
func (s *Server) Agents() []Agent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Agent, len(s.agents))
	for i, a := range s.agents {
		out[i] = *a
		out[i].Disks = slices.Clone(a.Disks)
	}
	return out
}

// ClientOfAgent returns the client id of an agent (0 if unknown).
func (s *Server) ClientOfAgent(agentID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.findAgent(agentID); a != nil {
		return s.findSite(a.Site).Client
	}
	return 0
}

// touchedFree is what a touch takes from the first disk: enough to change
// its human-readable free size.
const touchedFree = gib / 4

// TouchAgents makes n agents (every len/n-th, from the first) look as if
// they had checked in again and written data: last_seen moves to now (at
// least a second later) and the first disk loses a quarter GiB of free
// space (a nearly full one gains it). It returns their agent ids.
func (s *Server) TouchAgents(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	n = max(0, min(n, len(s.agents)))
	now := time.Now().UTC().Truncate(time.Microsecond)
	var ids []string
	for i := range n {
		a := s.agents[i*len(s.agents)/n]
		if now.After(a.LastSeen.Add(time.Second)) {
			a.LastSeen = now
		} else {
			a.LastSeen = a.LastSeen.Add(time.Second)
		}
		if len(a.Disks) > 0 {
			d := &a.Disks[0]
			if d.Free >= touchedFree {
				d.Free -= touchedFree
			} else {
				d.Free = min(d.Total, d.Free+touchedFree)
			}
		}
		ids = append(ids, a.AgentID)
	}
	return ids
}
