package servers

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/cofferhq/coffer/engine"
)

// gcsProject is the project of the buckets made by CreateBucket and of GCS.Backend;
// fake-gcs-server accepts any.
const gcsProject = "coffer-test"

// GCS is a fake-gcs-server with its filesystem backend: a bucket is a directory under Dir.
type GCS struct {
	// Host is 127.0.0.1:<port>, the value of STORAGE_EMULATOR_HOST; it speaks plain HTTP.
	Host string
	// Dir is the server's filesystem root.
	Dir string

	proc *process
}

// StartGCS starts fake-gcs-server on a free port of 127.0.0.1, with no buckets.
func StartGCS(t testing.TB) *GCS {
	t.Helper()
	bin := Tool(t, "fake-gcs-server")
	port := freePort(t)
	g := &GCS{Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: t.TempDir()}
	g.proc = startProcess(t, "fake-gcs-server", bin, []string{
		"-scheme", "http",
		"-host", "127.0.0.1",
		"-port", strconv.Itoa(port),
		// The Go client reads objects with the XML API (GET /<bucket>/<object>), which
		// fake-gcs-server routes only for requests whose Host is the public host; without
		// this every read is a 404.
		"-public-host", g.Host,
		// Location of resumable uploads.
		"-external-url", "http://" + g.Host,
		"-backend", "filesystem",
		"-filesystem-root", g.Dir,
	}, nil)
	g.proc.waitReady(t, g.Host, func() error {
		resp, err := localClient.Get("http://" + g.Host + "/storage/v1/b")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return errorBody(resp, body)
		}
		return nil
	})
	return g
}

// CreateBucket creates an empty bucket with the JSON API.
func (g *GCS) CreateBucket(t testing.TB, name string) {
	t.Helper()
	req, err := json.Marshal(map[string]string{"name": name})
	if err != nil {
		t.Fatalf("servers: %v", err)
	}
	u := "http://" + g.Host + "/storage/v1/b?project=" + url.QueryEscape(gcsProject)
	resp, err := localClient.Post(u, "application/json", bytes.NewReader(req))
	if err != nil {
		t.Fatalf("servers: creating GCS bucket %s: %v", name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("servers: creating GCS bucket %s: %v", name, errorBody(resp, body))
	}
}

// Backend is the GCS backend for prefix in bucket, reached through the emulator.
func (g *GCS) Backend(bucket, prefix string) engine.Backend {
	return engine.Backend{GCS: &engine.GCSBackend{
		Bucket:       bucket,
		Prefix:       prefix,
		ProjectID:    gcsProject,
		AccessToken:  "coffer-test",
		EmulatorHost: g.Host,
	}}
}

// Stop stops the server now, for tests of an unreachable endpoint. The test's cleanup stops it
// too, so calling Stop is optional and idempotent.
func (g *GCS) Stop() { g.proc.stop() }
