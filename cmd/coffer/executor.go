package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/controllers/backends"
	"github.com/cofferhq/coffer/engine"
	"github.com/cofferhq/coffer/engine/blob"
)

// This file holds what `coffer backup` and `coffer restore` share: flags, clients, the engine,
// status patches, progress, the shell commands that produce or consume a stream, and formatting.

// executorOptions are the flags every executor command has.
type executorOptions struct {
	kubeconfig       string
	namespace        string
	component        string
	restic           string
	cacheDir         string
	retryTimeout     time.Duration
	host             string
	progressInterval time.Duration
}

// defaultProgressInterval is how often a running backup or restore reports progress (KubeStash
// reports every 10 s too).
const defaultProgressInterval = 10 * time.Second

func (o *executorOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file; in-cluster config or $KUBECONFIG when empty")
	f.StringVarP(&o.namespace, "namespace", "n", "", "namespace of the object the executor works for")
	f.StringVar(&o.component, "component", os.Getenv("COMPONENT_NAME"), "component to back up or restore ($COMPONENT_NAME when not given)")
	restic := os.Getenv("COFFER_RESTIC")
	if restic == "" {
		restic = "restic"
	}
	f.StringVar(&o.restic, "restic", restic, "restic executable ($COFFER_RESTIC, else restic from $PATH)")
	f.StringVar(&o.cacheDir, "cache-dir", filepath.Join(os.TempDir(), "coffer-restic-cache"),
		"restic cache directory (restic keeps one subdirectory per repository); no cache when empty")
	f.DurationVar(&o.retryTimeout, "retry-timeout", 2*time.Minute, "how long restic may retry a failing backend before the run fails")
	f.DurationVar(&o.progressInterval, "progress-interval", defaultProgressInterval, "how often progress is written to the status")
	_ = cmd.MarkFlagRequired("namespace")
}

// requireComponent is the check of commands that work on one component (backup, restore).
func (o *executorOptions) requireComponent() error {
	if o.component == "" {
		return errors.New("--component is required (or $COMPONENT_NAME)")
	}
	return nil
}

func (o *executorOptions) validate() error {
	var errs []error
	if o.namespace == "" {
		errs = append(errs, errors.New("--namespace is required"))
	}
	if o.restic == "" {
		errs = append(errs, errors.New("--restic must name a restic executable"))
	}
	if o.retryTimeout <= 0 {
		errs = append(errs, errors.New("--retry-timeout must be positive"))
	}
	if o.progressInterval <= 0 {
		errs = append(errs, errors.New("--progress-interval must be positive"))
	}
	return errors.Join(errs...)
}

// newClient connects with --kubeconfig, else the in-cluster config or $KUBECONFIG. The client
// reads straight from the API server: an executor makes a handful of requests, not worth a cache.
func (o *executorOptions) newClient() (client.Client, error) {
	cfg, err := restConfig(o.kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	scheme, err := newScheme()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("building a client for %s: %w", cfg.Host, err)
	}
	return c, nil
}

// newEngine is the restic engine the flags describe.
func (o *executorOptions) newEngine() *engine.Restic {
	host := o.host
	if host == "" {
		host = o.component
	}
	return &engine.Restic{
		Binary:           o.restic,
		Host:             host,
		ProgressInterval: o.progressInterval,
		RetryTimeout:     o.retryTimeout,
	}
}

// signalContext is canceled on SIGTERM (a Job's pod being stopped) or SIGINT. The engine then
// interrupts restic, which releases its lock without writing a snapshot.
//
// SIGPIPE is caught too, so that a closed standard output (`coffer restore --stdout | head`)
// makes the write fail with EPIPE and the restore end Failed, rather than killing the process
// before it writes the status. Caught signals are reset when a child starts, so restic and the
// shell commands still get the default SIGPIPE behaviour.
func signalContext(parent context.Context) (context.Context, context.CancelFunc) {
	if parent == nil {
		parent = context.Background()
	}
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(parent, syscall.SIGTERM, os.Interrupt)
	return ctx, func() {
		stop()
		signal.Stop(pipe)
	}
}

// finalPatchTimeout bounds the last status patch, which runs even when the run was canceled.
const finalPatchTimeout = 15 * time.Second

// finalContext outlives ctx's cancellation for the status patch that reports the outcome.
func finalContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), finalPatchTimeout)
}

// failureMessage is what a failed run writes to the status `error`: the engine's (restic's) or
// the preflight's words, or that the executor was stopped.
func failureMessage(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		return "executor terminated: " + context.Cause(ctx).Error()
	}
	return err.Error()
}

// exactlyOne requires exactly one of the flags named in names to be set.
func exactlyOne(names string, set ...bool) error {
	n := 0
	for _, s := range set {
		if s {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("exactly one of %s is required", names)
	}
	return nil
}

// makeAbs makes a non-empty path flag absolute, so what the Job's status records does not
// depend on its working directory.
func makeAbs(flag string, p *string) error {
	if *p == "" {
		return nil
	}
	abs, err := filepath.Abs(*p)
	if err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	*p = abs
	return nil
}

// preflight opens the backend and lists its root, so that a missing bucket or a dead endpoint
// fails within seconds, with the bucket's name in the message: restic would create a missing S3
// bucket on init and retry a dead endpoint for many minutes.
func preflight(ctx context.Context, repo engine.Repo, timeout time.Duration) (initialized bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	b, err := blob.Open(ctx, repo.Location.Backend)
	if err != nil {
		return false, err
	}
	defer func() { _ = b.Close() }()
	if err := b.Check(ctx); err != nil {
		// The blob error names the backend, bucket and prefix, and keeps the provider's words.
		return false, fmt.Errorf("backend check: %w", err)
	}
	// A restic repository exists once its config object does. Knowing it here spares the
	// backup a restic start (about 0.7 s of key derivation) just to find that out.
	return b.Exists(ctx, path.Join(repo.Location.Key(), "config"))
}

// Status patches.

// patchAttempts bounds how often a final status patch is tried.
const patchAttempts = 6

// patchComponent sends a JSON merge patch of status.components[component] alone to obj's status
// subresource: executors of other components, and the operator's own status fields, are never
// overwritten. A nil value in fields removes that field. Conflicts and transient failures are
// retried up to attempts times.
func patchComponent(ctx context.Context, c client.Client, obj client.Object, component string, fields map[string]any, attempts int) error {
	status := map[string]any{"components": map[string]any{component: fields}}
	return patchStatus(ctx, c, obj, status, "status.components["+component+"]", attempts)
}

// patchStatus merge-patches the given status fields, and only those, retrying as patchComponent
// does; what names them in the error.
func patchStatus(ctx context.Context, c client.Client, obj client.Object, status map[string]any, what string, attempts int) error {
	data, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return err
	}
	backoff := wait.Backoff{Steps: max(attempts, 1), Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.2, Cap: 5 * time.Second}
	err = retry.OnError(backoff, func(err error) bool { return ctx.Err() == nil && retriable(err) }, func() error {
		return c.Status().Patch(ctx, obj.DeepCopyObject().(client.Object), client.RawPatch(types.MergePatchType, data))
	})
	if err != nil {
		return fmt.Errorf("patching %s of %T %s/%s: %w", what, obj, obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

// retriable reports an API error that may go away when the request is repeated.
func retriable(err error) bool {
	return apierrors.IsConflict(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsTooManyRequests(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err) ||
		utilnet.IsConnectionRefused(err) || utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) ||
		utilnet.IsTimeout(err)
}

// fieldsOf turns a typed status value into merge-patch fields and adds a null for each field
// in clear that the value leaves empty, so a stale value of an earlier attempt is removed.
func fieldsOf(v any, clear ...string) map[string]any {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshaling %T: %v", v, err)) // status types always marshal
	}
	m := map[string]any{}
	if err := json.Unmarshal(data, &m); err != nil {
		panic(fmt.Sprintf("unmarshaling %T: %v", v, err))
	}
	for _, k := range clear {
		if _, ok := m[k]; !ok {
			m[k] = nil
		}
	}
	return m
}

// Progress.

// progressReporter writes the latest progress report at most once per interval, from its own
// goroutine so a slow API server never holds up restic's output.
type progressReporter struct {
	interval time.Duration
	send     func(context.Context, engine.Progress) error
	warn     io.Writer

	mu     sync.Mutex
	latest *engine.Progress

	wake   chan struct{}
	quit   chan struct{}
	done   chan struct{}
	closed sync.Once
}

func startProgress(ctx context.Context, interval time.Duration, warn io.Writer, send func(context.Context, engine.Progress) error) *progressReporter {
	r := &progressReporter{interval: interval, send: send, warn: warn,
		wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go r.loop(ctx)
	return r
}

// update records a report; the engine calls it for each line restic prints.
func (r *progressReporter) update(p engine.Progress) {
	r.mu.Lock()
	r.latest = &p
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// stop ends the reporter and waits for a patch in flight, so that no progress patch lands after
// the final one.
func (r *progressReporter) stop() {
	r.closed.Do(func() { close(r.quit) })
	<-r.done
}

func (r *progressReporter) loop(ctx context.Context) {
	defer close(r.done)
	var last time.Time
	for {
		select {
		case <-r.quit:
			return
		case <-r.wake:
		}
		if wait := r.interval - time.Since(last); !last.IsZero() && wait > 0 {
			select {
			case <-r.quit:
				return
			case <-time.After(wait):
			}
		}
		r.mu.Lock()
		p := r.latest
		r.latest = nil
		r.mu.Unlock()
		if p == nil {
			continue
		}
		last = time.Now()
		// Progress is best effort: one try, bounded, and a failure only warns.
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := r.send(pctx, *p); err != nil && ctx.Err() == nil {
			fmt.Fprintf(r.warn, "coffer: writing progress: %v\n", err)
		}
		cancel()
	}
}

// resticProgress is the status form of a progress report.
func resticProgress(p engine.Progress) *storagev1alpha1.ResticProgress {
	out := &storagev1alpha1.ResticProgress{
		PercentDone:      fmt.Sprintf("%.1f%%", p.PercentDone*100),
		TotalFiles:       p.TotalFiles,
		FilesDone:        p.FilesDone,
		TotalBytes:       p.TotalBytes,
		BytesDone:        p.BytesDone,
		SecondsElapsed:   int64(p.Elapsed.Seconds()),
		SecondsRemaining: p.SecondsRemaining,
	}
	if s := p.Elapsed.Seconds(); s > 0 {
		out.Speed = backends.HumanBytes(int64(float64(p.BytesDone)/s)) + "/s"
	}
	return out
}

// Shell commands that produce a backup stream or consume a restored one.

// shellCommand runs `sh -c` in its own process group, so that stopping it stops the whole
// pipeline it started. Its stderr goes to the executor's stderr, and its last lines into the
// error that reports its failure.
type shellCommand struct {
	script string
	cmd    *exec.Cmd
	stderr tailWriter
	cancel context.CancelFunc

	waitOnce sync.Once
	waitErr  error
}

func newShellCommand(ctx context.Context, script string, stderr io.Writer) *shellCommand {
	ctx, cancel := context.WithCancel(ctx)
	s := &shellCommand{script: script, cancel: cancel}
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		pgid := cmd.Process.Pid
		err := syscall.Kill(-pgid, syscall.SIGTERM)
		time.AfterFunc(5*time.Second, func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
		return err
	}
	cmd.WaitDelay = 10 * time.Second
	cmd.Stderr = io.MultiWriter(stderr, &s.stderr)
	s.cmd = cmd
	return s
}

// wait waits for the command once and describes its failure.
func (s *shellCommand) wait() error {
	s.waitOnce.Do(func() {
		if err := s.cmd.Wait(); err != nil {
			s.waitErr = s.failure(err)
		}
		s.cancel()
	})
	return s.waitErr
}

// stop ends the command if it still runs and waits for it.
func (s *shellCommand) stop() {
	s.cancel()
	_ = s.wait()
}

func (s *shellCommand) failure(err error) error {
	// The script is not quoted: it often carries credentials, and this message ends up in the
	// object's status and in Events.
	msg := fmt.Sprintf("the --command failed: %v", err)
	if tail := s.stderr.lastLines(3); tail != "" {
		msg += ": " + tail
	}
	return errors.New(msg)
}

// commandSource is a stream backup's source: the command's stdout. At the end of that output
// it waits for the command, and if the command failed it returns that error instead of io.EOF,
// so the engine aborts restic and no snapshot of a truncated stream is saved.
type commandSource struct {
	sh  *shellCommand
	out io.Reader
	err error
}

func startCommandSource(ctx context.Context, script string, stderr io.Writer) (*commandSource, error) {
	sh := newShellCommand(ctx, script, stderr)
	out, err := sh.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := sh.cmd.Start(); err != nil {
		sh.cancel()
		return nil, fmt.Errorf("starting the --command: %w", err)
	}
	return &commandSource{sh: sh, out: out}, nil
}

func (s *commandSource) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.out.Read(p)
	if errors.Is(err, io.EOF) {
		if werr := s.sh.wait(); werr != nil {
			err = werr
		}
	}
	if err != nil {
		s.err = err
	}
	return n, err
}

// Close stops the command if the engine stopped reading early, and waits for it.
func (s *commandSource) Close() { s.sh.stop() }

// tailWriter keeps the last few KiB written to it.
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
}

const tailBytes = 4 << 10

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - tailBytes; over > 0 {
		t.buf = t.buf[over:]
	}
	return len(p), nil
}

// lastLines is the last n non-empty lines, joined with "; ".
func (t *tailWriter) lastLines(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var lines []string
	for _, l := range strings.Split(string(t.buf), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}

// Formatting.

// humanDuration is a duration rounded to milliseconds, "1m2.345s".
func humanDuration(d time.Duration) string {
	return d.Round(time.Millisecond).String()
}
