package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cofferhq/coffer/bench/corpus"
	"github.com/cofferhq/coffer/engine"
	"github.com/cofferhq/coffer/test/servers"
)

// CofferTuning is how Coffer's engine runs restic in this benchmark; Binary is filled in at run
// time. These are the settings the benchmark picked on a 2-core machine, meant to become
// engine.Restic's defaults (the commit that introduced them has the numbers):
//
//   - Compression auto: off halves the CPU time of a first backup (7.5 s instead of 13.3 s per
//     GiB) but stores 60% more (1025 MiB instead of 644 MiB for this corpus) and makes restores
//     cost more CPU; storage and transfer are paid for every day, the first backup once.
//   - PackSizeMiB 16: 32 and 64 MiB saved no measurable CPU or time and raised peak RSS (restore
//     from S3 up to 330-390 MiB, backup to S3 up to 460 MiB).
//   - ReadConcurrency 2: 4 saved nothing on 2 cores and cost 20 MiB more RSS.
var CofferTuning = engine.Restic{
	Compression:     "auto",
	PackSizeMiB:     16,
	ReadConcurrency: 2,
}

// CofferCache is where Coffer keeps each repository's restic cache: "repo" (a directory of its
// own next to the repository's other client state, on the work disk), "tmpfs" (/dev/shm) or
// "none" (restic's --no-cache). Without a cache nothing got faster here, and a remote
// repository would have to send its tree packs again for every backup; tmpfs would count
// against a pod's memory for no gain while the disk's page cache holds the cache anyway.
var CofferCache = "repo"

// CofferS3Connections is restic's -o s3.connections for Coffer's S3 repositories
// (engine.S3Backend.MaxConnections); 0 keeps restic's 5. 10 restored no faster from versitygw and
// raised peak RSS to 370 MiB.
var CofferS3Connections = 0

// workerEnv marks a worker process: this binary re-executed to run one Coffer operation.
const workerEnv = "COFFER_BENCH_WORKER"

func main() {
	if os.Getenv(workerEnv) != "" {
		os.Exit(workerMain(os.Stdin, os.Stdout))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/engine:", err)
		os.Exit(1)
	}
}

// config is a parsed command line.
type config struct {
	size    int64
	seed    int64
	rounds  int
	mutate  float64
	work    string
	keep    bool
	out     string
	tools   []string
	bins    map[string]string // restic, kopia, versitygw
	tuning  engine.Restic
	cache   string
	s3Conns int
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("bench/engine", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		size        = fs.String("size", "1GiB", "corpus size (KiB, MiB, GiB suffixes)")
		quick       = fs.Bool("quick", false, "smoke test: -size 64MiB -rounds 1 unless given")
		seed        = fs.Int64("seed", 1, "corpus seed")
		rounds      = fs.Int("rounds", 3, "rounds; the table shows medians")
		mutate      = fs.Float64("mutate", 0.05, "fraction of files the incremental backup sees changed")
		work        = fs.String("work", "", "work directory (corpus, repositories, restores); a new one under /tmp when empty")
		keep        = fs.Bool("keep", false, "keep the work directory")
		out         = fs.String("out", "", "also write the Markdown report to this file")
		tools       = fs.String("tools", "coffer,restic,kopia", "tools to run, comma-separated")
		resticBin   = fs.String("restic", "", "restic binary (hack/tools.sh restic when empty)")
		kopiaBin    = fs.String("kopia", "", "kopia binary (hack/tools.sh kopia when empty)")
		versityBin  = fs.String("versitygw", "", "versitygw binary (hack/tools.sh versitygw when empty)")
		compression = fs.String("coffer-compression", CofferTuning.Compression, "Coffer: restic --compression (auto, off, max)")
		packSize    = fs.Int("coffer-pack-size", CofferTuning.PackSizeMiB, "Coffer: restic --pack-size in MiB (0: restic's default)")
		readConc    = fs.Int("coffer-read-concurrency", CofferTuning.ReadConcurrency, "Coffer: restic backup --read-concurrency (0: restic's default)")
		cache       = fs.String("coffer-cache", CofferCache, "Coffer: cache placement, repo, tmpfs or none")
		s3Conns     = fs.Int("coffer-s3-connections", CofferS3Connections, "Coffer: restic -o s3.connections (0: restic's default)")
		env         = fs.String("coffer-env", strings.Join(CofferTuning.Env, ","), "Coffer: restic's extra environment, comma-separated KEY=VALUE (GOGC=100)")
	)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if *quick {
		if !given["size"] {
			*size = "64MiB"
		}
		if !given["rounds"] {
			*rounds = 1
		}
	}
	c := &config{seed: *seed, rounds: *rounds, mutate: *mutate, work: *work, keep: *keep, out: *out,
		cache: *cache, s3Conns: *s3Conns, tuning: CofferTuning,
		bins: map[string]string{"restic": *resticBin, "kopia": *kopiaBin, "versitygw": *versityBin}}
	var errs []error
	var err error
	if c.size, err = corpus.ParseSize(*size); err != nil || c.size < corpus.MiB {
		errs = append(errs, fmt.Errorf("-size %q: want at least 1MiB", *size))
	}
	if c.rounds < 1 {
		errs = append(errs, errors.New("-rounds must be at least 1"))
	}
	if c.mutate <= 0 || c.mutate > 1 {
		errs = append(errs, errors.New("-mutate must be in (0, 1]"))
	}
	for _, t := range strings.Split(*tools, ",") {
		t = strings.TrimSpace(t)
		if !slices.Contains(allTools, t) {
			errs = append(errs, fmt.Errorf("-tools: unknown tool %q (want %s)", t, strings.Join(allTools, ", ")))
		} else if !slices.Contains(c.tools, t) {
			c.tools = append(c.tools, t)
		}
	}
	c.tuning.Compression, c.tuning.PackSizeMiB, c.tuning.ReadConcurrency = *compression, *packSize, *readConc
	c.tuning.Env = nil
	for _, kv := range strings.Split(*env, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		if !strings.Contains(kv, "=") {
			errs = append(errs, fmt.Errorf("-coffer-env: %q is not KEY=VALUE", kv))
		}
		c.tuning.Env = append(c.tuning.Env, kv)
	}
	if !slices.Contains([]string{"repo", "tmpfs", "none"}, c.cache) {
		errs = append(errs, fmt.Errorf("-coffer-cache %q: want repo, tmpfs or none", c.cache))
	}
	return c, errors.Join(errs...)
}

var allTools = []string{"coffer", "restic", "kopia"}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	return execute(ctx, c, stdout, stderr, nil)
}

// execute runs the benchmark c describes. wrap, when set, wraps every tool (tests use it to
// break a tool on purpose).
func execute(ctx context.Context, c *config, stdout, stderr io.Writer, wrap func(tool) tool) (err error) {
	for name, p := range c.bins {
		if p == "" {
			if c.bins[name], err = servers.ToolPath(name); err != nil {
				return err
			}
		}
	}
	c.tuning.Binary = c.bins["restic"]

	if c.work == "" {
		if c.work, err = os.MkdirTemp("", "coffer-bench-"); err != nil {
			return err
		}
	} else if err := os.MkdirAll(c.work, 0o755); err != nil {
		return err
	}
	if c.work, err = filepath.Abs(c.work); err != nil {
		return err
	}
	if !c.keep {
		defer func() {
			if rerr := os.RemoveAll(c.work); rerr != nil && err == nil {
				err = rerr
			}
		}()
	}
	// Corpus, three filesystem repositories, three S3 repositories, one restore at a time and
	// caches: about 7 times the corpus; ask for 8.
	if err := checkFree(c.work, 8*c.size+512*corpus.MiB); err != nil {
		return err
	}
	if c.cache == "tmpfs" {
		shm, err := os.MkdirTemp("/dev/shm", "coffer-bench-cache-")
		if err != nil {
			return fmt.Errorf("-coffer-cache tmpfs: %w", err)
		}
		defer os.RemoveAll(shm)
		c.cache = shm
	}

	b := &bench{cfg: c, log: stderr, wrap: wrap}
	b.s3, err = servers.RunS3(c.bins["versitygw"], filepath.Join(c.work, "s3"))
	if err != nil {
		return err
	}
	defer b.s3.Stop()

	header, err := describe(ctx, c)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "work directory %s\n", c.work)
	var results []roundResult
	for r := range c.rounds {
		res, err := b.round(ctx, r)
		if err != nil {
			return fmt.Errorf("round %d: %w", r+1, err)
		}
		results = append(results, res)
	}
	report := header + "\n" + table(c, results)
	if _, err := io.WriteString(stdout, report); err != nil {
		return err
	}
	if c.out != "" {
		return os.WriteFile(c.out, []byte(report), 0o644)
	}
	return nil
}

// describe is the report's header: what ran, on what, with which settings.
func describe(ctx context.Context, c *config) (string, error) {
	var sb strings.Builder
	version := func(bin string, args ...string) string {
		// hack/tools.sh keeps each program in a directory named after its module version.
		if dir := filepath.Base(filepath.Dir(bin)); strings.HasPrefix(dir, filepath.Base(bin)+"-v") {
			return strings.Replace(dir, "-v", " v", 1)
		}
		out, err := exec.CommandContext(ctx, bin, args...).Output()
		if err != nil {
			return "unknown"
		}
		return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	cpu := "unknown CPU"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	fmt.Fprintf(&sb, "# Coffer engine benchmark\n\n")
	fmt.Fprintf(&sb, "- %s, corpus %s (seed %d, corpus format v%d), %d round(s), %.0f%% of files mutated for the incremental\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), formatSize(c.size), c.seed, corpus.Version, c.rounds, 100*c.mutate)
	fmt.Fprintf(&sb, "- %d cores (%s), %s RAM\n", runtime.NumCPU(), cpu, memTotal())
	fmt.Fprintf(&sb, "- %s; %s; %s\n", version(c.bins["restic"], "version"),
		version(c.bins["kopia"], "--version"), version(c.bins["versitygw"], "--version"))
	conns := "default"
	if c.s3Conns > 0 {
		conns = strconv.Itoa(c.s3Conns)
	}
	cache := c.cache
	if strings.HasPrefix(cache, "/dev/shm") {
		cache = "tmpfs"
	}
	env := ""
	if len(c.tuning.Env) > 0 {
		env = fmt.Sprintf(", Env: %q", c.tuning.Env)
	}
	fmt.Fprintf(&sb, "- coffer: engine.Restic{Compression: %q, PackSizeMiB: %d, ReadConcurrency: %d%s}, cache %s, s3.connections %s\n",
		c.tuning.Compression, c.tuning.PackSizeMiB, c.tuning.ReadConcurrency, env, cache, conns)
	fmt.Fprintf(&sb, "- restic and kopia: defaults (restic's cache in its default place under a private XDG_CACHE_HOME; kopia with its own config file and cache directory)\n")
	fmt.Fprintf(&sb, "- medians over the rounds; MB = 10^6 bytes, MiB = 2^20 bytes; throughput is corpus bytes over wall time\n")
	fmt.Fprintf(&sb, "- CPU time is user + system time of the tool's processes; it is steadier than wall time when other work shares the machine (load average at the start: %s)\n", loadAvg())
	fmt.Fprintf(&sb, "- the page cache is not dropped (that needs root and a host sysctl): reads of the corpus and repositories are likely served from memory\n")
	fmt.Fprintf(&sb, "- restore from S3 starts cold, as on a new machine: an empty cache (kopia: `repository connect`, included in the time)\n")
	fmt.Fprintf(&sb, "- every restore was verified bit-exact against corpus.HashTree of its source\n")
	return sb.String(), nil
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

func memTotal() string {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kib, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return fmt.Sprintf("%.0f GiB", float64(kib)/(1<<20))
			}
		}
	}
	return "unknown"
}

func checkFree(dir string, need int64) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return err
	}
	if free := int64(st.Bavail) * st.Bsize; free < need {
		return fmt.Errorf("%s has %s free; the benchmark needs about %s", dir, formatSize(free), formatSize(need))
	}
	return nil
}

func formatSize(n int64) string {
	switch {
	case n >= corpus.GiB && n%corpus.GiB == 0:
		return fmt.Sprintf("%d GiB", n/corpus.GiB)
	case n >= corpus.GiB:
		return fmt.Sprintf("%.1f GiB", float64(n)/corpus.GiB)
	default:
		return fmt.Sprintf("%d MiB", n/corpus.MiB)
	}
}
