package sandbox

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// The bulk report endpoints (/v2/queries/volumes, /v2/queries/logged-on-users,
// /v2/queries/computer-systems): the device filter df, cursor paging
// (pageSize, default 1000, 10 to 10,000; cursor = the previous answer's
// cursor.name) and the answer {cursor:{name,offset,count,expires},
// results:[...]}, one row per volume, logged-on user or computer system,
// each with its deviceId and a timestamp. A page shorter than pageSize is
// the last; the sandbox still answers a further request with the cursor with
// an empty page.

// Cursor is a report page's cursor.
type Cursor struct {
	Name    string  `json:"name"`
	Offset  int     `json:"offset"`
	Count   int     `json:"count"`
	Expires float64 `json:"expires"`
}

// DeviceVolume is a volumes report row.
type DeviceVolume struct {
	Volume
	DeviceID  int     `json:"deviceId"`
	Timestamp float64 `json:"timestamp"`
}

// DeviceLoggedOnUser is a logged-on-users report row.
type DeviceLoggedOnUser struct {
	UserName  string  `json:"userName"`
	LogonTime float64 `json:"logonTime,omitempty"`
	DeviceID  int     `json:"deviceId"`
}

// DeviceComputerSystem is a computer-systems report row.
type DeviceComputerSystem struct {
	ComputerSystem
	DeviceID  int     `json:"deviceId"`
	Timestamp float64 `json:"timestamp"`
}

// report is one report's answer.
type report struct {
	Cursor  Cursor `json:"cursor"`
	Results []any  `json:"results"`
}

// cursorState is what a cursor name encodes: the report's filter and the
// offset of the next page.
type cursorState struct {
	Report string `json:"r"`
	DF     string `json:"df"`
	Offset int    `json:"o"`
}

// Report names.
const (
	reportVolumes   = "volumes"
	reportUsers     = "logged-on-users"
	reportComputers = "computer-systems"
)

// cursorTTL is how long a report cursor stays valid.
const cursorTTL = 10 * time.Minute

func (s *Server) handleQuery(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		size := 1000
		if v := q.Get("pageSize"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 10 || n > 10000 {
				s.writeError(w, http.StatusBadRequest, "INVALID_PARAMETER", "pageSize must be an integer from 10 to 10000")
				return
			}
			size = n
		}
		st := cursorState{Report: name, DF: q.Get("df")}
		if c := q.Get("cursor"); c != "" {
			raw, err := base64.RawURLEncoding.DecodeString(c)
			if err != nil || json.Unmarshal(raw, &st) != nil || st.Report != name || st.Offset < 0 {
				s.writeError(w, http.StatusBadRequest, "INVALID_CURSOR", "Unknown or expired cursor")
				return
			}
		}
		match, err := parseDeviceFilter(st.DF)
		if err != nil {
			s.writeError(w, http.StatusBadRequest, "INVALID_FILTER", "Invalid device filter: "+err.Error())
			return
		}
		rows := s.reportRows(name, match)
		from := min(st.Offset, len(rows))
		to := min(from+size, len(rows))
		next := cursorState{Report: name, DF: st.DF, Offset: to}
		b, _ := json.Marshal(next)
		out := report{
			Cursor: Cursor{Name: base64.RawURLEncoding.EncodeToString(b), Offset: to, Count: to - from,
				Expires: float64(time.Now().Add(cursorTTL).UnixMilli()) / 1000},
			Results: append([]any{}, rows[from:to]...),
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// reportRows builds a report's rows over the matching devices, by device id.
func (s *Server) reportRows(name string, match deviceFilter) []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rows []any
	for _, d := range s.devices {
		if !match(d) {
			continue
		}
		switch name {
		case reportVolumes:
			for _, v := range d.Volumes {
				rows = append(rows, DeviceVolume{Volume: v, DeviceID: d.ID, Timestamp: d.LastUpdate})
			}
		case reportUsers:
			if d.LastLoggedUser != "" {
				rows = append(rows, DeviceLoggedOnUser{UserName: d.LastLoggedUser, LogonTime: d.LastLogonTime, DeviceID: d.ID})
			}
		case reportComputers:
			if d.System != nil {
				rows = append(rows, DeviceComputerSystem{ComputerSystem: *d.System, DeviceID: d.ID, Timestamp: d.LastUpdate})
			}
		}
	}
	return rows
}
