package v1alpha1

import (
	"fmt"
	"regexp"
	"strconv"
	"time"
)

var retentionPeriodRE = regexp.MustCompile(`^(?:([0-9]+)y)?(?:([0-9]+)mo)?(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?$`)

// Units of a RetentionPeriod, in order; mo is 30 days and y is 365 days.
var retentionUnits = []time.Duration{365 * 24 * time.Hour, 30 * 24 * time.Hour, 7 * 24 * time.Hour, 24 * time.Hour, time.Hour, time.Minute}

// Duration parses the period. "mo" is months and "m" is minutes.
func (p RetentionPeriod) Duration() (time.Duration, error) {
	m := retentionPeriodRE.FindStringSubmatch(string(p))
	if p == "" || m == nil {
		return 0, fmt.Errorf("invalid retention period %q: use y, mo, w, d, h and m, largest first, for example 30d12h", string(p))
	}
	var total time.Duration
	for i, unit := range retentionUnits {
		if m[i+1] == "" {
			continue
		}
		n, err := strconv.ParseInt(m[i+1], 10, 64)
		if err != nil || n > int64((1<<63-1)/unit) || total > time.Duration(1<<63-1)-time.Duration(n)*unit {
			return 0, fmt.Errorf("retention period %q is too long", string(p))
		}
		total += time.Duration(n) * unit
	}
	return total, nil
}
