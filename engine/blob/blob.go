package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	gcblob "gocloud.dev/blob"
	"golang.org/x/sync/errgroup"

	"github.com/cofferhq/coffer/engine"
)

// Bucket is a backend's root: every key is relative to the backend's prefix
// (engine.Backend.Prefix()), or to the directory of a local backend.
type Bucket struct {
	b *gcblob.Bucket
	// root is the key prefix of the backend root inside the bucket, "" or "a/b" (no slashes
	// at either end).
	root string
	// name describes the backend in messages.
	name string
	// localDir is the root directory of a local backend, "" for the others.
	localDir string
	close    func() error
}

// Object is one object below the root.
type Object struct {
	// Key is relative to the root, usable with Read, Delete and the rest.
	Key     string
	Size    int64
	ModTime time.Time
}

// Option changes how Open builds its clients.
type Option func(*options)

type options struct {
	httpClient *http.Client
}

// WithHTTPClient sends the S3, GCS and Azure requests through c, replacing the client Open
// would build from the backend's CACert, InsecureTLS and MaxConnections. GCS requests still
// carry the backend's credentials (they are added around c's transport).
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) { o.httpClient = c }
}

// deleteWorkers bounds the deletions DeletePrefix runs at once; object stores delete one key per
// request.
const deleteWorkers = 16

// Open connects to a backend. It makes no request except, for a local backend, creating the
// root directory when its parent exists, and, for S3 without keys, looking up the default
// credentials. Call Check to learn whether the bucket is there and the credentials work.
func Open(ctx context.Context, b engine.Backend, opts ...Option) (*Bucket, error) {
	if err := b.Validate(); err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	bk := &Bucket{root: b.Prefix(), name: b.Name()}
	var err error
	switch {
	case b.Local != nil:
		bk.b, bk.localDir, err = openLocal(b.Local)
	case b.S3 != nil:
		bk.b, err = openS3(ctx, b.S3, o)
	case b.GCS != nil:
		bk.b, bk.close, err = openGCS(ctx, b.GCS, o)
	case b.Azure != nil:
		bk.b, err = openAzure(ctx, b.Azure, o)
	}
	if err != nil {
		return nil, fmt.Errorf("blob: open %s: %w", bk.name, err)
	}
	return bk, nil
}

// Close releases the clients.
func (b *Bucket) Close() error {
	err := b.b.Close()
	if b.close != nil {
		err = errors.Join(err, b.close())
	}
	return err
}

// Read returns an object's content; ErrNotFound when it is missing.
func (b *Bucket) Read(ctx context.Context, key string) ([]byte, error) {
	k, err := b.key(key)
	if err != nil {
		return nil, err
	}
	data, err := b.b.ReadAll(ctx, k)
	if err != nil {
		return nil, b.fail("read", key, false, err)
	}
	return data, nil
}

// Write replaces an object as a whole: a reader sees the old content or the new, never a part
// (a local backend writes a temporary file beside it and renames it). The content type follows
// the extension: application/yaml for .yaml.
func (b *Bucket) Write(ctx context.Context, key string, data []byte) error {
	k, err := b.key(key)
	if err != nil {
		return err
	}
	if b.localDir != "" {
		// fileblob would recreate a missing root with all its parents (MkdirAll): into the
		// container's own file system when the volume is not mounted.
		if err := b.checkLocal(); err != nil {
			return err
		}
	}
	// Upload rather than WriteAll: WriteAll's streaming path in gocloud's azureblob
	// (v0.47.0) dereferences a nil pipe when the upload fails early, as it does for a
	// missing container; Upload hands the whole reader to the driver instead.
	err = b.b.Upload(ctx, k, bytes.NewReader(data), &gcblob.WriterOptions{ContentType: contentType(k)})
	if err != nil {
		return b.fail("write", key, true, err)
	}
	return nil
}

// Exists reports whether an object is there. On S3 a missing bucket also reads as a missing
// object (HEAD answers 404 without saying which); Check tells them apart.
func (b *Bucket) Exists(ctx context.Context, key string) (bool, error) {
	k, err := b.key(key)
	if err != nil {
		return false, err
	}
	if _, err := b.b.Attributes(ctx, k); err != nil {
		err = b.fail("stat", key, false, err)
		if errors.Is(err, ErrNotFound) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// Delete removes an object; a missing one is not an error.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	k, err := b.key(key)
	if err != nil {
		return err
	}
	if err := b.b.Delete(ctx, k); err != nil {
		if err = b.fail("delete", key, false, err); !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

// DeletePrefix deletes every object under prefix/ ("" is everything under the root) and returns
// how many it deleted, also when it stops at an error. Directory marker objects go too. On a
// local backend, the directories it emptied are removed as well (never the root).
func (b *Bucket) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	var keys []string
	err := b.list(ctx, prefix, "", func(o *gcblob.ListObject) { keys = append(keys, o.Key) })
	if err != nil {
		return 0, b.fail("list", prefix, true, err)
	}
	var n atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(deleteWorkers)
	for _, k := range keys {
		g.Go(func() error {
			if err := b.b.Delete(gctx, k); err != nil {
				if err = b.fail("delete", b.rel(k), false, err); !errors.Is(err, ErrNotFound) {
					return err
				}
				return nil
			}
			n.Add(1)
			b.pruneLocal(k)
			return nil
		})
	}
	err = g.Wait()
	return int(n.Load()), err
}

// pruneLocal removes the directories above a deleted file that it left empty, up to the root.
func (b *Bucket) pruneLocal(key string) {
	if b.localDir == "" {
		return
	}
	for dir := path.Dir(key); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if os.Remove(filepath.Join(b.localDir, filepath.FromSlash(dir))) != nil {
			return // not empty (or gone already)
		}
	}
}

// List returns every object under prefix/, recursively, in key order. Directory marker objects
// (keys ending in "/") are left out.
func (b *Bucket) List(ctx context.Context, prefix string) ([]Object, error) {
	var objs []Object
	err := b.list(ctx, prefix, "", func(o *gcblob.ListObject) {
		if strings.HasSuffix(o.Key, "/") {
			return
		}
		objs = append(objs, Object{Key: b.rel(o.Key), Size: o.Size, ModTime: o.ModTime})
	})
	if err != nil {
		return nil, b.fail("list", prefix, true, err)
	}
	return objs, nil
}

// Dirs returns the "subdirectories" immediately under prefix/, as keys relative to the root
// without a trailing slash: Dirs(ctx, "") might return ["app", "db"], Dirs(ctx, "app")
// ["app/repository", "app/snapshots"]. A local directory without files in it is not listed.
func (b *Bucket) Dirs(ctx context.Context, prefix string) ([]string, error) {
	var dirs []string
	err := b.list(ctx, prefix, "/", func(o *gcblob.ListObject) {
		if o.IsDir {
			dirs = append(dirs, strings.TrimSuffix(b.rel(o.Key), "/"))
		}
	})
	if err != nil {
		return nil, b.fail("list", prefix, true, err)
	}
	return dirs, nil
}

// Size is the sum of the sizes of the objects under prefix/.
func (b *Bucket) Size(ctx context.Context, prefix string) (int64, error) {
	var total int64
	err := b.list(ctx, prefix, "", func(o *gcblob.ListObject) { total += o.Size })
	if err != nil {
		return 0, b.fail("list", prefix, true, err)
	}
	return total, nil
}

// Check reports whether the bucket (or local directory) exists and can be listed with these
// credentials: nil, or an error wrapping ErrBucketNotFound, ErrAccessDenied or ErrUnreachable
// (or none of them when the failure fits no class).
func (b *Bucket) Check(ctx context.Context) error {
	if b.localDir != "" {
		return b.checkLocal()
	}
	_, _, err := b.b.ListPage(ctx, gcblob.FirstPageToken, 1, &gcblob.ListOptions{Prefix: b.dirPrefix("")})
	if err != nil {
		return b.fail("check", "", true, err)
	}
	return nil
}

func (b *Bucket) checkLocal() error {
	fi, err := os.Stat(b.localDir)
	if err != nil {
		return b.fail("check", "", true, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("blob: check %s: %w", b.name,
			&classified{kind: ErrBucketNotFound, err: fmt.Errorf("%s is not a directory", b.localDir)})
	}
	f, err := os.Open(b.localDir)
	if err == nil {
		_, err = f.Readdirnames(1)
		_ = f.Close()
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return b.fail("check", "", true, err)
	}
	return nil
}

// list calls fn for each object (and, with a delimiter, each "directory") under prefix/.
func (b *Bucket) list(ctx context.Context, prefix, delimiter string, fn func(*gcblob.ListObject)) error {
	it := b.b.List(&gcblob.ListOptions{Prefix: b.dirPrefix(prefix), Delimiter: delimiter})
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		fn(o)
	}
}

// key turns a caller's key into an object key below the root.
func (b *Bucket) key(key string) (string, error) {
	k := engine.CleanKey(key)
	if k == "" {
		return "", fmt.Errorf("blob: key %q names no object", key)
	}
	return joinKey(b.root, k), nil
}

// dirPrefix is the listing prefix for everything under prefix/: "" or "a/b/".
func (b *Bucket) dirPrefix(prefix string) string {
	p := joinKey(b.root, engine.CleanKey(prefix))
	if p == "" {
		return ""
	}
	return p + "/"
}

// rel turns an object key back into a key relative to the root.
func (b *Bucket) rel(key string) string {
	if b.root == "" {
		return key
	}
	return strings.TrimPrefix(key, b.root+"/")
}

func (b *Bucket) fail(op, key string, bucketScope bool, err error) error {
	what := op
	if key != "" {
		what += fmt.Sprintf(" %q", key)
	}
	return fmt.Errorf("blob: %s in %s: %w", what, b.name, classify(err, bucketScope))
}

func joinKey(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "/" + b
}

// contentType by extension, from a fixed table first: mime.TypeByExtension reads the host's
// mime.types, which differs between images, and knows no YAML in Go's own table.
func contentType(key string) string {
	switch ext := strings.ToLower(path.Ext(key)); ext {
	case ".yaml", ".yml":
		return "application/yaml"
	case ".json":
		return "application/json"
	case ".txt":
		return "text/plain; charset=utf-8"
	case "":
		return "application/octet-stream"
	default:
		if t := mime.TypeByExtension(ext); t != "" {
			return t
		}
		return "application/octet-stream"
	}
}
