package servers

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cofferhq/coffer/engine"
)

// Each test starts a server, makes a bucket, and has restic init a repository in it, back up a
// directory and list the snapshot, with the settings taken from Backend: what the engine will
// do, less the engine.

func TestS3(t *testing.T) {
	t.Parallel()
	s := StartS3(t)
	s.CreateBucket(t, "coffer-bucket")
	b := backend(t, s.Backend("coffer-bucket", "team/repo"))

	resticRoundTrip(t, []string{
		"RESTIC_REPOSITORY=s3:" + b.S3.Endpoint + "/" + b.S3.Bucket + "/" + b.S3.Prefix,
		"AWS_ACCESS_KEY_ID=" + b.S3.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + b.S3.SecretAccessKey,
		"AWS_DEFAULT_REGION=" + b.S3.Region,
	})
	// The bucket is the directory CreateBucket made.
	mustExist(t, filepath.Join(s.Dir, "coffer-bucket", "team", "repo", "config"))

	s.Stop()
	mustRefuse(t, strings.TrimPrefix(s.Endpoint, "http://"))
	s.Stop()
}

func TestGCS(t *testing.T) {
	t.Parallel()
	g := StartGCS(t)
	g.CreateBucket(t, "coffer-bucket")
	b := backend(t, g.Backend("coffer-bucket", "team/repo"))

	resticRoundTrip(t, []string{
		"RESTIC_REPOSITORY=gs:" + b.GCS.Bucket + ":/" + b.GCS.Prefix,
		"STORAGE_EMULATOR_HOST=" + b.GCS.EmulatorHost,
		"GOOGLE_PROJECT_ID=" + b.GCS.ProjectID,
		"GOOGLE_ACCESS_TOKEN=" + b.GCS.AccessToken,
	})
	mustExist(t, filepath.Join(g.Dir, "coffer-bucket", "team", "repo", "config"))

	g.Stop()
	mustRefuse(t, g.Host)
}

func TestAzure(t *testing.T) {
	t.Parallel()
	a := StartAzure(t)
	a.CreateContainer(t, "coffer-container")
	b := backend(t, a.Backend("coffer-container", "team/repo"))

	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, b.Azure.CACert, 0o644); err != nil {
		t.Fatal(err)
	}
	env := append([]string{
		"RESTIC_REPOSITORY=azure:" + b.Azure.Container + ":/" + b.Azure.Prefix,
		"AZURE_ACCOUNT_NAME=" + b.Azure.Account,
		"AZURE_ACCOUNT_KEY=" + b.Azure.AccountKey,
		"AZURE_ENDPOINT_SUFFIX=" + b.Azure.EndpointSuffix,
	}, a.Env()...)
	resticRoundTrip(t, env, "--cacert", caFile, "-o", "azure.access-tier="+b.Azure.AccessTier)

	// In-process clients see the same container through HTTPClient.
	req, err := http.NewRequest(http.MethodGet,
		a.endpoint()+"/coffer-container?restype=container&comp=list&prefix=team/repo/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.sign(req); err != nil {
		t.Fatal(err)
	}
	resp, err := a.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("listing the container: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("<Name>team/repo/config</Name>")) {
		t.Fatalf("listing the container: %s\n%s", resp.Status, body)
	}

	a.Stop()
	mustRefuse(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(a.Port)))
	mustRefuse(t, strings.TrimPrefix(a.ProxyURL, "http://"))
}

// backend checks that b is valid and returns it.
func backend(t *testing.T, b engine.Backend) engine.Backend {
	t.Helper()
	if err := b.Validate(); err != nil {
		t.Fatalf("Backend() is not valid: %v", err)
	}
	return b
}

// resticRoundTrip inits a repository, backs up a small directory and checks that snapshots
// lists exactly that backup.
func resticRoundTrip(t *testing.T, env []string, flags ...string) {
	t.Helper()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "hello.txt"), []byte("hello, coffer\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	restic(t, env, append(flags, "init")...)
	restic(t, env, append(flags, "backup", "--json", src)...)
	out := restic(t, env, append(flags, "snapshots", "--json")...)
	var snaps []struct {
		ID    string   `json:"id"`
		Paths []string `json:"paths"`
	}
	if err := json.Unmarshal(out, &snaps); err != nil {
		t.Fatalf("restic snapshots --json: %v\n%s", err, out)
	}
	if len(snaps) != 1 || len(snaps[0].Paths) != 1 || snaps[0].Paths[0] != src {
		t.Fatalf("restic snapshots: want one snapshot of %s, got %s", src, out)
	}
}

// restic runs the pinned restic with env (and nothing else from the test's environment) and
// returns its standard output.
func restic(t *testing.T, env []string, args ...string) []byte {
	t.Helper()
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, Tool(t, "restic"), args...)
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"RESTIC_CACHE_DIR=" + filepath.Join(home, "cache"),
		"RESTIC_PASSWORD=coffer-test",
	}, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("restic %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
	}
	return out
}

func mustExist(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the repository is not where the server keeps the bucket: %v", err)
	}
}

// mustRefuse checks that nothing listens on addr any more.
func mustRefuse(t *testing.T, addr string) {
	t.Helper()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Stop", addr)
	}
}
