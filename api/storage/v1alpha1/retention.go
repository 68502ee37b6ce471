package v1alpha1

import (
	"fmt"
	"regexp"
	"sort"
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

// Expired returns the finished Snapshots of one repository that the policy no longer keeps.
// Succeeded snapshots are kept by the grandfather-father-son rules (the newest `last`, and the
// newest of each of the latest `hourly` hours, `daily` days, ... as restic counts them), failed
// ones by failedSnapshots.last; anything older than maxRetentionPeriod goes whatever the rules
// say. Snapshots still Pending or Running are never expired. The retention Job and its tests use
// this one function.
func (spec *RetentionPolicySpec) Expired(snaps []Snapshot, now time.Time) ([]Snapshot, error) {
	var maxAge time.Duration
	if spec.MaxRetentionPeriod != "" {
		d, err := spec.MaxRetentionPeriod.Duration()
		if err != nil {
			return nil, err
		}
		maxAge = d
	}
	var succeeded, failed []Snapshot
	for _, s := range snaps {
		switch s.Status.Phase {
		case SnapshotSucceeded:
			succeeded = append(succeeded, s)
		case SnapshotFailed:
			failed = append(failed, s)
		}
	}
	newestFirst := func(list []Snapshot) {
		sort.SliceStable(list, func(i, j int) bool { return newer(&list[i], &list[j]) })
	}
	newestFirst(succeeded)
	newestFirst(failed)
	keep := map[string]bool{}
	if p := spec.SuccessfulSnapshots; p == nil {
		for _, s := range succeeded {
			keep[s.Name] = true
		}
	} else {
		rules := []struct {
			n      *int32
			bucket func(time.Time) string
		}{
			{p.Last, func(t time.Time) string { return t.Format(time.RFC3339Nano) }},
			{p.Hourly, func(t time.Time) string { return t.Format("2006-01-02T15") }},
			{p.Daily, func(t time.Time) string { return t.Format("2006-01-02") }},
			{p.Weekly, func(t time.Time) string { y, w := t.ISOWeek(); return fmt.Sprintf("%d-W%d", y, w) }},
			{p.Monthly, func(t time.Time) string { return t.Format("2006-01") }},
			{p.Yearly, func(t time.Time) string { return t.Format("2006") }},
		}
		for ri, rule := range rules {
			if rule.n == nil || *rule.n <= 0 {
				continue
			}
			seen := map[string]bool{}
			for i, s := range succeeded {
				b := rule.bucket(SnapshotTimeOf(&s).UTC())
				if ri == 0 {
					b = fmt.Sprint(i) // every snapshot is its own bucket for `last`
				}
				if seen[b] {
					continue
				}
				if len(seen) >= int(*rule.n) {
					break
				}
				seen[b] = true
				keep[s.Name] = true
			}
		}
	}
	lastFailed := 0
	if spec.FailedSnapshots != nil && spec.FailedSnapshots.Last != nil {
		lastFailed = int(*spec.FailedSnapshots.Last)
	}
	for i, s := range failed {
		if i < lastFailed {
			keep[s.Name] = true
		}
	}
	var out []Snapshot
	for _, s := range append(succeeded, failed...) {
		tooOld := maxAge > 0 && now.Sub(SnapshotTimeOf(&s)) > maxAge
		if !keep[s.Name] || tooOld {
			out = append(out, s)
		}
	}
	return out, nil
}
