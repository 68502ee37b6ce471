package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary serve as the worker that runs Coffer's operations, as the
// command's own binary does.
func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) != "" {
		os.Exit(workerMain(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

// TestQuick runs the quick mode end to end: every tool, every step, every restore verified, and
// a number in every cell of the table. It asserts nothing about speed.
func TestQuick(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	work, report := filepath.Join(dir, "work"), filepath.Join(dir, "report.md")
	var out, log bytes.Buffer
	if err := run(ctx, []string{"-quick", "-work", work, "-out", report}, &out, &log); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	t.Logf("\n%s\n%s", log.String(), out.String())

	if got := strings.Count(log.String(), " verified"); got != 6 {
		t.Errorf("%d verified restores, want 6 (3 tools, from the filesystem and from S3)", got)
	}
	for _, m := range metrics(0.05) {
		cells := tableRow(t, out.String(), m.label)
		if len(cells) != 4 {
			t.Errorf("row %q has %d cells after the label, want coffer, restic, kopia and the ratio", m.label, len(cells))
			continue
		}
		for i, tool := range allTools {
			if v, err := strconv.ParseFloat(cells[i], 64); err != nil || !(v > 0) {
				t.Errorf("row %q: %s has %q, want a positive number", m.label, tool, cells[i])
			}
		}
		if !strings.Contains(cells[3], "(") {
			t.Errorf("row %q: ratio cell %q has no verdict", m.label, cells[3])
		}
	}
	if saved, err := os.ReadFile(report); err != nil || string(saved) != out.String() {
		t.Errorf("-out file differs from standard output (%v)", err)
	}
	if _, err := os.Stat(work); !os.IsNotExist(err) {
		t.Errorf("work directory %s left behind without -keep: %v", work, err)
	}
}

// tableRow is the cells of the Markdown row labelled label, after the label.
func tableRow(t *testing.T, table, label string) []string {
	t.Helper()
	for _, line := range strings.Split(table, "\n") {
		if rest, ok := strings.CutPrefix(line, "| "+label+" |"); ok {
			var cells []string
			for _, c := range strings.Split(strings.TrimSuffix(strings.TrimSpace(rest), "|"), "|") {
				cells = append(cells, strings.TrimSpace(c))
			}
			return cells
		}
	}
	t.Fatalf("no row %q in\n%s", label, table)
	return nil
}

// corrupting flips one byte of the first regular file a restore writes.
type corrupting struct{ tool }

func (c corrupting) Restore(ctx context.Context, r repo, snap snapshot, target string) (measured, error) {
	m, err := c.tool.Restore(ctx, r, snap, target)
	if err != nil {
		return m, err
	}
	return m, filepath.WalkDir(target, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil || len(data) == 0 {
			return err
		}
		data[len(data)/2] ^= 1
		if err := os.WriteFile(p, data, 0); err != nil {
			return err
		}
		return filepath.SkipAll
	})
}

// TestWrongRestoreAborts: a restore that is fast but wrong must end the run with an error,
// not become a number in the table.
func TestWrongRestoreAborts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs restic on a 1 MiB corpus")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := parseFlags([]string{"-size", "1MiB", "-rounds", "1", "-tools", "restic", "-work", t.TempDir()}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	var out, log bytes.Buffer
	err = execute(ctx, c, &out, &log, func(t tool) tool { return corrupting{t} })
	if err == nil || !strings.Contains(err.Error(), "differs from its source") {
		t.Fatalf("got error %v, want the restored tree to differ from its source\n%s", err, log.String())
	}
	if out.Len() > 0 {
		t.Errorf("a table was printed for a run with a wrong restore:\n%s", out.String())
	}
}

func TestVerdict(t *testing.T) {
	throughput := metric{key: mInitial, higherIsBetter: true}
	seconds := metric{key: mNoChange}
	for name, tc := range map[string]struct {
		m      metric
		values map[string]float64
		want   string
	}{
		"faster than the better peer": {throughput, map[string]float64{"coffer": 120, "restic": 60, "kopia": 100}, "1.20 (coffer better than kopia)"},
		"slower than the better peer": {throughput, map[string]float64{"coffer": 80, "restic": 60, "kopia": 100}, "0.80 (kopia better)"},
		"less time wins":              {seconds, map[string]float64{"coffer": 0.5, "restic": 1.5, "kopia": 1}, "0.50 (coffer better than kopia)"},
		"more time loses":             {seconds, map[string]float64{"coffer": 1.5, "restic": 1, "kopia": 2}, "1.50 (restic better)"},
		"within half a percent":       {seconds, map[string]float64{"coffer": 1.004, "restic": 1, "kopia": 2}, "1.00 (tie with restic)"},
		"no peer":                     {seconds, map[string]float64{"coffer": 1}, "–"},
		"no coffer":                   {seconds, map[string]float64{"restic": 1}, "–"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := verdict(tc.m, tc.values); got != tc.want {
				t.Errorf("verdict = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	for name, tc := range map[string]struct {
		in   []float64
		want float64
	}{
		"one":  {[]float64{3}, 3},
		"odd":  {[]float64{5, 1, 3}, 3},
		"even": {[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("%s: median(%v) = %v, want %v", name, tc.in, got, tc.want)
		}
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median of nothing is not NaN")
	}
}

func TestRotate(t *testing.T) {
	tools := []string{"coffer", "restic", "kopia"}
	for n, want := range []string{"coffer,restic,kopia", "restic,kopia,coffer", "kopia,coffer,restic", "coffer,restic,kopia"} {
		if got := strings.Join(rotate(tools, n), ","); got != want {
			t.Errorf("rotate(round %d) = %s, want %s", n, got, want)
		}
	}
}

func TestParseFlags(t *testing.T) {
	c, err := parseFlags([]string{"-quick"}, os.Stderr)
	if err != nil || c.size != 64<<20 || c.rounds != 1 {
		t.Errorf("-quick: size %d, rounds %d, err %v; want 64 MiB, 1 round", c.size, c.rounds, err)
	}
	c, err = parseFlags([]string{"-quick", "-size", "8MiB"}, os.Stderr)
	if err != nil || c.size != 8<<20 || c.rounds != 1 {
		t.Errorf("-quick -size 8MiB: size %d, rounds %d, err %v; want 8 MiB, 1 round", c.size, c.rounds, err)
	}
	var discard bytes.Buffer
	for _, bad := range [][]string{{"-tools", "borg"}, {"-rounds", "0"}, {"-size", "1KiB"}, {"-coffer-cache", "ram"}, {"extra"}} {
		if _, err := parseFlags(bad, &discard); err == nil {
			t.Errorf("parseFlags(%q) accepted it", bad)
		}
	}
}
