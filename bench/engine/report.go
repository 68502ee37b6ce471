package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Metric keys.
const (
	mInitial         = "initial"
	mIncremental     = "incremental"
	mGrowth          = "growth"
	mNoChange        = "nochange"
	mRestoreFS       = "restore-fs"
	mBackupS3        = "backup-s3"
	mRestoreS3       = "restore-s3"
	mSizeInitial     = "size-initial"
	mSizeIncremental = "size-incremental"
	mRSSBackup       = "rss-backup"
	mRSSRestore      = "rss-restore"
	mCPUInitial      = "cpu-initial"
	mCPURestoreFS    = "cpu-restore-fs"
)

// metric is one row of the table.
type metric struct {
	key   string
	label string
	// higherIsBetter for throughput; lower is better for times, sizes and memory.
	higherIsBetter bool
	decimals       int
}

func metrics(mutate float64) []metric {
	return []metric{
		{mInitial, "initial backup (MB/s)", true, 1},
		{mIncremental, fmt.Sprintf("incremental backup after %g%% mutate (s)", 100*mutate), false, 2},
		{mGrowth, "incremental: repository growth (MiB)", false, 1},
		{mNoChange, "no-change backup (s)", false, 2},
		{mRestoreFS, "restore from filesystem (MB/s)", true, 1},
		{mBackupS3, "backup to versitygw S3 (s)", false, 2},
		{mRestoreS3, "restore from versitygw S3, cold cache (s)", false, 2},
		{mSizeInitial, "repository size after initial (MiB)", false, 1},
		{mSizeIncremental, "repository size after incremental (MiB)", false, 1},
		{mRSSBackup, "peak RSS backup (MiB)", false, 0},
		{mRSSRestore, "peak RSS restore (MiB)", false, 0},
		{mCPUInitial, "CPU time, initial backup (s)", false, 1},
		{mCPURestoreFS, "CPU time, restore from filesystem (s)", false, 1},
	}
}

func median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// verdict compares Coffer's value with the best peer's on one row: the ratio coffer/best and
// who wins. Values within half a percent are a tie; runs are noisier than that.
func verdict(m metric, values map[string]float64) string {
	c, ok := values["coffer"]
	if !ok {
		return "–"
	}
	best, bestName := math.NaN(), ""
	for _, t := range allTools {
		v, ok := values[t]
		if t == "coffer" || !ok {
			continue
		}
		if bestName == "" || (m.higherIsBetter && v > best) || (!m.higherIsBetter && v < best) {
			best, bestName = v, t
		}
	}
	if bestName == "" || best == 0 {
		return "–"
	}
	ratio := c / best
	switch {
	case math.Abs(ratio-1) < 0.005:
		return fmt.Sprintf("%.2f (tie with %s)", ratio, bestName)
	case (ratio > 1) == m.higherIsBetter:
		return fmt.Sprintf("%.2f (coffer better than %s)", ratio, bestName)
	default:
		return fmt.Sprintf("%.2f (%s better)", ratio, bestName)
	}
}

// table is the Markdown report: medians with the verdict, then every round's values.
func table(c *config, rounds []roundResult) string {
	var sb strings.Builder
	row := func(cells ...string) { fmt.Fprintf(&sb, "| %s |\n", strings.Join(cells, " | ")) }
	head := append([]string{"median of " + fmt.Sprint(len(rounds)) + " round(s)"}, c.tools...)
	head = append(head, "coffer / best peer")
	sb.WriteString("\n")
	row(head...)
	row(append([]string{"---"}, slices.Repeat([]string{"---:"}, len(head)-1)...)...)
	for _, m := range metrics(c.mutate) {
		medians := map[string]float64{}
		cells := []string{m.label}
		for _, t := range c.tools {
			var vs []float64
			for _, r := range rounds {
				if v, ok := r[m.key][t]; ok {
					vs = append(vs, v)
				}
			}
			if len(vs) == 0 {
				cells = append(cells, "–")
				continue
			}
			medians[t] = median(vs)
			cells = append(cells, fmt.Sprintf("%.*f", m.decimals, medians[t]))
		}
		row(append(cells, verdict(m, medians))...)
	}
	if len(rounds) > 1 {
		sb.WriteString("\nEvery round (in round order):\n\n")
		row(append([]string{"metric"}, c.tools...)...)
		row(append([]string{"---"}, slices.Repeat([]string{"---:"}, len(c.tools))...)...)
		for _, m := range metrics(c.mutate) {
			cells := []string{m.label}
			for _, t := range c.tools {
				var vs []string
				for _, r := range rounds {
					if v, ok := r[m.key][t]; ok {
						vs = append(vs, fmt.Sprintf("%.*f", m.decimals, v))
					}
				}
				cells = append(cells, strings.Join(vs, " / "))
			}
			row(cells...)
		}
	}
	return sb.String()
}
