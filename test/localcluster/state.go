package localcluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// stateVersion changes when the state file's meaning changes; Down refuses a state it does not
// understand rather than guess what to restore.
const stateVersion = 1

// state is what a running cluster needs to be found again and torn down by another process. It
// is written as soon as the host snapshot is taken and after each daemon starts, so a crash in the
// middle of Up still leaves Down everything it needs.
type state struct {
	Version int `json:"version"`
	// NodeName is the kubelet's node name.
	NodeName string `json:"nodeName"`
	// BinDir holds the Kubernetes and etcd binaries (for kube-proxy --cleanup).
	BinDir string `json:"binDir"`
	// Processes are the daemons in start order.
	Processes []process `json:"processes"`
	// Host is how the host was before Up changed it.
	Host hostSnapshot `json:"host"`
	// Guards are the iptables rules Up inserted.
	Guards []iptablesRule `json:"guards"`
}

// process identifies a daemon by PID and start time, so a recycled PID is never signalled.
type process struct {
	Name      string `json:"name"`
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
	Log       string `json:"log"`
}

func (s *state) process(name string) (process, bool) {
	for _, p := range s.Processes {
		if p.Name == name {
			return p, true
		}
	}
	return process{}, false
}

func readState(l layout) (*state, error) {
	data, err := os.ReadFile(l.stateFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("reading %s: %w", l.stateFile(), err)
	}
	if s.Version != stateVersion {
		return nil, fmt.Errorf("%s has version %d, this code understands %d", l.stateFile(), s.Version, stateVersion)
	}
	return &s, nil
}

// writeState replaces the state file atomically: a reader sees the old or the new one.
func writeState(l layout, s *state) error {
	s.Version = stateVersion
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := l.stateFile() + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, l.stateFile())
}

// fileLock is an flock(2) on a file in the work directory. Locks die with their process, so a
// killed test never leaves the cluster locked.
type fileLock struct{ f *os.File }

func lockFile(path string, how int) (*fileLock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return &fileLock{f: f}, nil
}

func (l *fileLock) unlock() {
	if l != nil && l.f != nil {
		l.f.Close() // closing the last descriptor releases the flock
		l.f = nil
	}
}
