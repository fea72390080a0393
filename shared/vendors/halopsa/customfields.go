package halopsa

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// customFieldInfo is the part of a custom field definition the client
// reads from GET /api/FieldInfo/{id}.
//
// §6 does not document this endpoint: it is what the HaloAPI PowerShell
// module's Get-HaloCustomField calls ([P]). Neither the body's shape
// beyond "id" nor the meaning of its type codes is known ([U]), so the
// client checks only that the definition exists (the answer names the id
// asked for) and not its kind, and fails closed: a 404, or a 200 that does
// not carry the id, is "no such field" — a connection whose reference
// field cannot be confirmed is refused on Test & save, rather than saved
// to write references into a field that is not there (which would make
// every lookup miss and every import create duplicates).
type customFieldInfo struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// customFieldExists reports whether the instance defines custom field id.
func (c *Client) customFieldExists(ctx context.Context, id int) (bool, error) {
	var raw json.RawMessage
	err := c.get(ctx, "/api/FieldInfo/{id}", "/FieldInfo/"+strconv.Itoa(id), nil, &raw)
	if apperr.Is(err, apperr.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var f customFieldInfo
	if json.Unmarshal(raw, &f) != nil || f.ID != id {
		return false, nil
	}
	return true, nil
}

// checkCustomFields checks that the client and ticket custom fields named
// in settings exist on the instance (TestConnection); bad gets one field
// error per missing one. A refusal to read the definitions is returned
// as the permission it is.
func (c *Client) checkCustomFields(ctx context.Context) ([]apperr.FieldError, error) {
	var bad []apperr.FieldError
	for _, f := range []struct {
		setting, entity string
		id              int
	}{
		{"accountRefFieldId", "client", c.cfg.AccountRefFieldID},
		{"ticketRefFieldId", "ticket", c.cfg.TicketRefFieldID},
	} {
		if f.id == 0 {
			continue
		}
		ok, err := c.customFieldExists(ctx, f.id)
		if err != nil {
			if e, isApp := apperr.As(err); isApp && e.Kind == apperr.Unauthorized {
				return nil, &apperr.Error{Kind: apperr.Unauthorized, VendorStatus: e.VendorStatus, Err: err,
					Message: fmt.Sprintf("HaloPSA accepted the credentials, but the API application may not read custom field definitions (GET /api/FieldInfo), needed to check settings.%s: give the application, and the agent it runs as, permission on configuration/custom fields (%s)", f.setting, e.Message)}
			}
			return nil, fmt.Errorf("test HaloPSA connection: read custom field %d (settings.%s): %w", f.id, f.setting, err)
		}
		if !ok {
			bad = append(bad, apperr.FieldError{Field: "settings." + f.setting,
				Message: fmt.Sprintf("HaloPSA has no custom field with id %d: create a %s custom field (text) for rmmbridge's reference and give its id", f.id, f.entity)})
		}
	}
	return bad, nil
}
