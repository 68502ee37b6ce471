package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/cofferhq/coffer/bench/corpus"
	"github.com/cofferhq/coffer/test/servers"
)

// bench runs the rounds.
type bench struct {
	cfg *config
	log io.Writer
	s3  *servers.S3
	// wrap, when set, wraps every tool.
	wrap func(tool) tool
}

// roundResult is one round's measurements: metric key → tool → value.
type roundResult map[string]map[string]float64

func (r roundResult) set(metric, tool string, v float64) {
	if r[metric] == nil {
		r[metric] = map[string]float64{}
	}
	r[metric][tool] = v
}

// setMax keeps the largest value seen for metric and tool.
func (r roundResult) setMax(metric, tool string, v float64) {
	if old, ok := r[metric][tool]; !ok || v > old {
		r.set(metric, tool, v)
	}
}

func (b *bench) tool(name string) tool {
	c := b.cfg
	var t tool
	switch name {
	case "coffer":
		t = cofferTool{tuning: c.tuning, cache: c.cache, s3Conns: c.s3Conns}
	case "restic":
		t = resticTool{bin: c.bins["restic"]}
	default:
		t = kopiaTool{bin: c.bins["kopia"]}
	}
	if b.wrap != nil {
		t = b.wrap(t)
	}
	return t
}

// rotate is the tools in the order round n runs them: each round starts with the next tool,
// so that none is always the first to read a freshly written corpus.
func rotate(tools []string, n int) []string {
	k := n % len(tools)
	return append(append([]string{}, tools[k:]...), tools[:k]...)
}

// round runs every step for every tool, tool after tool within each step.
func (b *bench) round(ctx context.Context, n int) (res roundResult, err error) {
	c := b.cfg
	dir := filepath.Join(c.work, fmt.Sprintf("round%d", n+1))
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	bucket := fmt.Sprintf("round%d", n+1)
	if !c.keep {
		defer func() {
			_ = os.RemoveAll(filepath.Join(b.s3.Dir, bucket))
			if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
				err = rerr
			}
		}()
	}
	order := rotate(c.tools, n)
	res = roundResult{}
	logf := func(format string, args ...any) {
		fmt.Fprintf(b.log, "round %d: "+format+"\n", append([]any{n + 1}, args...)...)
	}

	src := filepath.Join(dir, "src")
	spec := corpus.Spec{Seed: c.seed, TotalBytes: c.size}
	man, err := corpus.Generate(src, spec)
	if err != nil {
		return nil, err
	}
	logf("corpus: %d files, %s", man.Files, formatSize(man.Bytes))

	repos := map[string]repo{}
	for _, t := range order {
		repos[t] = repo{local: filepath.Join(dir, "repos", t), client: filepath.Join(dir, "clients", t+"-fs")}
		if err := b.tool(t).Init(ctx, repos[t]); err != nil {
			return nil, err
		}
	}
	backup := func(t, step string, r repo) (measured, error) {
		settle()
		m, err := b.tool(t).Backup(ctx, r, src)
		if err != nil {
			return m, err
		}
		res.setMax(mRSSBackup, t, kib2mib(m.maxRSSKiB))
		logf("%-6s %-18s %7.2f s  cpu %6.2f s  peak RSS %4.0f MiB", t, step, m.elapsed.Seconds(), m.cpu.Seconds(), kib2mib(m.maxRSSKiB))
		return m, nil
	}
	restore := func(t, step string, r repo, snap snapshot, want string, bytes int64, connect bool) (measured, error) {
		target := filepath.Join(dir, "restore-"+t)
		settle()
		var conn measured
		if connect {
			m, err := b.tool(t).Connect(ctx, r)
			if err != nil {
				return m, err
			}
			conn = m
		}
		m, err := b.tool(t).Restore(ctx, r, snap, target)
		if err != nil {
			return m, err
		}
		m.elapsed += conn.elapsed
		m.maxRSSKiB = max(m.maxRSSKiB, conn.maxRSSKiB)
		m.cpu += conn.cpu
		got, err := corpus.HashTree(target)
		if err != nil {
			return m, fmt.Errorf("%s %s: hashing the restored tree: %w", t, step, err)
		}
		if got != want {
			keep := "run with -keep to inspect it"
			if c.keep {
				keep = "kept in " + target
			}
			return m, fmt.Errorf("%s %s: the restored tree differs from its source (tree hash %s, want %s); %s",
				t, step, got, want, keep)
		}
		res.setMax(mRSSRestore, t, kib2mib(m.maxRSSKiB))
		logf("%-6s %-18s %7.2f s  cpu %6.2f s  %6.1f MB/s  peak RSS %4.0f MiB  verified", t, step, m.elapsed.Seconds(),
			m.cpu.Seconds(), mbps(bytes, m.elapsed.Seconds()), kib2mib(m.maxRSSKiB))
		return m, os.RemoveAll(target)
	}

	sizes := map[string]int64{}
	for _, t := range order {
		m, err := backup(t, "initial backup", repos[t])
		if err != nil {
			return nil, err
		}
		res.set(mInitial, t, mbps(man.Bytes, m.elapsed.Seconds()))
		res.set(mCPUInitial, t, m.cpu.Seconds())
		if sizes[t], err = dirBytes(repos[t].local); err != nil {
			return nil, err
		}
		res.set(mSizeInitial, t, b2mib(sizes[t]))
	}

	mut, err := corpus.Mutate(src, spec, c.mutate)
	if err != nil {
		return nil, err
	}
	want, err := corpus.HashTree(src)
	if err != nil {
		return nil, err
	}
	srcBytes, err := dirBytes(src)
	if err != nil {
		return nil, err
	}
	logf("mutated %d files (%d modified, %d added, %d deleted; %s written)", mut.ChangedFiles, mut.Modified, mut.Added,
		mut.Deleted, formatSize(mut.ModifiedBytes+mut.AddedBytes))

	for _, t := range order {
		m, err := backup(t, "incremental", repos[t])
		if err != nil {
			return nil, err
		}
		res.set(mIncremental, t, m.elapsed.Seconds())
		size, err := dirBytes(repos[t].local)
		if err != nil {
			return nil, err
		}
		res.set(mSizeIncremental, t, b2mib(size))
		res.set(mGrowth, t, b2mib(size-sizes[t]))
	}

	snaps := map[string]snapshot{}
	for _, t := range order {
		m, err := backup(t, "no-change backup", repos[t])
		if err != nil {
			return nil, err
		}
		res.set(mNoChange, t, m.elapsed.Seconds())
		snaps[t] = m.snap
	}

	for _, t := range order {
		m, err := restore(t, "restore from fs", repos[t], snaps[t], want, srcBytes, false)
		if err != nil {
			return nil, err
		}
		res.set(mRestoreFS, t, mbps(srcBytes, m.elapsed.Seconds()))
		res.set(mCPURestoreFS, t, m.cpu.Seconds())
	}

	// versitygw's posix backend serves a new directory as a bucket at once.
	if err := os.Mkdir(filepath.Join(b.s3.Dir, bucket), 0o755); err != nil {
		return nil, err
	}
	s3repos := map[string]repo{}
	for _, t := range order {
		s3repos[t] = repo{s3: &s3Location{endpoint: b.s3.Endpoint, accessKey: b.s3.AccessKey, secretKey: b.s3.SecretKey, bucket: bucket, prefix: t}, client: filepath.Join(dir, "clients", t+"-s3")}
		if err := b.tool(t).Init(ctx, s3repos[t]); err != nil {
			return nil, err
		}
		m, err := backup(t, "backup to s3", s3repos[t])
		if err != nil {
			return nil, err
		}
		res.set(mBackupS3, t, m.elapsed.Seconds())
		snaps[t] = m.snap
	}
	for _, t := range order {
		cold := s3repos[t].withClient(filepath.Join(dir, "clients", t+"-s3-restore"))
		m, err := restore(t, "restore from s3", cold, snaps[t], want, srcBytes, true)
		if err != nil {
			return nil, err
		}
		res.set(mRestoreS3, t, m.elapsed.Seconds())
	}
	return res, nil
}

// settle writes out what earlier steps left dirty in the page cache (a generated corpus, a
// restore, repository files a tool did not fsync), so that their write-back does not
// slow down whichever tool runs next. Dropping the cache as well would need root.
func settle() { syscall.Sync() }

// dirBytes is the sum of the sizes of the regular files under dir.
func dirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	return n, err
}

func mbps(bytes int64, seconds float64) float64 { return float64(bytes) / 1e6 / seconds }
func b2mib(bytes int64) float64                 { return float64(bytes) / corpus.MiB }
func kib2mib(kib int64) float64                 { return float64(kib) / 1024 }
