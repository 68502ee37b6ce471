package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Restic is the Engine that executes a pinned restic binary (hack/tools.sh restic builds it).
// The zero value is not usable; set Binary. Tuning fields left zero keep restic's defaults.
type Restic struct {
	// Binary is the restic executable.
	Binary string
	// Env is added to every restic process's environment (after the inherited one), for proxies
	// or test endpoints.
	Env []string
	// Compression is auto, max or off; auto when empty.
	Compression string
	// PackSizeMiB is the target pack file size; restic's 16 MiB when 0.
	PackSizeMiB int
	// ReadConcurrency is how many files a backup reads at once; restic's 2 when 0.
	ReadConcurrency int
	// Host is recorded in snapshots whose BackupOptions name none.
	Host string
	// ProgressInterval is how often progress is reported; 10 s when 0.
	ProgressInterval time.Duration
	// TempDir holds credential files restic reads (CA bundles, service account keys); the
	// system's when empty. Each file is removed when its command ends.
	TempDir string
	// StopGrace is how long restic may take to release its locks after an interrupt before it
	// is killed; 10 s when 0.
	StopGrace time.Duration

	// RetryTimeout bounds how long restic keeps retrying a failing backend (it would retry for
	// 15 minutes) before the command is stopped and the backend's error returned; 2 minutes when
	// 0. An endpoint that is down then fails a backup in bounded time with the reason.
	RetryTimeout time.Duration

	onStart func(*os.Process) // tests: observe each started restic
}

var _ Engine = (*Restic)(nil)

// invocation is one restic command.
type invocation struct {
	op   string
	args []string
	// stdin feeds a stream backup; a read error aborts restic before it sees end of input, so
	// a failed source never becomes a snapshot.
	stdin io.Reader
	// stdout receives raw output (dump); otherwise stdout is JSON.
	stdout io.Writer
	// onLine receives each JSON line of stdout as it arrives (backup, restore progress).
	onLine func(line []byte)
}

// result is what a finished restic command printed.
type result struct {
	stdout []byte
	// errors are restic's per-item "error" messages (files it could not read and the like).
	errors []string
}

const maxStderr = 64 << 10

func (r *Restic) run(ctx context.Context, repo Repo, inv invocation) (*result, error) {
	if r.Binary == "" {
		return nil, &Error{Op: inv.op, Kind: ErrInvalidArgument, ExitCode: -1, Message: "no restic binary configured"}
	}
	env, flags, cleanup, err := r.environment(repo)
	defer cleanup()
	if err != nil {
		return nil, &Error{Op: inv.op, Kind: ErrInvalidArgument, ExitCode: -1, Message: err.Error()}
	}
	args := append(append(flags, inv.op), inv.args...)
	if inv.stdout == nil {
		args = append([]string{"--json"}, args...)
	}
	cmd := exec.CommandContext(ctx, r.Binary, args...)
	cmd.Env = env
	// An interrupt lets restic remove its lock and stop without writing a snapshot; only a
	// restic that ignores it is killed.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = r.StopGrace
	if cmd.WaitDelay == 0 {
		cmd.WaitDelay = 10 * time.Second
	}
	stderr := &stderrWatcher{tail: tailBuffer{max: maxStderr}, retryTimeout: r.RetryTimeout}
	if stderr.retryTimeout <= 0 {
		stderr.retryTimeout = 2 * time.Minute
	}
	stderr.giveUp = func() {
		// restic's cleanup after an interrupt talks to the same dead backend; don't wait long.
		_ = cmd.Process.Signal(syscall.SIGINT)
		time.AfterFunc(2*time.Second, func() { _ = cmd.Process.Kill() })
	}
	cmd.Stderr = stderr

	var stdin io.WriteCloser
	if inv.stdin != nil {
		if stdin, err = cmd.StdinPipe(); err != nil {
			return nil, &Error{Op: inv.op, Kind: ErrFailed, ExitCode: -1, Err: err}
		}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, &Error{Op: inv.op, Kind: ErrFailed, ExitCode: -1, Err: err}
	}
	if err := cmd.Start(); err != nil {
		return nil, &Error{Op: inv.op, Kind: ErrFailed, ExitCode: -1, Message: fmt.Sprintf("cannot start %s: %v", r.Binary, err), Err: err}
	}

	if r.onStart != nil {
		r.onStart(cmd.Process)
	}
	sourceErr := make(chan error, 1)
	if stdin != nil {
		go func() { sourceErr <- feed(stdin, inv.stdin, cmd.Process, min(cmd.WaitDelay, 2*time.Second)) }()
	} else {
		sourceErr <- nil
	}

	res := &result{}
	var readErr error
	if inv.stdout != nil {
		_, readErr = io.Copy(inv.stdout, stdout)
		if readErr != nil {
			// The writer refused data: stop restic, and keep draining its output so it is not
			// left blocked on a full pipe, deaf to the interrupt.
			_ = cmd.Process.Signal(syscall.SIGINT)
			time.AfterFunc(cmd.WaitDelay, func() { _ = cmd.Process.Kill() })
			_, _ = io.Copy(io.Discard, stdout)
		}
	} else {
		res.stdout, res.errors, readErr = readJSONLines(stdout, inv.onLine)
	}
	waitErr := cmd.Wait()
	var srcErr error
	select {
	case srcErr = <-sourceErr:
	case <-time.After(time.Second):
		// restic exited while the source is still blocked in a read: restic's own error is the
		// story. The feeding goroutine ends when the caller closes its source.
	}

	if srcErr != nil {
		return res, &Error{Op: inv.op, Kind: ErrSourceFailed, ExitCode: exitCode(waitErr),
			Message: "reading the source: " + srcErr.Error(), Err: srcErr}
	}
	if readErr != nil && inv.stdout != nil {
		return res, &Error{Op: inv.op, Kind: ErrTargetFailed, ExitCode: exitCode(waitErr),
			Message: "writing the restored data: " + readErr.Error(), Err: readErr}
	}
	if msg := stderr.gaveUpOn(); msg != "" {
		kind := classify(exitFatal, msg)
		if kind == ErrFailed {
			kind = ErrUnreachable
		}
		return res, &Error{Op: inv.op, Kind: kind, ExitCode: exitCode(waitErr),
			Message: fmt.Sprintf("gave up after retrying for %s: %s", stderr.retryTimeout, msg)}
	}
	if ctx.Err() != nil {
		return res, &Error{Op: inv.op, Kind: ErrCanceled, ExitCode: exitCode(waitErr), Message: ctx.Err().Error(), Err: ctx.Err()}
	}
	if waitErr != nil {
		code := exitCode(waitErr)
		msg := resticMessage(stderr.String(), res.errors)
		if msg == "" {
			msg = waitErr.Error()
		}
		return res, &Error{Op: inv.op, Kind: classify(code, msg), ExitCode: code, Message: msg}
	}
	if readErr != nil {
		return res, &Error{Op: inv.op, Kind: ErrFailed, Message: "reading restic's output: " + readErr.Error(), Err: readErr}
	}
	return res, nil
}

// feed copies the source into restic's stdin and returns the source's read error, if any.
// On a read error it interrupts restic and leaves the pipe open: restic must never see
// end-of-input for a source that failed, or it would save the truncated stream as a snapshot.
// An interrupted restic removes its lock and exits without saving if it can; one blocked on its
// input does not, and is killed after grace. Wait closes the pipe afterwards. A failed write
// means restic exited by itself; its exit status, not the pipe, explains why.
func feed(stdin io.WriteCloser, src io.Reader, proc *os.Process, grace time.Duration) error {
	r := &readErrRecorder{r: src}
	_, _ = io.Copy(stdin, r)
	if r.err != nil {
		_ = proc.Signal(syscall.SIGINT)
		time.AfterFunc(grace, func() { _ = proc.Kill() })
		return r.err
	}
	_ = stdin.Close()
	return nil
}

// readErrRecorder remembers a read error other than end of input.
type readErrRecorder struct {
	r   io.Reader
	err error
}

func (e *readErrRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			if ws.Signal() == syscall.SIGINT {
				return exitInterrupted
			}
			return -1
		}
		return ee.ExitCode()
	}
	if err == nil {
		return 0
	}
	return -1
}

// readJSONLines reads restic's --json stdout: it passes each line on, collects per-item errors,
// and returns the whole output for commands that print one JSON document.
func readJSONLines(r io.Reader, onLine func([]byte)) ([]byte, []string, error) {
	var all bytes.Buffer
	var itemErrors []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if onLine == nil {
			all.Write(line)
			all.WriteByte('\n')
			continue
		}
		var head struct {
			MessageType string `json:"message_type"`
			Error       struct {
				Message string `json:"message"`
			} `json:"error"`
			Item string `json:"item"`
		}
		if json.Unmarshal(line, &head) == nil && head.MessageType == "error" {
			msg := head.Error.Message
			if head.Item != "" && !strings.Contains(msg, head.Item) {
				msg = head.Item + ": " + msg
			}
			itemErrors = append(itemErrors, msg)
		}
		onLine(line)
	}
	return all.Bytes(), itemErrors, sc.Err()
}

// resticMessage picks restic's explanation of a failure: its exit_error message when it wrote
// one, else the last lines of stderr that are not retry chatter. An exit message that only
// counts errors ("There were 3 errors") is followed by the first errors themselves: the items
// restic reported, else the other lines of stderr.
func resticMessage(stderr string, itemErrors []string) string {
	var lines []string
	exitMsg := ""
	for _, line := range strings.Split(stderr, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		var exitErr struct {
			MessageType string `json:"message_type"`
			Message     string `json:"message"`
		}
		if strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &exitErr) == nil && exitErr.MessageType == "exit_error" {
			exitMsg = exitErr.Message
			continue
		}
		lines = append(lines, line)
	}
	details := firstN(itemErrors, 3)
	if len(details) == 0 {
		details = lastN(lines, 3)
	}
	switch {
	case exitMsg != "" && len(details) > 0 && !strings.Contains(exitMsg, details[0]):
		return cleanMessage(exitMsg + ": " + strings.Join(details, "; "))
	case exitMsg != "":
		return cleanMessage(exitMsg)
	}
	return cleanMessage(strings.Join(details, "; "))
}

func lastN(s []string, n int) []string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// environment is restic's environment and global flags for one repository. Credentials go into
// the environment or 0600 files that cleanup removes; nothing secret is put on the command line.
func (r *Restic) environment(repo Repo) (env, flags []string, cleanup func(), err error) {
	var files []string
	cleanup = func() {
		for _, f := range files {
			_ = os.Remove(f)
		}
	}
	writeFile := func(pattern string, data []byte) (string, error) {
		f, err := os.CreateTemp(r.TempDir, pattern)
		if err != nil {
			return "", err
		}
		files = append(files, f.Name())
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return f.Name(), err
	}

	b := repo.Location.Backend
	if err := b.Validate(); err != nil {
		return nil, nil, cleanup, err
	}
	if repo.Password == "" {
		return nil, nil, cleanup, errors.New("the repository password (RESTIC_PASSWORD) is empty")
	}
	// The inherited environment passes ambient cloud credentials (workload identity, proxies)
	// through; inherited RESTIC_* settings could point restic elsewhere, so they are dropped.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RESTIC_") {
			env = append(env, kv)
		}
	}
	interval := r.ProgressInterval
	if interval <= 0 {
		interval = 10 * time.Second
	}
	env = append(env,
		"RESTIC_PASSWORD="+repo.Password,
		"RESTIC_PROGRESS_FPS="+strconv.FormatFloat(1/interval.Seconds(), 'f', -1, 64),
	)
	if repo.CacheDir != "" {
		flags = append(flags, "--cache-dir", repo.CacheDir)
	} else {
		flags = append(flags, "--no-cache")
	}
	if r.Compression != "" {
		flags = append(flags, "--compression", r.Compression)
	}
	if r.PackSizeMiB > 0 {
		flags = append(flags, "--pack-size", strconv.Itoa(r.PackSizeMiB))
	}
	key := repo.Location.Key()
	caFlag := func(pem []byte) error {
		if len(pem) == 0 {
			return nil
		}
		name, err := writeFile("coffer-ca-*.pem", pem)
		if err == nil {
			flags = append(flags, "--cacert", name)
		}
		return err
	}
	connections := func(backend string, n int) {
		if n > 0 {
			flags = append(flags, "-o", fmt.Sprintf("%s.connections=%d", backend, n))
		}
	}
	switch {
	case b.Local != nil:
		env = append(env, "RESTIC_REPOSITORY="+filepath.Join(b.Local.Path, filepath.FromSlash(key)))
	case b.S3 != nil:
		s := b.S3
		u, _ := s.endpointURL()
		env = append(env, "RESTIC_REPOSITORY=s3:"+u.Scheme+"://"+u.Host+"/"+joinKey(s.Bucket, s.Prefix, key))
		if s.AccessKeyID != "" {
			env = append(env, "AWS_ACCESS_KEY_ID="+s.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+s.SecretAccessKey)
		}
		if s.Region != "" {
			flags = append(flags, "-o", "s3.region="+s.Region)
		}
		if s.InsecureTLS {
			flags = append(flags, "--insecure-tls")
		}
		if err := caFlag(s.CACert); err != nil {
			return nil, nil, cleanup, err
		}
		connections("s3", s.MaxConnections)
	case b.GCS != nil:
		g := b.GCS
		env = append(env, "RESTIC_REPOSITORY=gs:"+g.Bucket+":/"+joinKey(g.Prefix, key))
		if g.ProjectID != "" {
			env = append(env, "GOOGLE_PROJECT_ID="+g.ProjectID)
		}
		if len(g.ServiceAccountJSON) > 0 {
			name, err := writeFile("coffer-gcs-*.json", g.ServiceAccountJSON)
			if err != nil {
				return nil, nil, cleanup, err
			}
			env = append(env, "GOOGLE_APPLICATION_CREDENTIALS="+name)
		}
		if g.AccessToken != "" {
			env = append(env, "GOOGLE_ACCESS_TOKEN="+g.AccessToken)
		}
		if g.EmulatorHost != "" {
			env = append(env, "STORAGE_EMULATOR_HOST="+g.EmulatorHost)
		}
		connections("gs", g.MaxConnections)
	case b.Azure != nil:
		a := b.Azure
		env = append(env, "RESTIC_REPOSITORY=azure:"+a.Container+":/"+joinKey(a.Prefix, key),
			"AZURE_ACCOUNT_NAME="+a.Account)
		if a.AccountKey != "" {
			env = append(env, "AZURE_ACCOUNT_KEY="+a.AccountKey)
		}
		if a.EndpointSuffix != "" {
			env = append(env, "AZURE_ENDPOINT_SUFFIX="+a.EndpointSuffix)
		}
		if a.AccessTier != "" {
			flags = append(flags, "-o", "azure.access-tier="+a.AccessTier)
		}
		if err := caFlag(a.CACert); err != nil {
			return nil, nil, cleanup, err
		}
		connections("azure", a.MaxConnections)
	}
	env = append(env, r.Env...)
	return env, flags, cleanup, nil
}

// stderrWatcher keeps restic's stderr for error messages and stops restic when it has been
// retrying a failing backend for longer than retryTimeout.
type stderrWatcher struct {
	tail         tailBuffer
	retryTimeout time.Duration
	giveUp       func()

	mu           sync.Mutex
	partial      []byte
	retrySince   time.Time
	episode      int
	lastRetryErr string
	gaveUp       string
}

func (w *stderrWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tail.Write(p)
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.line(string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

// line follows restic's retry reports: "Load(<config/>) returned error, retrying after 1.2s:
// <error>" while failing, and "... operation successful after N retries" once it recovers.
func (w *stderrWatcher) line(line string) {
	switch {
	case strings.Contains(line, "retrying after"):
		if _, msg, ok := strings.Cut(line, ": "); ok {
			w.lastRetryErr = msg
		}
		if w.retrySince.IsZero() {
			w.retrySince = time.Now()
			w.episode++
			episode := w.episode
			time.AfterFunc(w.retryTimeout, func() { w.expire(episode) })
		}
	case strings.Contains(line, "successful after"):
		w.retrySince = time.Time{}
	}
}

// expire stops restic if the retry episode that armed it is still going on.
func (w *stderrWatcher) expire(episode int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.episode == episode && !w.retrySince.IsZero() && w.gaveUp == "" {
		w.gaveUp = w.lastRetryErr
		w.giveUp()
	}
}

func (w *stderrWatcher) gaveUpOn() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.gaveUp
}

func (w *stderrWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.tail.String()
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = t.buf[over:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.buf) }
