package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/cofferhq/coffer/engine"
)

// password is every benchmark repository's password.
const password = "coffer-bench"

// repo is one tool's repository and the client state that goes with it.
type repo struct {
	// local is the repository's directory, for a filesystem repository.
	local string
	// s3 is the repository's bucket and prefix on versitygw, for an S3 repository.
	s3 *s3Location
	// client is this client's private directory: caches, kopia's config file, logs. A new
	// client directory is a new machine.
	client string
}

type s3Location struct {
	endpoint             string // http://127.0.0.1:port
	accessKey, secretKey string
	bucket, prefix       string
}

// withClient is the same repository seen from another machine.
func (r repo) withClient(dir string) repo {
	r.client = dir
	return r
}

// snapshot names what a backup made.
type snapshot struct {
	id string
	// path is the backed-up directory as recorded (restic restores "<id>:<path>").
	path string
}

// measured is one timed operation.
type measured struct {
	elapsed time.Duration
	// maxRSSKiB is the peak resident set of the process that did the work.
	maxRSSKiB int64
	// cpu is the user and system time of the processes that did the work.
	cpu  time.Duration
	snap snapshot
}

// tool is one backup program under test.
type tool interface {
	// Init creates the repository (not timed).
	Init(ctx context.Context, r repo) error
	// Backup stores dir as a new snapshot.
	Backup(ctx context.Context, r repo, dir string) (measured, error)
	// Connect makes a new client ready to use an existing repository; part of a cold restore.
	Connect(ctx context.Context, r repo) (measured, error)
	// Restore writes the snapshot's tree into target, which does not exist.
	Restore(ctx context.Context, r repo, snap snapshot, target string) (measured, error)
}

// execTool runs a program to completion and measures it. The peak RSS comes from the rusage
// wait4 returns for the child, which on Linux is the larger of the child's own peak and that of
// any process it waited for (restic and kopia start none).
func execTool(ctx context.Context, bin string, args, env []string) ([]byte, measured, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(cleanEnv(), env...)
	var stdout bytes.Buffer
	stderr := &tail{max: 8 << 10}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	err := cmd.Run()
	m := measured{elapsed: time.Since(start)}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			m.maxRSSKiB = ru.Maxrss
			m.cpu = cpuTime(ru)
		}
	}
	if err != nil {
		return stdout.Bytes(), m, fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(redact(args), " "), err, stderr.buf)
	}
	return stdout.Bytes(), m, nil
}

func cpuTime(ru *syscall.Rusage) time.Duration {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cleanEnv is the inherited environment less settings that could point a tool elsewhere.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RESTIC_") && !strings.HasPrefix(kv, "KOPIA_") && !strings.HasPrefix(kv, "AWS_") &&
			!strings.HasPrefix(kv, "XDG_CACHE_HOME=") {
			env = append(env, kv)
		}
	}
	return env
}

// redact hides secrets passed as flags (kopia takes its S3 keys only that way).
func redact(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if k, _, ok := strings.Cut(a, "="); ok && (k == "--secret-access-key" || k == "--access-key") {
			a = k + "=…"
		}
		out[i] = a
	}
	return out
}

// tail keeps the last max bytes written to it.
type tail struct {
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = t.buf[over:]
	}
	return len(p), nil
}

// resticTool is plain restic with its defaults, its cache in the default place ($XDG_CACHE_HOME/
// restic) under the client directory so that runs do not share or leave behind a cache.
type resticTool struct{ bin string }

func (t resticTool) env(r repo) []string {
	env := []string{"RESTIC_PASSWORD=" + password, "XDG_CACHE_HOME=" + filepath.Join(r.client, "xdg-cache")}
	if r.s3 != nil {
		return append(env, "RESTIC_REPOSITORY=s3:"+r.s3.endpoint+"/"+r.s3.bucket+"/"+r.s3.prefix,
			"AWS_ACCESS_KEY_ID="+r.s3.accessKey, "AWS_SECRET_ACCESS_KEY="+r.s3.secretKey)
	}
	return append(env, "RESTIC_REPOSITORY="+r.local)
}

func (t resticTool) Init(ctx context.Context, r repo) error {
	_, _, err := execTool(ctx, t.bin, []string{"init"}, t.env(r))
	return err
}

func (t resticTool) Backup(ctx context.Context, r repo, dir string) (measured, error) {
	// --json only to read the snapshot ID from the summary.
	out, m, err := execTool(ctx, t.bin, []string{"backup", "--json", dir}, t.env(r))
	if err != nil {
		return m, err
	}
	s := bufio.NewScanner(bytes.NewReader(out))
	s.Buffer(make([]byte, 64<<10), 16<<20)
	for s.Scan() {
		var line struct {
			MessageType string `json:"message_type"`
			SnapshotID  string `json:"snapshot_id"`
		}
		if json.Unmarshal(s.Bytes(), &line) == nil && line.MessageType == "summary" && line.SnapshotID != "" {
			m.snap = snapshot{id: line.SnapshotID, path: dir}
			return m, nil
		}
	}
	return m, errors.New("restic backup printed no summary with a snapshot ID")
}

func (t resticTool) Connect(context.Context, repo) (measured, error) { return measured{}, nil }

func (t resticTool) Restore(ctx context.Context, r repo, snap snapshot, target string) (measured, error) {
	_, m, err := execTool(ctx, t.bin, []string{"restore", snap.id + ":" + snap.path, "--target", target}, t.env(r))
	return m, err
}

// kopiaTool is kopia with its defaults, with a config file and cache directory per client.
type kopiaTool struct{ bin string }

func (t kopiaTool) run(ctx context.Context, r repo, args ...string) ([]byte, measured, error) {
	args = append([]string{"--config-file=" + filepath.Join(r.client, "kopia.config"),
		"--log-dir=" + filepath.Join(r.client, "logs")}, args...)
	return execTool(ctx, t.bin, args, []string{"KOPIA_PASSWORD=" + password, "KOPIA_CHECK_FOR_UPDATES=false"})
}

func (t kopiaTool) storage(r repo) ([]string, error) {
	if r.s3 == nil {
		return []string{"filesystem", "--path=" + r.local}, nil
	}
	u, err := url.Parse(r.s3.endpoint)
	if err != nil {
		return nil, err
	}
	return []string{"s3", "--endpoint=" + u.Host, "--disable-tls", "--bucket=" + r.s3.bucket, "--prefix=" + r.s3.prefix + "/",
		"--access-key=" + r.s3.accessKey, "--secret-access-key=" + r.s3.secretKey}, nil
}

func (t kopiaTool) repository(ctx context.Context, r repo, verb string) (measured, error) {
	st, err := t.storage(r)
	if err != nil {
		return measured{}, err
	}
	args := append([]string{"repository", verb}, st...)
	_, m, err := t.run(ctx, r, append(args, "--cache-directory="+filepath.Join(r.client, "cache"))...)
	return m, err
}

func (t kopiaTool) Init(ctx context.Context, r repo) error {
	_, err := t.repository(ctx, r, "create")
	return err
}

func (t kopiaTool) Connect(ctx context.Context, r repo) (measured, error) {
	return t.repository(ctx, r, "connect")
}

func (t kopiaTool) Backup(ctx context.Context, r repo, dir string) (measured, error) {
	out, m, err := t.run(ctx, r, "snapshot", "create", dir, "--json")
	if err != nil {
		return m, err
	}
	var man struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out, &man); err != nil || man.ID == "" {
		return m, fmt.Errorf("kopia snapshot create printed no snapshot manifest: %v: %.200q", err, out)
	}
	m.snap = snapshot{id: man.ID, path: dir}
	return m, nil
}

func (t kopiaTool) Restore(ctx context.Context, r repo, snap snapshot, target string) (measured, error) {
	_, m, err := t.run(ctx, r, "snapshot", "restore", snap.id, target)
	return m, err
}

// cofferTool is Coffer's engine path: engine.Restic with the benchmark's tuning. Each operation
// runs in a worker process (see workerMain) so that the peak RSS of the restic it starts can be
// read without touching the engine.
type cofferTool struct {
	tuning engine.Restic
	// cache is the cache placement: "repo", "none", or a directory (tmpfs) that holds one cache
	// directory per client.
	cache   string
	s3Conns int
}

func (t cofferTool) repo(r repo) engine.Repo {
	er := engine.Repo{Password: password}
	switch t.cache {
	case "repo":
		er.CacheDir = filepath.Join(r.client, "cache")
	case "none":
	default:
		er.CacheDir = filepath.Join(t.cache, filepath.Base(filepath.Dir(r.client))+"-"+filepath.Base(r.client))
	}
	if r.s3 != nil {
		er.Location = engine.Location{Path: r.s3.prefix, Backend: engine.Backend{S3: &engine.S3Backend{
			Endpoint: r.s3.endpoint, Bucket: r.s3.bucket, Region: "us-east-1",
			AccessKeyID: r.s3.accessKey, SecretAccessKey: r.s3.secretKey, MaxConnections: t.s3Conns,
		}}}
	} else {
		er.Location = engine.Location{Path: filepath.Base(r.local),
			Backend: engine.Backend{Local: &engine.LocalBackend{Path: filepath.Dir(r.local)}}}
	}
	return er
}

func (t cofferTool) Init(ctx context.Context, r repo) error {
	_, err := runWorker(ctx, workerRequest{Op: "init", Engine: t.tuning, Repo: t.repo(r)})
	return err
}

func (t cofferTool) Backup(ctx context.Context, r repo, dir string) (measured, error) {
	return runWorker(ctx, workerRequest{Op: "backup", Engine: t.tuning, Repo: t.repo(r), Dir: dir})
}

func (t cofferTool) Connect(context.Context, repo) (measured, error) { return measured{}, nil }

func (t cofferTool) Restore(ctx context.Context, r repo, snap snapshot, target string) (measured, error) {
	return runWorker(ctx, workerRequest{Op: "restore", Engine: t.tuning, Repo: t.repo(r), Snapshot: snap.id, Dir: snap.path, Target: target})
}
