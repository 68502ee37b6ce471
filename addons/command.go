package addons

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Client is a database client program, from bin (empty: $PATH), with the connection in env.
// Credentials go in the environment, never on the command line, where other users of the
// machine could read them. Inherited variables with one of the strip prefixes are dropped: the
// Job's own PGHOST or MYSQL_PWD would otherwise override the connection's.
func Client(ctx context.Context, bin, program string, args, env []string, strip ...string) *exec.Cmd {
	if bin != "" {
		program = filepath.Join(bin, program)
	}
	cmd := exec.CommandContext(ctx, program, args...)
	for _, kv := range os.Environ() {
		if !hasAnyPrefix(kv, strip) {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	// A client killed by the context may leave a child holding its output open.
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// Run runs a database client program; a failure carries the end of its stderr, which is where
// the client says why.
func Run(cmd *exec.Cmd) error {
	var stderr StderrTail
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return Failure(cmd, err, &stderr)
	}
	return nil
}

// Failure is a client program's error with the end of its stderr.
func Failure(cmd *exec.Cmd, err error, stderr *StderrTail) error {
	msg := strings.TrimSpace(stderr.String())
	if msg == "" {
		return fmt.Errorf("%s: %w", filepath.Base(cmd.Path), err)
	}
	return fmt.Errorf("%s: %w: %s", filepath.Base(cmd.Path), err, msg)
}

// RunWithInput runs a client program that reads a dump from r on its standard input. When
// reading r fails (the repository side of a restore failed), the client is killed before its
// input ends: at the end of its input a client runs the statement it has buffered and ends a
// COPY with the rows it has, so it would commit the start of a cut dump as if it were whole.
// A client that exits successfully before reading all of r fails too.
func RunWithInput(cmd *exec.Cmd, r io.Reader) error {
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	var stderr StderrTail
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	src := &readErr{r: r}
	_, copyErr := io.Copy(stdin, src)
	if src.err != nil {
		_ = cmd.Process.Kill()
		// Closed only once the client is dead, so the end of input reaches nobody who
		// could commit; Wait would otherwise wait on a child of the client still reading it.
		_ = stdin.Close()
		_ = cmd.Wait()
		return fmt.Errorf("reading the dump: %w", src.err)
	}
	_ = stdin.Close()
	if err := cmd.Wait(); err != nil {
		return Failure(cmd, err, &stderr)
	}
	if copyErr != nil && !errors.Is(copyErr, io.ErrClosedPipe) {
		return fmt.Errorf("%s stopped reading the dump before its end: %w", filepath.Base(cmd.Path), copyErr)
	}
	return nil
}

// readErr remembers a read error other than the end of input.
type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		e.err = err
	}
	return n, err
}
