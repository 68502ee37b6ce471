package corpus

import "testing"

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"1GiB": 1 << 30, "256MiB": 256 << 20, "8mib": 8 << 20, "64KiB": 64 << 10,
		"1G": 1 << 30, "8M": 8 << 20, "4k": 4 << 10, "123": 123, "123B": 123, " 2 GiB ": 2 << 30,
	} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "-1MiB", "1.5GiB", "8MB", "1TiB", "99999999999GiB"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}
