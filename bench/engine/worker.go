package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/cofferhq/coffer/engine"
)

// workerRequest is one Coffer operation for a worker, on its standard input.
type workerRequest struct {
	Op       string // init, backup or restore
	Engine   engine.Restic
	Repo     engine.Repo
	Dir      string // backup: the directory
	Snapshot string // restore: the snapshot ID
	Target   string // restore: the target directory
}

// workerResponse is the worker's answer, on its standard output.
type workerResponse struct {
	Seconds  float64
	Snapshot string
	// ChildMaxRSSKiB is getrusage(RUSAGE_CHILDREN).ru_maxrss after the operation: the peak
	// resident set of the largest restic process the engine started and waited for.
	ChildMaxRSSKiB int64
	// ChildCPUSeconds is their user and system time.
	ChildCPUSeconds float64
	Error           string
}

// runWorker runs one Coffer operation in a fresh worker process: this executable re-executed
// with workerEnv set. A fresh process per operation is what makes RUSAGE_CHILDREN the peak of
// that operation's restic processes alone.
func runWorker(ctx context.Context, req workerRequest) (measured, error) {
	self, err := os.Executable()
	if err != nil {
		return measured{}, err
	}
	in, err := json.Marshal(req)
	if err != nil {
		return measured{}, err
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), workerEnv+"=1")
	cmd.Stdin = bytes.NewReader(in)
	var stdout bytes.Buffer
	stderr := &tail{max: 8 << 10}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	// The worker interrupts restic and waits for it on SIGINT.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 15 * time.Second
	runErr := cmd.Run()
	var resp workerResponse
	if err := json.Unmarshal(stdout.Bytes(), &resp); err != nil {
		return measured{}, fmt.Errorf("coffer %s worker: %v (exit: %v)\n%s", req.Op, err, runErr, stderr.buf)
	}
	if resp.Error != "" {
		return measured{}, fmt.Errorf("coffer %s: %s", req.Op, resp.Error)
	}
	if runErr != nil {
		return measured{}, fmt.Errorf("coffer %s worker: %w\n%s", req.Op, runErr, stderr.buf)
	}
	return measured{
		elapsed:   time.Duration(resp.Seconds * float64(time.Second)),
		maxRSSKiB: resp.ChildMaxRSSKiB,
		cpu:       time.Duration(resp.ChildCPUSeconds * float64(time.Second)),
		snap:      snapshot{id: resp.Snapshot, path: req.Dir},
	}, nil
}

// workerMain performs the request read from in through the engine and writes a
// workerResponse to out. It returns the process's exit code.
func workerMain(in io.Reader, out io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var req workerRequest
	resp := workerResponse{}
	if err := json.NewDecoder(in).Decode(&req); err != nil {
		resp.Error = "reading the request: " + err.Error()
	} else {
		e := req.Engine
		start := time.Now()
		var err error
		switch req.Op {
		case "init":
			err = e.Init(ctx, req.Repo)
		case "backup":
			var s *engine.BackupSummary
			if s, err = e.BackupDirectory(ctx, req.Repo, req.Dir, engine.BackupOptions{}); err == nil {
				resp.Snapshot = s.SnapshotID
			}
		case "restore":
			_, err = e.RestoreDirectory(ctx, req.Repo, req.Snapshot, req.Target, engine.RestoreOptions{})
		default:
			err = fmt.Errorf("unknown operation %q", req.Op)
		}
		resp.Seconds = time.Since(start).Seconds()
		if err != nil {
			resp.Error = err.Error()
		}
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err == nil {
			resp.ChildMaxRSSKiB = ru.Maxrss
			resp.ChildCPUSeconds = cpuTime(&ru).Seconds()
		}
	}
	if err := json.NewEncoder(out).Encode(resp); err != nil || resp.Error != "" {
		return 1
	}
	return 0
}
