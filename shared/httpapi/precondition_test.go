package httpapi

import (
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

// TestIfMatch parses If-Match values as RFC 9110 §13.1.1 writes them and
// as clumsy clients send them: a list of tags gives the versions it names
// (weak tags and tags this API never issued match nothing), "*" and no
// header give no precondition, and what is not an entity-tag list is a
// 400 naming If-Match.
func TestIfMatch(t *testing.T) {
	none := []int64(nil)
	tests := []struct {
		name      string
		header    *string
		want      []int64
		malformed bool
	}{
		{name: "absent", want: none},
		{name: "star", header: ptr("*"), want: none},
		{name: "star padded", header: ptr("  *\t"), want: none},
		{name: "one", header: ptr(`"3"`), want: []int64{3}},
		{name: "zero", header: ptr(`"0"`), want: []int64{0}},
		{name: "list", header: ptr(`"3", "5" ,"7"`), want: []int64{3, 5, 7}},
		{name: "empty list elements", header: ptr(`, "3",,`), want: []int64{3}},
		{name: "weak only", header: ptr(`W/"3"`), want: []int64{-1}},
		{name: "weak and strong", header: ptr(`W/"3", "4"`), want: []int64{4}},
		{name: "not ours", header: ptr(`"abc"`), want: []int64{-1}},
		{name: "leading zero", header: ptr(`"03"`), want: []int64{-1}},
		{name: "negative", header: ptr(`"-1"`), want: []int64{-1}},
		{name: "overflow", header: ptr(`"99999999999999999999"`), want: []int64{-1}},
		{name: "empty tag", header: ptr(`""`), want: []int64{-1}},
		{name: "comma inside a tag", header: ptr(`"a,b"`), want: []int64{-1}},
		{name: "unquoted", header: ptr(`3`), malformed: true},
		{name: "empty", header: ptr(``), malformed: true},
		{name: "blank", header: ptr(`   `), malformed: true},
		{name: "unterminated", header: ptr(`"3`), malformed: true},
		{name: "junk after a tag", header: ptr(`"3"x`), malformed: true},
		{name: "star in a list", header: ptr(`*, "3"`), malformed: true},
		{name: "space inside a tag", header: ptr(`"3 4"`), malformed: true},
		{name: "too many tags", header: ptr(strings.Repeat(`"1",`, 51)), malformed: true},
		{name: "huge", header: ptr(`"` + strings.Repeat("9", 10000) + `"`), want: []int64{-1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Request{Event: events.APIGatewayV2HTTPRequest{Headers: map[string]string{}}}
			if tc.header != nil {
				r.Event.Headers["if-match"] = *tc.header
			}
			m, err := r.IfMatch()
			if tc.malformed {
				e, ok := apperr.As(err)
				if !ok || e.Kind != apperr.Malformed || len(e.Fields) != 1 || e.Fields[0].Field != "If-Match" {
					t.Fatalf("IfMatch(%q) = %+v, %v; want a Malformed error naming If-Match", *tc.header, m, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("IfMatch: %v", err)
			}
			if diff := cmp.Diff(tc.want, m.Versions()); diff != "" {
				t.Errorf("versions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestETag(t *testing.T) {
	if got := ETag(42); got != `"42"` {
		t.Errorf("ETag(42) = %s", got)
	}
}

func ptr(s string) *string { return &s }
