package asset

import (
	"context"
	"net/http"

	"github.com/rmmbridge/rmmbridge/shared/account"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
	"github.com/rmmbridge/rmmbridge/shared/httpapi"
	"github.com/rmmbridge/rmmbridge/shared/importjob"
	"github.com/rmmbridge/rmmbridge/shared/ratelimit"
)

// SyncHandler is the Sync button (POST
// /v1/integrations/{integrationId}/assets/{deviceId}/sync): it refreshes the
// device now and answers 200 with the asset. An unknown integration or a
// device the RMM does not know is 404; a device of an unmapped
// organization, or whose serial number matches several PSA assets, is 409
// with the reason.
func SyncHandler(svc *Service, open Opener) httpapi.HandlerFunc {
	return func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
		ctx = ratelimit.WithLane(ctx, ratelimit.LaneSync) // a budget wait over 5 s is a 429
		sc := account.Scope{TenantID: r.Principal.TenantID, IntegrationID: r.PathParam("integrationId"), Actor: "key/" + r.Principal.KeyID}
		c, err := open(ctx, sc.TenantID, sc.IntegrationID)
		if err != nil {
			return nil, err
		}
		deviceID := r.PathParam("deviceId")
		res, err := svc.Refresh(ctx, sc, c, deviceID)
		if err != nil {
			return nil, err
		}
		switch res.Outcome {
		case importjob.Skipped, importjob.Review:
			return nil, apperr.New(apperr.Conflict, "device %s was not synced: %s", deviceID, res.Reason)
		}
		return httpapi.JSON(http.StatusOK, res.Link.View()), nil
	}
}
