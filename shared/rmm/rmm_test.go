package rmm

import (
	"context"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestIsPlaceholderSerial(t *testing.T) {
	tests := []struct {
		serial string
		want   bool
	}{
		{"To be filled by O.E.M.", true},
		{"TO BE FILLED BY O.E.M.", true},
		{"  to be filled by oem ", true},
		{"System Serial Number", true},
		{"None", true},
		{"0", true},
		{"00000000", true},
		{"0000-0000-0000", true},
		{"Default string", true},
		{"Default_String", true},
		{"", true},
		{"   ", true},
		{"Not Specified", true},
		{"123456789", true},
		{"N/A", true},
		{"5CG1234XYZ", false},
		{"C02XK1ABJG5J", false},
		{"VMware-56 4d 2b 1c", false},
		{"1234567", false},
		{"10", false},
	}
	for _, tt := range tests {
		t.Run(tt.serial, func(t *testing.T) {
			if got := IsPlaceholderSerial(tt.serial); got != tt.want {
				t.Errorf("IsPlaceholderSerial(%q) = %v, want %v", tt.serial, got, tt.want)
			}
		})
	}
}

func TestDeviceStorage(t *testing.T) {
	d := Device{Volumes: []Volume{
		{Name: "C:", CapacityBytes: 500 << 30, FreeBytes: 100 << 30},
		{Name: "D:", CapacityBytes: 1500 << 30, FreeBytes: 900 << 30},
	}}
	got := d.Storage()
	want := Storage{CapacityBytes: 2000 << 30, FreeBytes: 1000 << 30}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Storage (-want +got):\n%s", diff)
	}
	if p := got.UsedPercent(); p != 50 {
		t.Errorf("UsedPercent = %v, want 50", p)
	}
	if p := d.Volumes[0].UsedPercent(); p != 80 {
		t.Errorf("C: UsedPercent = %v, want 80", p)
	}
	if p := (Device{}).Storage().UsedPercent(); p != 0 {
		t.Errorf("empty UsedPercent = %v, want 0", p)
	}
}

func TestOSString(t *testing.T) {
	tests := []struct {
		os   OS
		want string
	}{
		{OS{Name: "Windows 11 Pro", Version: "23H2", Build: "22631"}, "Windows 11 Pro 23H2 (22631)"},
		{OS{Name: "macOS Sonoma 14.4.1", Version: "14.4.1"}, "macOS Sonoma 14.4.1"},
		{OS{Name: "Ubuntu 22.04.4 LTS"}, "Ubuntu 22.04.4 LTS"},
		{OS{}, ""},
	}
	for _, tt := range tests {
		if got := tt.os.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.os, got, tt.want)
		}
	}
}

func TestParseSeverity(t *testing.T) {
	tests := map[string]Severity{"CRITICAL": SeverityCritical, "Major": SeverityMajor, "moderate": SeverityModerate, "MINOR": SeverityMinor, "NONE": SeverityNone, "weird": SeverityNone}
	for in, want := range tests {
		if got := ParseSeverity(in); got != want {
			t.Errorf("ParseSeverity(%q) = %q, want %q", in, got, want)
		}
	}
}

// pagedDevices is an in-memory DeviceLister with pages of two.
type pagedDevices []Device

func (p pagedDevices) ListDevices(_ context.Context, _ string, cursor string) (DevicePage, error) {
	start, _ := strconv.Atoi(cursor)
	end := min(start+2, len(p))
	page := DevicePage{Devices: p[start:end]}
	if end < len(p) {
		page.NextCursor = strconv.Itoa(end)
	}
	return page, nil
}

func TestAllDevices(t *testing.T) {
	devs := pagedDevices{{ID: "1"}, {ID: "2"}, {ID: "3"}, {ID: "4"}, {ID: "5"}}
	got, err := AllDevices(context.Background(), devs, "org")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Device(devs), got); diff != "" {
		t.Errorf("AllDevices (-want +got):\n%s", diff)
	}
}
