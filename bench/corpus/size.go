package corpus

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSize reads "1GiB", "256MiB", "64KiB", "1G", "8M" or a plain byte count; all multiples are
// binary.
func ParseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KIB", KiB}, {"MIB", MiB}, {"GIB", GiB}, {"K", KiB}, {"M", MiB}, {"G", GiB}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}
