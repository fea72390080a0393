package autotask_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/vendors/autotask"
	"github.com/rmmbridge/rmmbridge/shared/vendors/autotask/sandbox"
)

// TestMembersCarryTheirSecurityLevel: every member's Role is its
// resource's security level by name (the userType picklist of Resources
// entityInformation/fields), one per seeded level and for a resource
// added with a level; the picklist is read once per LookupTTL, not once
// per listing, and read again after it.
func TestMembersCarryTheirSecurityLevel(t *testing.T) {
	ctx := context.Background()
	srv := startSandbox(t, sandbox.Options{Seed: 1, OrgCount: 2})
	added := srv.AddResource(sandbox.NewResource{UserName: "dkaur", FirstName: "Dev", LastName: "Kaur", Email: "dkaur@msp.example", SecurityLevel: "Dispatcher"})
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	cfg := clientConfig(srv, nil)
	cfg.Now = func() time.Time { return now }
	c := newClient(t, cfg)

	fieldReads := func() int {
		n := 0
		for _, r := range srv.Requests() {
			if r.Path == "/V1.0/Resources/entityInformation/fields" {
				n++
			}
		}
		return n
	}
	want := map[string]string{
		"jsmith@msp.example":    "Administrator",
		"mgarcia@msp.example":   "Technician",
		"pwilliams@msp.example": "Dispatcher",
		"tnguyen@msp.example":   "Technician", // inactive, still with its level
		"dkaur@msp.example":     "Dispatcher",
	}
	for round := range 2 {
		members, err := c.ListMembers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, levels := map[string]string{}, map[string]bool{}
		for _, m := range members {
			if m.Role == "" {
				t.Errorf("member %+v has no security level", m)
			}
			levels[m.Role] = true
			if _, ok := want[m.Email]; ok {
				got[m.Email] = m.Role
			}
			if m.ID == strconv.Itoa(added) && m.Role != "Dispatcher" {
				t.Errorf("added resource %+v, want Dispatcher", m)
			}
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("round %d: security levels (-want +got):\n%s", round, d)
		}
		for _, l := range []string{"Administrator", "Dispatcher", "Technician", "Full Access"} {
			if !levels[l] {
				t.Errorf("round %d: no member with security level %q (levels %v)", round, l, levels)
			}
		}
		if levels["API User (system)"] {
			t.Errorf("round %d: the API user is listed", round)
		}
	}
	if n := fieldReads(); n != 1 {
		t.Errorf("two listings read the security levels %d times, want once (cached)", n)
	}
	now = now.Add(autotask.DefaultLookupTTL + time.Second)
	if _, err := c.ListMembers(ctx); err != nil {
		t.Fatal(err)
	}
	if n := fieldReads(); n != 2 {
		t.Errorf("after LookupTTL the security levels were read %d times in all, want 2", n)
	}
	for _, r := range srv.Requests() {
		if strings.Contains(r.Path, "Resources/entityInformation/userDefinedFields") {
			t.Errorf("members read the Resources UDFs (%s), which they do not use", r.Path)
		}
	}
}
