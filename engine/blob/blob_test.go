package blob_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"google.golang.org/api/googleapi"

	"github.com/cofferhq/coffer/engine"
	"github.com/cofferhq/coffer/engine/blob"
	"github.com/cofferhq/coffer/test/servers"
)

// files is a small layout: the backend's metadata, two repositories, and a repo10 whose name
// starts like repo1's, so that a prefix must end at a "/".
var files = map[string]string{
	"metadata.yaml":                         "kind: BackupStorage\n",
	"repo1/repository.yaml":                 "kind: Repository\nname: repo1\n",
	"repo1/snapshots/s1.yaml":               "kind: Snapshot\nname: s1\n",
	"repo1/snapshots/s2.yaml":               "kind: Snapshot\nname: s2\n",
	"repo1/repository/v1/daily/data/config": "restic config",
	"repo10/repository.yaml":                "kind: Repository\nname: repo10\n",
	"repo2/repository.yaml":                 "kind: Repository\nname: repo2\n",
}

func keysUnder(prefix string) []string {
	var keys []string
	for k := range files {
		if prefix == "" || strings.HasPrefix(k, prefix+"/") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func sizeUnder(prefix string) int64 {
	var n int64
	for _, k := range keysUnder(prefix) {
		n += int64(len(files[k]))
	}
	return n
}

func objectKeys(objs []blob.Object) []string {
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.Key
	}
	return keys
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func open(t *testing.T, b engine.Backend, opts ...blob.Option) *blob.Bucket {
	t.Helper()
	bk, err := blob.Open(ctxT(t), b, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", b.Name(), err)
	}
	t.Cleanup(func() {
		if err := bk.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return bk
}

// roundTrip runs every operation against an empty backend root and leaves it empty.
func roundTrip(t *testing.T, bk *blob.Bucket) {
	ctx := ctxT(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := bk.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}

	// Nothing there yet.
	if _, err := bk.Read(ctx, "metadata.yaml"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Read of a missing key = %v, want ErrNotFound", err)
	}
	if ok, err := bk.Exists(ctx, "metadata.yaml"); err != nil || ok {
		t.Fatalf("Exists of a missing key = %v, %v", ok, err)
	}
	if err := bk.Delete(ctx, "metadata.yaml"); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
	if objs, err := bk.List(ctx, ""); err != nil || len(objs) != 0 {
		t.Fatalf("List of an empty root = %v, %v", objs, err)
	}
	if _, err := bk.Read(ctx, "/"); err == nil {
		t.Fatal("Read(\"/\") succeeded")
	}

	for k, v := range files {
		must(bk.Write(ctx, k, []byte(v)))
	}
	for k, v := range files {
		got, err := bk.Read(ctx, k)
		must(err)
		if string(got) != v {
			t.Errorf("Read(%q) = %q, want %q", k, got, v)
		}
		if ok, err := bk.Exists(ctx, k); err != nil || !ok {
			t.Errorf("Exists(%q) = %v, %v", k, ok, err)
		}
	}
	// Keys are cleaned, and cannot climb above the root.
	if got, err := bk.Read(ctx, "/repo1//snapshots/../snapshots/s1.yaml"); err != nil || string(got) != files["repo1/snapshots/s1.yaml"] {
		t.Errorf("Read of an unclean key = %q, %v", got, err)
	}
	if got, err := bk.Read(ctx, "../../metadata.yaml"); err != nil || string(got) != files["metadata.yaml"] {
		t.Errorf("Read(../../metadata.yaml) = %q, %v", got, err)
	}
	// Write replaces.
	must(bk.Write(ctx, "metadata.yaml", []byte("replaced")))
	if got, err := bk.Read(ctx, "metadata.yaml"); err != nil || string(got) != "replaced" {
		t.Fatalf("Read after replace = %q, %v", got, err)
	}
	must(bk.Write(ctx, "metadata.yaml", []byte(files["metadata.yaml"])))

	for _, prefix := range []string{"", "repo1", "repo1/snapshots", "/repo1/", "nothing"} {
		objs, err := bk.List(ctx, prefix)
		must(err)
		want := keysUnder(engine.CleanKey(prefix))
		if got := objectKeys(objs); !slices.Equal(got, want) {
			t.Errorf("List(%q) = %v, want %v", prefix, got, want)
		}
		for _, o := range objs {
			if o.Size != int64(len(files[o.Key])) {
				t.Errorf("List(%q): %s has size %d, want %d", prefix, o.Key, o.Size, len(files[o.Key]))
			}
			if o.ModTime.IsZero() || time.Since(o.ModTime) > time.Hour {
				t.Errorf("List(%q): %s has ModTime %v", prefix, o.Key, o.ModTime)
			}
		}
		size, err := bk.Size(ctx, prefix)
		must(err)
		if want := sizeUnder(engine.CleanKey(prefix)); size != want {
			t.Errorf("Size(%q) = %d, want %d", prefix, size, want)
		}
	}

	for prefix, want := range map[string][]string{
		"":                               {"repo1", "repo10", "repo2"},
		"repo1":                          {"repo1/repository", "repo1/snapshots"},
		"repo1/repository/v1":            {"repo1/repository/v1/daily"},
		"repo1/repository/v1/daily/data": nil,
		"nothing":                        nil,
	} {
		got, err := bk.Dirs(ctx, prefix)
		must(err)
		if !slices.Equal(got, want) {
			t.Errorf("Dirs(%q) = %q, want %q", prefix, got, want)
		}
	}

	must(bk.Delete(ctx, "repo1/snapshots/s2.yaml"))
	if ok, err := bk.Exists(ctx, "repo1/snapshots/s2.yaml"); err != nil || ok {
		t.Errorf("Exists after Delete = %v, %v", ok, err)
	}
	must(bk.Delete(ctx, "repo1/snapshots/s2.yaml"))

	n, err := bk.DeletePrefix(ctx, "repo1")
	must(err)
	if want := len(keysUnder("repo1")) - 1; n != want {
		t.Errorf("DeletePrefix(repo1) = %d, want %d", n, want)
	}
	objs, err := bk.List(ctx, "")
	must(err)
	if got, want := objectKeys(objs), []string{"metadata.yaml", "repo10/repository.yaml", "repo2/repository.yaml"}; !slices.Equal(got, want) {
		t.Errorf("after DeletePrefix(repo1), List = %v, want %v", got, want)
	}
	if got, err := bk.Dirs(ctx, ""); err != nil || !slices.Equal(got, []string{"repo10", "repo2"}) {
		t.Errorf("after DeletePrefix(repo1), Dirs = %v, %v", got, err)
	}
	if n, err := bk.DeletePrefix(ctx, "repo1"); err != nil || n != 0 {
		t.Errorf("DeletePrefix of nothing = %d, %v", n, err)
	}

	n, err = bk.DeletePrefix(ctx, "")
	must(err)
	if n != 3 {
		t.Errorf("DeletePrefix(\"\") = %d, want 3", n)
	}
	if objs, err := bk.List(ctx, ""); err != nil || len(objs) != 0 {
		t.Errorf("after DeletePrefix(\"\"), List = %v, %v", objs, err)
	}
	if err := bk.Check(ctx); err != nil {
		t.Errorf("Check after DeletePrefix(\"\"): %v", err)
	}
}

func TestLocal(t *testing.T) {
	root := filepath.Join(t.TempDir(), "backups")
	bk := open(t, engine.Backend{Local: &engine.LocalBackend{Path: root}})
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		t.Fatalf("Open did not create the root directory: %v", err)
	}

	// Only our files go into the tree: restic repositories share it.
	ctx := ctxT(t)
	for k, v := range files {
		if err := bk.Write(ctx, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	var onDisk []string
	if err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			onDisk = append(onDisk, filepath.ToSlash(rel))
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(onDisk)
	if want := keysUnder(""); !slices.Equal(onDisk, want) {
		t.Errorf("files on disk = %v, want %v", onDisk, want)
	}
	if got, err := os.ReadFile(filepath.Join(root, "repo1", "snapshots", "s1.yaml")); err != nil || string(got) != files["repo1/snapshots/s1.yaml"] {
		t.Errorf("file on disk = %q, %v", got, err)
	}

	// DeletePrefix removes the directories it emptied, never the root.
	if _, err := bk.DeletePrefix(ctx, "repo1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "repo1")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("repo1 directory after DeletePrefix: %v", err)
	}
	if _, err := bk.DeletePrefix(ctx, ""); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(root)
	if err != nil || len(entries) != 0 {
		t.Errorf("root after DeletePrefix(\"\") = %v, %v", entries, err)
	}

	roundTrip(t, bk)

	// The root directory goes away: Check says so, Read says the object is missing.
	if err := os.Remove(root); err != nil {
		t.Fatal(err)
	}
	if err := bk.Check(ctx); !errors.Is(err, blob.ErrBucketNotFound) {
		t.Errorf("Check without the root directory = %v, want ErrBucketNotFound", err)
	}
	if err := bk.Write(ctx, "metadata.yaml", nil); !errors.Is(err, blob.ErrBucketNotFound) {
		t.Errorf("Write without the root directory = %v, want ErrBucketNotFound", err)
	}
	if _, err := os.Stat(root); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Write recreated the root directory: %v", err)
	}
	if err := os.WriteFile(root, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := bk.Check(ctx); !errors.Is(err, blob.ErrBucketNotFound) {
		t.Errorf("Check with a file as root = %v, want ErrBucketNotFound", err)
	}
}

func TestLocalOpenNeedsParent(t *testing.T) {
	root := filepath.Join(t.TempDir(), "not-mounted", "backups")
	_, err := blob.Open(ctxT(t), engine.Backend{Local: &engine.LocalBackend{Path: root}})
	if !errors.Is(err, blob.ErrBucketNotFound) {
		t.Fatalf("Open under a missing parent = %v, want ErrBucketNotFound", err)
	}
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "no such file or directory") {
		t.Errorf("error lost the file system's words: %v", err)
	}
	if _, err := os.Stat(filepath.Dir(root)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Open created the missing parent: %v", err)
	}
}

func TestOpenValidates(t *testing.T) {
	_, err := blob.Open(ctxT(t), engine.Backend{S3: &engine.S3Backend{Endpoint: "http://127.0.0.1:1"}})
	if err == nil || !strings.Contains(err.Error(), "s3.bucket is required") {
		t.Fatalf("Open of an invalid backend = %v", err)
	}
}

func TestWriteIsAtomicLocally(t *testing.T) {
	// Readers racing a writer see the old content or the new, whole.
	root := t.TempDir()
	bk := open(t, engine.Backend{Local: &engine.LocalBackend{Path: root}})
	ctx := ctxT(t)
	a, b := bytes.Repeat([]byte("a"), 1<<20), bytes.Repeat([]byte("b"), 1<<20)
	if err := bk.Write(ctx, "big.yaml", a); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		var err error
		for i := 0; i < 20 && err == nil; i++ {
			err = bk.Write(ctx, "big.yaml", [][]byte{a, b}[i%2])
		}
		done <- err
	}()
	for running := true; running; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			running = false
		default:
			got, err := bk.Read(ctx, "big.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, a) && !bytes.Equal(got, b) {
				t.Fatalf("read a torn write of %d bytes", len(got))
			}
		}
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

// server is one provider's test server, seen through what the tests need of it.
type server struct {
	backend func(bucket, prefix string) engine.Backend
	opts    []blob.Option
	create  func(t *testing.T, bucket string)
	stop    func()
	// denied is a backend whose credentials the server refuses; nil where it checks none.
	denied func(bucket string) engine.Backend
	// readTellsBucket: reading from a missing bucket says so (GCS's client only says "object
	// doesn't exist").
	readTellsBucket bool
	// providerErr is the provider's error type, which the returned errors must still wrap.
	providerErr func(error) bool
}

func testServer(t *testing.T, s server) {
	s.create(t, "coffer")

	t.Run("root", func(t *testing.T) {
		roundTrip(t, open(t, s.backend("coffer", ""), s.opts...))
	})

	t.Run("prefix", func(t *testing.T) {
		ctx := ctxT(t)
		all := open(t, s.backend("coffer", ""), s.opts...)
		// A neighbour whose name starts like the prefix: never touched through it.
		if err := all.Write(ctx, "a/bc/neighbour.yaml", []byte("x")); err != nil {
			t.Fatal(err)
		}
		nested := open(t, s.backend("coffer", "/a/b/"), s.opts...)
		roundTrip(t, nested)

		if err := nested.Write(ctx, "repo1/repository.yaml", []byte("r")); err != nil {
			t.Fatal(err)
		}
		objs, err := all.List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if got, want := objectKeys(objs), []string{"a/b/repo1/repository.yaml", "a/bc/neighbour.yaml"}; !slices.Equal(got, want) {
			t.Errorf("objects in the bucket = %v, want %v", got, want)
		}
		if got, err := all.Dirs(ctx, "a"); err != nil || !slices.Equal(got, []string{"a/b", "a/bc"}) {
			t.Errorf("Dirs(a) = %v, %v", got, err)
		}
		if n, err := nested.DeletePrefix(ctx, ""); err != nil || n != 1 {
			t.Errorf("DeletePrefix(\"\") below a/b = %d, %v, want 1", n, err)
		}
		if n, err := all.DeletePrefix(ctx, ""); err != nil || n != 1 {
			t.Errorf("DeletePrefix(\"\") of the bucket = %d, %v, want 1 (the neighbour)", n, err)
		}
	})

	t.Run("missing bucket", func(t *testing.T) {
		ctx := ctxT(t)
		bk := open(t, s.backend("missing", "p"), s.opts...)
		err := bk.Check(ctx)
		if !errors.Is(err, blob.ErrBucketNotFound) {
			t.Fatalf("Check = %v, want ErrBucketNotFound", err)
		}
		if !s.providerErr(err) {
			t.Errorf("Check's error does not wrap the provider's: %#v", err)
		}
		t.Logf("Check: %v", err)
		if _, err := bk.List(ctx, ""); !errors.Is(err, blob.ErrBucketNotFound) {
			t.Errorf("List = %v, want ErrBucketNotFound", err)
		}
		if err := bk.Write(ctx, "metadata.yaml", []byte("x")); !errors.Is(err, blob.ErrBucketNotFound) {
			t.Errorf("Write = %v, want ErrBucketNotFound", err)
		}
		want := blob.ErrNotFound
		if s.readTellsBucket {
			want = blob.ErrBucketNotFound
		}
		if _, err := bk.Read(ctx, "metadata.yaml"); !errors.Is(err, want) {
			t.Errorf("Read = %v, want %v", err, want)
		}
	})

	if s.denied != nil {
		t.Run("access denied", func(t *testing.T) {
			ctx := ctxT(t)
			bk := open(t, s.denied("coffer"), s.opts...)
			err := bk.Check(ctx)
			if !errors.Is(err, blob.ErrAccessDenied) {
				t.Fatalf("Check = %v, want ErrAccessDenied", err)
			}
			if !s.providerErr(err) {
				t.Errorf("Check's error does not wrap the provider's: %#v", err)
			}
			t.Logf("Check: %v", err)
			if _, err := bk.Read(ctx, "metadata.yaml"); !errors.Is(err, blob.ErrAccessDenied) {
				t.Errorf("Read = %v, want ErrAccessDenied", err)
			}
			if err := bk.Write(ctx, "metadata.yaml", []byte("x")); !errors.Is(err, blob.ErrAccessDenied) {
				t.Errorf("Write = %v, want ErrAccessDenied", err)
			}
			if _, err := bk.Exists(ctx, "metadata.yaml"); !errors.Is(err, blob.ErrAccessDenied) {
				t.Errorf("Exists = %v, want ErrAccessDenied", err)
			}
		})
	}

	t.Run("stopped", func(t *testing.T) {
		ctx := ctxT(t)
		bk := open(t, s.backend("coffer", ""), s.opts...)
		s.stop()
		err := bk.Check(ctx)
		if !errors.Is(err, blob.ErrUnreachable) {
			t.Fatalf("Check = %v, want ErrUnreachable", err)
		}
		t.Logf("Check: %v", err)
		if !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("Check's error lost the cause: %v", err)
		}
		if _, err := bk.Read(ctx, "metadata.yaml"); !errors.Is(err, blob.ErrUnreachable) {
			t.Errorf("Read = %v, want ErrUnreachable", err)
		}
	})
}

func TestS3(t *testing.T) {
	t.Parallel()
	s := servers.StartS3(t)
	isAPIError := func(err error) bool { _, ok := errors.AsType[smithy.APIError](err); return ok }
	testServer(t, server{
		backend: s.Backend,
		create:  func(t *testing.T, name string) { s.CreateBucket(t, name) },
		stop:    s.Stop,
		denied: func(bucket string) engine.Backend {
			b := s.Backend(bucket, "")
			b.S3.SecretAccessKey = "wrong" + b.S3.SecretAccessKey
			return b
		},
		readTellsBucket: true,
		providerErr:     isAPIError,
	})
}

func TestS3Objects(t *testing.T) {
	// What lands on the server: the content type, and markers written by other tools.
	t.Parallel()
	s := servers.StartS3(t)
	s.CreateBucket(t, "coffer")
	ctx := ctxT(t)
	bk := open(t, s.Backend("coffer", "root"))
	for k, v := range map[string]string{"metadata.yaml": "m", "repo/snapshots/s.yaml": "s", "repo/data": "d"} {
		if err := bk.Write(ctx, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	client := s3.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	}, func(o *s3.Options) { o.BaseEndpoint = aws.String(s.Endpoint); o.UsePathStyle = true })
	for key, want := range map[string]string{
		"root/metadata.yaml":         "application/yaml",
		"root/repo/snapshots/s.yaml": "application/yaml",
		"root/repo/data":             "application/octet-stream",
	} {
		head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("coffer"), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(head.ContentType); got != want {
			t.Errorf("content type of %s = %q, want %q", key, got, want)
		}
	}
	// No directory markers are written.
	out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("coffer")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	if want := []string{"root/metadata.yaml", "root/repo/data", "root/repo/snapshots/s.yaml"}; !slices.Equal(keys, want) {
		t.Errorf("objects on the server = %v, want %v", keys, want)
	}
	// Markers other tools write are skipped when listing and deleted with their prefix.
	for _, k := range []string{"root/repo/", "root/repo/snapshots/", "root/empty/"} {
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("coffer"), Key: aws.String(k)}); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := bk.List(ctx, "repo")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := objectKeys(objs), []string{"repo/data", "repo/snapshots/s.yaml"}; !slices.Equal(got, want) {
		t.Errorf("List(repo) with markers = %v, want %v", got, want)
	}
	if got, err := bk.Dirs(ctx, ""); err != nil || !slices.Equal(got, []string{"empty", "repo"}) {
		t.Errorf("Dirs with markers = %v, %v", got, err)
	}
	if got, err := bk.Dirs(ctx, "repo"); err != nil || !slices.Equal(got, []string{"repo/snapshots"}) {
		t.Errorf("Dirs(repo) with markers = %v, %v", got, err)
	}
	if n, err := bk.DeletePrefix(ctx, "repo"); err != nil || n != 4 {
		t.Errorf("DeletePrefix(repo) = %d, %v, want 4", n, err)
	}
	out, err = client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("coffer")})
	if err != nil {
		t.Fatal(err)
	}
	keys = keys[:0]
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	if want := []string{"root/empty/", "root/metadata.yaml"}; !slices.Equal(keys, want) {
		t.Errorf("objects after DeletePrefix(repo) = %v, want %v", keys, want)
	}
}

func TestGCS(t *testing.T) {
	t.Parallel()
	g := servers.StartGCS(t)
	isAPIError := func(err error) bool { _, ok := errors.AsType[*googleapi.Error](err); return ok }
	testServer(t, server{
		backend:     g.Backend,
		create:      func(t *testing.T, name string) { g.CreateBucket(t, name) },
		stop:        g.Stop,
		providerErr: isAPIError,
	})
}

func TestAzure(t *testing.T) {
	t.Parallel()
	a := servers.StartAzure(t)
	isResponseError := func(err error) bool { _, ok := errors.AsType[*azcore.ResponseError](err); return ok }
	testServer(t, server{
		backend: a.Backend,
		opts:    []blob.Option{blob.WithHTTPClient(a.HTTPClient())},
		create:  func(t *testing.T, name string) { a.CreateContainer(t, name) },
		stop:    a.Stop,
		denied: func(bucket string) engine.Backend {
			b := a.Backend(bucket, "")
			b.Azure.AccountKey = base64.StdEncoding.EncodeToString([]byte("not the account key"))
			return b
		},
		readTellsBucket: true,
		providerErr:     isResponseError,
	})
}

func TestS3TLS(t *testing.T) {
	// CACert and InsecureTLS reach the TLS configuration; a certificate nobody vouches for is
	// ErrUnreachable. A TLS reverse proxy stands in front of versitygw (it keeps the Host
	// header, so signatures still match).
	t.Parallel()
	s := servers.StartS3(t)
	s.CreateBucket(t, "coffer")
	target, err := url.Parse(s.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(httputil.NewSingleHostReverseProxy(target))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	ts.StartTLS()
	t.Cleanup(ts.Close)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	ctx := ctxT(t)
	backend := func(change func(*engine.S3Backend)) engine.Backend {
		b := s.Backend("coffer", "tls")
		b.S3.Endpoint = ts.URL
		change(b.S3)
		return b
	}

	err = open(t, backend(func(*engine.S3Backend) {})).Check(ctx)
	if !errors.Is(err, blob.ErrUnreachable) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Check without the CA = %v, want ErrUnreachable naming the certificate", err)
	}
	if err := open(t, backend(func(b *engine.S3Backend) { b.InsecureTLS = true })).Check(ctx); err != nil {
		t.Errorf("Check with InsecureTLS: %v", err)
	}

	// One connection at a time still gets through a DeletePrefix of many objects.
	bk := open(t, backend(func(b *engine.S3Backend) { b.CACert = caPEM; b.MaxConnections = 1 }))
	if err := bk.Check(ctx); err != nil {
		t.Fatalf("Check with the CA: %v", err)
	}
	for i := range 40 {
		if err := bk.Write(ctx, fmt.Sprintf("repo/snapshots/s%02d.yaml", i), []byte("s")); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := bk.Size(ctx, "repo"); err != nil || n != 40 {
		t.Errorf("Size = %d, %v, want 40", n, err)
	}
	if n, err := bk.DeletePrefix(ctx, "repo"); err != nil || n != 40 {
		t.Errorf("DeletePrefix = %d, %v, want 40", n, err)
	}
}
