package tacticalrmm

import (
	"fmt"
	"testing"
)

// TestParseSize reads the disk sizes real agents send (Tactical's
// bytes2human "232.3G", other agents' "232.3 GB"/"GiB", byte counts) and
// refuses what is no size.
func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"232.3G", 249_430_225_715, true}, // 232.3 × 2³⁰
		{"167.6G", 179_959_129_702, true}, // a "used" value
		{"64.7G", 69_471_096_013, true},   // a "free" value
		{"1.8T", 1_979_120_929_997, true}, // 1.8 × 2⁴⁰
		{"475.7G", 510_778_985_677, true}, // a 512 GB disk as formatted
		{"953.9G", 1_024_242_325_914, true},
		{"512.0M", 536_870_912, true},
		{"100.0K", 102_400, true},
		{"0B", 0, true},
		{"512B", 512, true},
		{"232.3 GB", 249_430_225_715, true},
		{"232.3GiB", 249_430_225_715, true},
		{"232.3gb", 249_430_225_715, true},
		{" 64.7G ", 69_471_096_013, true},
		{"1024", 1024, true},
		{"", 0, false},
		{"N/A", 0, false},
		{"-5G", 0, false},
		{"12.5X", 0, false},
		{"G", 0, false},
		{"1e3G", 0, false},
		{"99999999999E", 0, false},
	} {
		got, ok := ParseSize(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestVolumes maps disks as agents send them: strings, a free size
// missing (derived from percent), a total that cannot be read (skipped).
func TestVolumes(t *testing.T) {
	raw := []byte(`[
	 {"device":"C:","fstype":"NTFS","total":"232.3G","used":"167.6G","free":"64.7G","percent":72},
	 {"device":"D:","fstype":"NTFS","total":"100.0G","used":"25.0G","free":null,"percent":25},
	 {"device":"E:","fstype":"FAT32","total":"N/A","used":"","free":"","percent":0},
	 {"device":"/dev/sda1","fstype":"ext4","total":107374182400,"free":53687091200,"percent":50}]`)
	want := `[{C:  249430225715 69471096013} {D:  107374182400 80530636800} {/dev/sda1  107374182400 53687091200}]`
	if got := fmtSlice(volumes(raw)); got != want {
		t.Errorf("volumes = %s\nwant      %s", got, want)
	}
}

func fmtSlice[T any](xs []T) string { return fmt.Sprint(xs) }

// TestParseOS splits the agents' OS lines.
func TestParseOS(t *testing.T) {
	for _, tc := range []struct{ line, plat, name, version, build, arch string }{
		{"Windows 11 Pro, 64 bit v23H2 (build 22631.3447)", "windows", "Windows 11 Pro", "23H2", "22631.3447", "64-bit"},
		{"Windows Server 2019 Standard, 64 bit v1809 (build 17763.5696)", "windows", "Windows Server 2019 Standard", "1809", "17763.5696", "64-bit"},
		{"ubuntu 22.04 x86_64 5.15.0-105-generic", "linux", "ubuntu", "22.04", "5.15.0-105-generic", "x86_64"},
		{"darwin 14.5 arm64 23.5.0", "darwin", "darwin", "14.5", "23.5.0", "arm64"},
		{"Rocky Linux 9.3 x86_64 5.14.0", "linux", "Rocky Linux", "9.3", "5.14.0", "x86_64"},
		{"Some unknown OS", "linux", "Some unknown OS", "", "", ""},
		{"", "windows", "", "", "", ""},
	} {
		n, v, b, a := parseOS(tc.line, tc.plat)
		if n != tc.name || v != tc.version || b != tc.build || a != tc.arch {
			t.Errorf("parseOS(%q) = %q %q %q %q", tc.line, n, v, b, a)
		}
	}
}

// TestSplitMakeModel: known makers are split off; an unknown one is
// never guessed.
func TestSplitMakeModel(t *testing.T) {
	for _, tc := range []struct{ in, maker, model string }{
		{"Dell Inc. OptiPlex 7090", "Dell Inc.", "OptiPlex 7090"},
		{"Apple Inc. Mac14,2", "Apple Inc.", "Mac14,2"},
		{"VMware, Inc. VMware7,1", "VMware, Inc.", "VMware7,1"},
		{"Acme Computers X1", "", "Acme Computers X1"},
		{"", "", ""},
	} {
		if m, mo := splitMakeModel(tc.in); m != tc.maker || mo != tc.model {
			t.Errorf("splitMakeModel(%q) = %q, %q", tc.in, m, mo)
		}
	}
}

// TestParseTime reads DRF's ISO datetimes and Python's str(datetime).
func TestParseTime(t *testing.T) {
	for _, in := range []string{"2024-05-01T10:00:00.123456Z", "2024-05-01 10:00:00.123456+00:00", "2024-05-01 12:00:00.123456+02:00", "2024-05-01 10:00:00.123456"} {
		got, ok := parseTime(in)
		if !ok || got.Format("2006-01-02T15:04:05.000000Z07:00") != "2024-05-01T10:00:00.123456Z" {
			t.Errorf("parseTime(%q) = %v, %v", in, got, ok)
		}
	}
	for _, in := range []string{"None", "", "05 01 2024 10:00"} {
		if _, ok := parseTime(in); ok {
			t.Errorf("parseTime(%q) ok", in)
		}
	}
}
