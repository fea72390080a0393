package limits

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/rmmbridge/rmmbridge/shared/apperr"
)

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"c_abc123", true},
		{"1001", true},
		{"3f1c6a2e-8d4b-4f0e-9a57-2b7c1d9e6f10", true},
		{"org:12", true},
		{"_x", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"", false},
		{"-x", false},
		{".", false},
		{"a#b", false},
		{"a/b", false},
		{"a b", false},
		{"ö", false},
		{"a\n", false},
		{"a%23", false},
	}
	for _, tt := range tests {
		if got := ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%.40q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestText(t *testing.T) {
	if fe := Text("name", strings.Repeat("ü", 200), 200); fe != nil {
		t.Errorf("200 two-byte characters: %v, want nil (the limit counts characters)", fe)
	}
	if fe := Text("name", strings.Repeat("ü", 201), 200); fe == nil || fe.Field != "name" {
		t.Errorf("201 characters: %v, want an error naming name", fe)
	}
}

func nested(n int) map[string]any {
	m := map[string]any{"leaf": 1}
	for i := 1; i < n; i++ {
		m = map[string]any{"a": m}
	}
	return m
}

func TestSettings(t *testing.T) {
	tests := []struct {
		name string
		v    map[string]any
		want []apperr.FieldError
	}{
		{"nil", nil, nil},
		{"ten levels", nested(10), nil},
		{"eleven levels", nested(11), []apperr.FieldError{{Field: "settings" + strings.Repeat(".a", 10), Message: "nests deeper than 10 levels"}}},
		{"arrays count as levels", map[string]any{"l": []any{[]any{[]any{[]any{[]any{[]any{[]any{[]any{[]any{[]any{1}}}}}}}}}}},
			[]apperr.FieldError{{Field: "settings.l[0][0][0][0][0][0][0][0][0]", Message: "nests deeper than 10 levels"}}},
		{"16 KiB", map[string]any{"x": strings.Repeat("s", MaxSettingsBytes-8)}, nil},
		{"over 16 KiB", map[string]any{"x": strings.Repeat("s", MaxSettingsBytes)},
			[]apperr.FieldError{{Field: "settings", Message: "is 16392 bytes as JSON; the limit is 16384"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, Settings("settings", tt.v)); diff != "" {
				t.Errorf("Settings (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a hostile depth costs no more than the limit", func(t *testing.T) {
		deep := nested(100_000)
		fe := Settings("settings", deep)
		if len(fe) != 1 || len(fe[0].Field) > 200 {
			t.Errorf("100,000 levels: %v", fe)
		}
	})
}

func TestStringMap(t *testing.T) {
	m := map[string]string{"ok": "v", "long": strings.Repeat("v", 201), strings.Repeat("k", 300): "v"}
	got := StringMap("settings.ticketDefaults", m, nil, nil)
	// Sorted by key: the 300-character key, then "long".
	if len(got) != 2 || got[1].Field != "settings.ticketDefaults.long" || !strings.HasPrefix(got[0].Message, "key ") || len(got[0].Field) > 200 {
		t.Errorf("StringMap = %+v", got)
	}
	many := map[string]string{}
	for i := range MaxMapEntries + 1 {
		many[strings.Repeat("k", i+1)] = "v"
	}
	if got := StringMap("sites", many, ID, nil); len(got) != 1 || got[0].Field != "sites" {
		t.Errorf("101 entries: %+v, want one error naming sites", got)
	}
}

func TestClip(t *testing.T) {
	for _, s := range []string{strings.Repeat("ü", 1000), strings.Repeat("a", 1000), "settings." + strings.Repeat("€", 300)} {
		c := Clip(s)
		if len(c) > 200 || !utf8.ValidString(c) || !strings.HasSuffix(c, "…") {
			t.Errorf("Clip(%.20q…) = %q (%d bytes)", s, c, len(c))
		}
		if b, _ := json.Marshal(c); !json.Valid(b) {
			t.Errorf("clipped field is not valid JSON text")
		}
	}
	if Clip("name") != "name" {
		t.Error("a short field name changed")
	}
}
