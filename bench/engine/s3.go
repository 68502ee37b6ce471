package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// versity is a versitygw serving S3 from a directory, with its posix backend: a bucket is a
// directory below dir. test/servers does the same for tests but needs a testing.TB.
type versity struct {
	endpoint             string
	accessKey, secretKey string
	dir                  string
	cmd                  *exec.Cmd
	done                 chan struct{}
}

func startVersityGW(ctx context.Context, bin, dir string) (*versity, error) {
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
	ln.Close()
	v := &versity{endpoint: "http://" + addr, accessKey: "coffer-" + randomHex(6), secretKey: randomHex(20),
		dir: filepath.Join(dir, "data"), done: make(chan struct{})}
	log, err := os.Create(filepath.Join(dir, "versitygw.log"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	v.cmd = exec.Command(bin, "--port", addr, "posix", v.dir)
	v.cmd.Env = append(cleanEnv(), "ROOT_ACCESS_KEY="+v.accessKey, "ROOT_SECRET_KEY="+v.secretKey)
	v.cmd.Stdout, v.cmd.Stderr = log, log
	v.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := v.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting versitygw: %w", err)
	}
	go func() { _ = v.cmd.Wait(); close(v.done) }()

	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Unsigned, so the answer is 403; any answer means it serves.
		resp, err := client.Get(v.endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return v, nil
		}
		select {
		case <-v.done:
			return nil, fmt.Errorf("versitygw exited before it answered on %s; see %s", addr, log.Name())
		case <-ctx.Done():
			v.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			v.stop()
			return nil, fmt.Errorf("versitygw did not answer on %s within 30s: %v; see %s", addr, err, log.Name())
		}
	}
}

// createBucket makes an empty bucket; the posix backend serves a new directory as one at once.
func (v *versity) createBucket(name string) error {
	return os.Mkdir(filepath.Join(v.dir, name), 0o755)
}

func (v *versity) removeBucket(name string) error {
	return os.RemoveAll(filepath.Join(v.dir, name))
}

func (v *versity) location(bucket, prefix string) *s3Location {
	return &s3Location{endpoint: v.endpoint, accessKey: v.accessKey, secretKey: v.secretKey, bucket: bucket, prefix: prefix}
}

// stop ends the gateway's process group: SIGTERM, SIGKILL after 5 s.
func (v *versity) stop() {
	pgid := v.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-v.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-v.done
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
