package addons

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
)

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
