package servers

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// modulePath is the module whose go.mod marks the repository root.
const modulePath = "github.com/cofferhq/coffer"

const (
	// readyTimeout bounds how long a server may take to answer its first request.
	readyTimeout = 30 * time.Second
	// stopGrace is how long a server has to exit after SIGTERM before it gets SIGKILL.
	stopGrace = 5 * time.Second
)

// repoRoot walks up from the working directory (a package directory under go test) to the
// go.mod of modulePath. test/envtest has the same function, but importing it would link
// client-go and controller-runtime into every test that needs only a storage server.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository root: %w", err)
	}
	for dir := wd; ; {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && goModModule(data) == modulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module %s in %s or any parent directory", modulePath, wd)
		}
		dir = parent
	}
}

func goModModule(gomod []byte) string {
	s := bufio.NewScanner(bytes.NewReader(gomod))
	for s.Scan() {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(s.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

var tools struct {
	sync.Mutex
	paths map[string]string
}

// Tool returns the path of a pinned program (restic, kopia, versitygw, ...), building it with
// hack/tools.sh on first use, and fails the test saying how to fix it when it cannot.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := ToolPath(name)
	if err != nil {
		t.Fatalf("servers: %v", err)
	}
	return p
}

// ToolPath is Tool for programs that are not tests (the benchmark).
func ToolPath(name string) (string, error) {
	tools.Lock()
	defer tools.Unlock()
	if p, ok := tools.paths[name]; ok {
		return p, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(filepath.Join(root, "hack", "tools.sh"), name)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("hack/tools.sh %s failed: %v\n%s\nRun `hack/tools.sh %s` in %s to see why and fix it",
			name, err, stderr.String(), name, root)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	p := strings.TrimSpace(lines[len(lines)-1])
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("hack/tools.sh %s printed %q, which is not a file: %v", name, p, err)
	}
	if tools.paths == nil {
		tools.paths = map[string]string{}
	}
	tools.paths[name] = p
	return p, nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	port, err := freePortErr()
	if err != nil {
		t.Fatalf("servers: finding a free port: %v", err)
	}
	return port
}

func freePortErr() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// randomHex returns n random bytes in hex (crypto/rand.Read never fails).
func randomHex(_ testing.TB, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// process is a server running in its own process group, its output going to a file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed once the process has been waited for
	waitErr error

	stopOnce sync.Once
	// onStop runs once, after the process has exited (closing a proxy, idle connections).
	onStop func()

	mu     sync.Mutex
	logged bool
}

// startProcess starts bin and registers a cleanup that stops it and, if the test failed,
// logs its output.
func startProcess(t testing.TB, name, bin string, args, env []string) *process {
	t.Helper()
	return startProcessAs(t, name, bin, nil, args, env)
}

// startProcessAs is startProcess running bin as cred's user (nil: the current user).
func startProcessAs(t testing.TB, name, bin string, cred *syscall.Credential, args, env []string) *process {
	t.Helper()
	p, err := launchAs(t.TempDir(), name, bin, cred, args, env)
	if err != nil {
		t.Fatalf("servers: %v", err)
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			p.logOutput(t)
		}
	})
	return p
}

// launch starts bin in its own process group, its output going to <logDir>/<name>.log.
func launch(logDir, name, bin string, args, env []string) (*process, error) {
	return launchAs(logDir, name, bin, nil, args, env)
}

// launchAs is launch running bin as cred's user (nil: the current user).
func launchAs(logDir, name, bin string, cred *syscall.Credential, args, env []string) (*process, error) {
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group, so that stopping it also stops anything it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM to the process group, SIGKILL after stopGrace, and waits for the process.
// It is idempotent.
func (p *process) stop() {
	p.stopOnce.Do(func() {
		pgid := p.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopGrace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
		}
		// Whatever the server started and left behind.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		if p.onStop != nil {
			p.onStop()
		}
	})
}

// output is what the process wrote so far.
func (p *process) output() string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(reading %s: %v)", p.logPath, err)
	}
	return string(data)
}

// logOutput logs the process's output once.
func (p *process) logOutput(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.logged {
		return
	}
	p.logged = true
	t.Logf("%s output:\n%s", p.name, p.output())
}

// waitReady waits until addr accepts TCP connections and probe succeeds, and fails the test
// with the server's output if that takes longer than readyTimeout or the server exits.
func (p *process) waitReady(t testing.TB, addr string, probe func() error) {
	t.Helper()
	if err := p.ready(addr, probe); err != nil {
		p.logOutput(t)
		t.Fatalf("servers: %v", err)
	}
}

// ready is waitReady without a test; a server that never answers is stopped.
func (p *process) ready(addr string, probe func() error) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it answered on %s: %v (output in %s)", p.name, addr, p.waitErr, p.logPath)
		default:
		}
		var err error
		var c net.Conn
		if c, err = net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			if err = probe(); err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			return fmt.Errorf("%s did not answer on %s within %v: %v (output in %s)", p.name, addr, readyTimeout, err, p.logPath)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// localClient talks to servers on 127.0.0.1, never through a proxy from the environment.
var localClient = &http.Client{
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
	Timeout:   10 * time.Second,
}

// answers is a probe that succeeds when a GET of url gets any HTTP response.
func answers(c *http.Client, url string) func() error {
	return func() error {
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
}

// errorBody makes an error of an unexpected response.
func errorBody(resp *http.Response, body []byte) error {
	return errors.New(resp.Status + ": " + strings.TrimSpace(string(body)))
}
