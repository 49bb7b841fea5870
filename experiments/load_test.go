package experiments

import "testing"

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64 // 0: an error
	}{
		{"1000000", 1000000}, {"16GiB", 16 << 30}, {"512 MiB", 512 << 20}, {"0.5TiB", 1 << 39},
		{"4KiB", 4096}, {"100B", 100}, {"1e9", 1e9}, {" 2GiB ", 2 << 30},
		{"0", 0}, {"-1GiB", 0}, {"NaN", 0}, {"lots", 0}, {"", 0}, {"1e30", 0}, {"9000000TiB", 0},
	} {
		got, err := ParseBytes(tc.in)
		if tc.want == 0 {
			if err == nil {
				t.Errorf("ParseBytes(%q) = %d, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}
