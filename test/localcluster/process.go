package localcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// daemonEnv is the whole environment of every daemon: a proxy variable or a KUBECONFIG of the
// caller must not leak into containerd or the kubelet.
var daemonEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root",
}

// startDaemon starts a program in its own session (so it outlives the caller and a signal to the
// caller's process group does not reach it), with stdout and stderr appended to its log, and
// returns its PID and start time. A goroutine waits for it so it never lingers as a zombie
// while this process lives; afterwards init reaps it.
func startDaemon(name, bin string, args []string, logPath string) (process, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return process{}, err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return process{}, err
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return process{}, err
	}
	defer devnull.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
	cmd.Env = daemonEnv
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return process{}, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() { _ = cmd.Wait() }()
	st, err := processStartTime(cmd.Process.Pid)
	if err != nil {
		return process{}, fmt.Errorf("%s exited at once; see %s", name, logPath)
	}
	return process{Name: name, PID: cmd.Process.Pid, StartTime: st, Log: logPath}, nil
}

// processStartTime reads the start time (clock ticks after boot) of a live process; a PID that
// was recycled has a different one.
func processStartTime(pid int) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name in parentheses may contain spaces; the fields after it are fixed.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	if f[0] == "Z" || f[0] == "X" {
		return 0, fmt.Errorf("process %d has exited", pid)
	}
	return strconv.ParseUint(f[19], 10, 64) // field 22 of stat(5)
}

// alive says whether the recorded process still runs (and is the same process).
func (p process) alive() bool {
	st, err := processStartTime(p.PID)
	return err == nil && st == p.StartTime
}

// stop sends SIGTERM, waits up to grace for the process to exit, then sends SIGKILL.
func (p process) stop(grace time.Duration) error {
	if !p.alive() {
		return nil
	}
	_ = syscall.Kill(p.PID, syscall.SIGTERM)
	if p.waitGone(grace) {
		return nil
	}
	_ = syscall.Kill(p.PID, syscall.SIGKILL)
	if p.waitGone(5 * time.Second) {
		return fmt.Errorf("%s (pid %d) ignored SIGTERM for %s and was killed", p.Name, p.PID, grace)
	}
	return fmt.Errorf("%s (pid %d) survived SIGKILL", p.Name, p.PID)
}

func (p process) waitGone(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !p.alive() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return !p.alive()
}

// logTail is the end of a daemon's log, for an error message.
func logTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return lastLines(data, n)
}

// waitFor polls check every interval until it returns nil, the process p dies, or ctx or timeout
// ends; the error then carries the last check error and the end of p's log.
func waitFor(ctx context.Context, what string, p *process, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		if p != nil && !p.alive() {
			return fmt.Errorf("%s exited while waiting for %s (log %s):\n%s", p.Name, what, p.Log, logTail(p.Log, 15))
		}
		select {
		case <-ctx.Done():
			msg := fmt.Sprintf("waiting for %s: %v (last error: %v)", what, ctx.Err(), last)
			if p != nil {
				msg += fmt.Sprintf("\n%s log %s:\n%s", p.Name, p.Log, logTail(p.Log, 15))
			}
			return errors.New(msg)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// findProcesses returns the PIDs whose command line contains every one of the words.
func findProcesses(words ...string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(data) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
		all := true
		for _, w := range words {
			found := false
			for _, a := range args {
				if strings.Contains(a, w) {
					found = true
					break
				}
			}
			if !found {
				all = false
				break
			}
		}
		if all {
			out = append(out, pid)
		}
	}
	return out
}
