package vendorhttp

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

func TestNextLink(t *testing.T) {
	tests := []struct {
		name   string
		header []string
		want   string
	}{
		{name: "next and last", header: []string{`<https://api.example/apis/3.0/company/companies?page=2&pageSize=25>; rel="next", <https://api.example/apis/3.0/company/companies?page=9&pageSize=25>; rel="last"`}, want: "https://api.example/apis/3.0/company/companies?page=2&pageSize=25"},
		{name: "last page", header: []string{`<https://api.example/x?page=1>; rel="first", <https://api.example/x?page=8>; rel="prev"`}, want: ""},
		{name: "unquoted rel, separate headers", header: []string{`<https://a/x?page=1>; rel=prev`, `<https://a/x?page=3>; rel=next`}, want: "https://a/x?page=3"},
		{name: "comma inside url", header: []string{`<https://a/x?conditions=id%20in%20(1,2)&page=2>; rel="next"`}, want: "https://a/x?conditions=id%20in%20(1,2)&page=2"},
		{name: "no header", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.header {
				h.Add("Link", v)
			}
			if got := NextLink(h); got != tt.want {
				t.Errorf("NextLink = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCollectKeyset(t *testing.T) {
	ids := make([]int, 23)
	for i := range ids {
		ids[i] = i + 100
	}
	var calls []string
	fetch := func(_ context.Context, after string, size int) ([]int, error) {
		calls = append(calls, after)
		var page []int
		for _, id := range ids {
			if a, _ := strconv.Atoi(after); after == "" || id > a {
				page = append(page, id)
			}
			if len(page) == size {
				break
			}
		}
		return page, nil
	}
	got, err := CollectKeyset(context.Background(), 10, fetch, strconv.Itoa)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids, got); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"", "109", "119"}, calls); diff != "" {
		t.Errorf("after values (-want +got):\n%s", diff)
	}

	t.Run("paging that does not advance fails", func(t *testing.T) {
		stuck := func(context.Context, string, int) ([]int, error) { return []int{1, 2}, nil }
		_, err := CollectKeyset(context.Background(), 2, stuck, strconv.Itoa)
		if !apperr.Is(err, apperr.Vendor) {
			t.Errorf("err = %v, want Vendor", err)
		}
	})
	t.Run("exact multiple ends on an empty page", func(t *testing.T) {
		calls = nil
		ids = ids[:20]
		got, err := CollectKeyset(context.Background(), 10, fetch, strconv.Itoa)
		if err != nil || len(got) != 20 || len(calls) != 3 {
			t.Errorf("got %d items in %d calls, err %v; want 20 in 3", len(got), len(calls), err)
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		value  string
		want   time.Duration
		wantOK bool
	}{
		{"5", 5 * time.Second, true},
		{"0", 0, true},
		{"1.5", 1500 * time.Millisecond, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
		{"", 0, false},
		{"soon", 0, false},
		{"-3", 0, false},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.value != "" {
			h.Set("Retry-After", tt.value)
		}
		got, ok := ParseRetryAfter(h, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.value, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestDecodeErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string
	}{
		{"ninjaone", `{"resultCode":"FAILURE","errorMessage":"Organization not found","incidentId":"5f1c"}`, "Organization not found; incident 5f1c"},
		{"oauth", `{"error":"invalid_client","error_description":"Bad client credentials"}`, "Bad client credentials"},
		{"oauth bare", `{"error":"invalid_client"}`, "invalid_client"},
		{"autotask", `{"errors":["IntegrationCode is invalid."]}`, "IntegrationCode is invalid."},
		{"connectwise", `{"code":"InvalidObject","message":"ticket object is invalid","errors":[{"code":"NullObject","message":"board is required","field":"board"}]}`, "ticket object is invalid; board: board is required"},
		{"plain text", `Service Unavailable`, ""},
		{"json string", `"the admin password is hunter2"`, ""},
		{"json array", `["a","b"]`, ""},
		{"html", `<html><body>502 Bad Gateway</body></html>`, ""},
		{"empty", ``, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DecodeErrorMessage(400, []byte(tt.body)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
