package servers

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/cofferhq/coffer/engine"
)

// S3 is a versitygw server with its posix backend: a bucket is a directory under Dir and an
// object a file below it.
type S3 struct {
	// Endpoint is http://127.0.0.1:<port>.
	Endpoint string
	// AccessKey and SecretKey are the root account's, random per server.
	AccessKey, SecretKey string
	// Dir is the gateway's root directory.
	Dir string

	proc *process
}

// StartS3 starts versitygw on a free port of 127.0.0.1, with no buckets; the test's cleanup
// stops it and, if the test failed, logs its output.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	s, err := RunS3(Tool(t, "versitygw"), t.TempDir())
	if err != nil {
		t.Fatalf("servers: %v", err)
	}
	t.Cleanup(func() {
		s.proc.stop()
		if t.Failed() {
			s.proc.logOutput(t)
		}
	})
	return s
}

// RunS3 is StartS3 for programs that are not tests (the benchmark): the gateway serves dir/data
// and logs to dir; the caller stops it.
func RunS3(bin, dir string) (*S3, error) { return RunS3On(bin, dir, "127.0.0.1") }

// RunS3On is RunS3 listening on host, an address of this machine: the end-to-end suites serve
// pods of the local cluster on its bridge address.
func RunS3On(bin, dir, host string) (*S3, error) {
	port, err := freePortErr()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	s := &S3{
		Endpoint:  "http://" + addr,
		AccessKey: "coffer-" + randomHex(nil, 6),
		SecretKey: randomHex(nil, 20),
		Dir:       filepath.Join(dir, "data"),
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return nil, err
	}
	s.proc, err = launch(dir, "versitygw", bin,
		[]string{"--port", addr, "posix", s.Dir},
		[]string{"ROOT_ACCESS_KEY=" + s.AccessKey, "ROOT_SECRET_KEY=" + s.SecretKey})
	if err != nil {
		return nil, err
	}
	// Unsigned, so versitygw answers 403; any answer means it serves.
	if err := s.proc.ready(addr, answers(localClient, s.Endpoint+"/")); err != nil {
		return nil, err
	}
	return s, nil
}

// bucketName is S3's rule for bucket names, less the rarer exclusions (IP addresses, xn--).
var bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// CreateBucket creates an empty bucket. It makes the directory, which versitygw's posix backend
// serves as a bucket at once; the name is checked here because the gateway never sees it.
func (s *S3) CreateBucket(t testing.TB, name string) {
	t.Helper()
	if !bucketName.MatchString(name) {
		t.Fatalf("servers: %q is not a valid S3 bucket name (3-63 characters: a-z, 0-9, '.', '-')", name)
	}
	if err := os.Mkdir(filepath.Join(s.Dir, name), 0o755); err != nil {
		t.Fatalf("servers: creating bucket %s: %v", name, err)
	}
}

// Backend is the S3 backend for prefix in bucket.
func (s *S3) Backend(bucket, prefix string) engine.Backend {
	return engine.Backend{S3: &engine.S3Backend{
		Endpoint:        s.Endpoint,
		Bucket:          bucket,
		Prefix:          prefix,
		Region:          "us-east-1",
		AccessKeyID:     s.AccessKey,
		SecretAccessKey: s.SecretKey,
	}}
}

// Stop stops the server now, for tests of an unreachable endpoint; its port is closed when
// Stop returns. The test's cleanup stops it too, so calling Stop is optional and idempotent.
func (s *S3) Stop() { s.proc.stop() }
