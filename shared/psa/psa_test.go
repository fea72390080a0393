package psa

import (
	"testing"
	"unicode/utf8"
)

func TestTruncate(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{name: "shorter", in: "disk full", max: 100, want: "disk full"},
		{name: "exact", in: "abcde", max: 5, want: "abcde"},
		{name: "one over", in: "abcdef", max: 5, want: "abcd…"},
		{name: "multibyte kept whole", in: "Müller GmbH Server", max: 6, want: "Mülle…"},
		{name: "no limit", in: "anything", max: 0, want: "anything"},
		{name: "empty", in: "", max: 3, want: ""},
		{name: "max one", in: "ab", max: 1, want: "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Truncate(tt.in, tt.max)
			if got != tt.want {
				t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
			if tt.max > 0 && utf8.RuneCountInString(got) > tt.max {
				t.Errorf("Truncate(%q, %d) has %d runes", tt.in, tt.max, utf8.RuneCountInString(got))
			}
		})
	}
}

func TestNamedRefIsZero(t *testing.T) {
	if !(NamedRef{}).IsZero() {
		t.Error("empty NamedRef is not zero")
	}
	if (NamedRef{Name: "Active"}).IsZero() {
		t.Error("NamedRef with a name is zero")
	}
}
