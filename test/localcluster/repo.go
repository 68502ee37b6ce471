package localcluster

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/go-logr/logr"
)

// modulePath is the module whose go.mod marks the repository root.
const modulePath = "github.com/cofferhq/coffer"

// findRepoRoot walks up from the working directory (a package directory under go test, the
// checkout under make) to Coffer's go.mod.
func findRepoRoot(dir string) (string, error) {
	if dir != "" {
		return filepath.Abs(dir)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && bytes.Contains(firstLine(data), []byte(modulePath)) {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod of module %s in %s or a parent directory; set Config.RepoRoot", modulePath, wd)
		}
		d = parent
	}
}

func firstLine(data []byte) []byte {
	for _, line := range bytes.Split(data, []byte("\n")) {
		if line = bytes.TrimSpace(line); len(line) > 0 && !bytes.HasPrefix(line, []byte("//")) {
			return line
		}
	}
	return nil
}

// runScript runs one of the repository's hack/ scripts, which print a path as their last line
// of output. Their progress on stderr (a first build takes minutes) goes to the logger.
func runScript(ctx context.Context, repoRoot, script string, args ...string) (string, error) {
	log := logr.FromContextOrDiscard(ctx)
	cmd := exec.CommandContext(ctx, filepath.Join(repoRoot, "hack", script), args...)
	cmd.Dir = repoRoot
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	var tail []string
	s := bufio.NewScanner(stderr)
	for s.Scan() {
		log.Info(s.Text(), "script", script)
		if tail = append(tail, s.Text()); len(tail) > 20 {
			tail = tail[1:]
		}
	}
	_, _ = io.Copy(io.Discard, stderr)
	if err := cmd.Wait(); err != nil {
		return "", fmt.Errorf("hack/%s %s: %w\n%s", script, strings.Join(args, " "), err, strings.Join(tail, "\n"))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	return strings.TrimSpace(lines[len(lines)-1]), nil
}

// goBuild builds a static linux binary of a package of this repository.
func goBuild(ctx context.Context, repoRoot, pkg, out string, ldflags string) error {
	args := []string{"build", "-trimpath", "-o", out}
	if ldflags != "" {
		args = append(args, "-ldflags", ldflags)
	}
	cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return nil
}
