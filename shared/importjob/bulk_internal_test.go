package importjob

import (
	"fmt"
	"testing"

	"github.com/rmmbridge/rmmbridge/shared/queuemsg"
	"github.com/rmmbridge/rmmbridge/shared/rmm"
)

// TestBulkAssetMessageBound: a device snapshot rides in its AssetMessage
// unless the body would pass queuemsg.MaxAssetMessageBytes (then the
// worker reads the device itself); the index's answer stays.
func TestBulkAssetMessageBound(t *testing.T) {
	ref := Ref{TenantID: "t1", IntegrationID: "i1", JobID: "j1"}
	match := &queuemsg.AssetMatch{By: MatchNone, AccountID: "250"}
	small := rmm.Device{ID: "d1", OrganizationID: "o1", Name: "pc", SerialNumber: "S1",
		Volumes: []rmm.Volume{{Name: "C:", CapacityBytes: 1 << 40, FreeBytes: 1 << 39}}}
	big := small
	for i := range 3000 {
		big.IPAddresses = append(big.IPAddresses, fmt.Sprintf("10.%d.%d.%d", i/65536, i/256%256, i%256))
	}
	for _, tc := range []struct {
		name     string
		d        rmm.Device
		snapshot bool
	}{{"a usual device", small, true}, {"a device with 3,000 addresses", big, false}} {
		msg := bulkAssetMessage(ref, tc.d, true, match)
		if len(msg.Body) > queuemsg.MaxAssetMessageBytes {
			t.Errorf("%s: body of %d bytes, more than %d", tc.name, len(msg.Body), queuemsg.MaxAssetMessageBytes)
		}
		m, err := queuemsg.DecodeAssetRefresh(msg.Body)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if (m.Device != nil) != tc.snapshot || m.Match == nil || m.DeviceID != "d1" || m.Reason != "import" {
			t.Errorf("%s: snapshot %v, match %v, device %q; want snapshot %v with the match", tc.name, m.Device != nil, m.Match, m.DeviceID, tc.snapshot)
		}
	}
}
