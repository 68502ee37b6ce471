package localcluster

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"
)

// Images are built without Docker: static Go binaries packed with go-containerregistry as image
// tarballs (the `docker save` format) and imported into the cluster's containerd with ctr. Pods
// must use imagePullPolicy IfNotPresent or Never, since no registry serves them.

// CofferRepository is the repository of Coffer's image in the local cluster. Its tag is derived
// from the image's digest, so a changed binary gives a new tag and a re-deploy rolls the
// Deployment (and nothing ever uses :latest, which would make the kubelet pull).
const CofferRepository = "coffer.dev/coffer"

// nonroot is the user every image runs as, the one distroless' static:nonroot has (the Dockerfile's
// base image), so the manifests' runAsNonRoot holds in both.
const nonroot = "65532"

// imageFile is one file of an image, copied from the host.
type imageFile struct {
	path   string // absolute path in the image
	source string // path on the host
	mode   int64
}

// imageSpec describes an image: a base layer (/etc/passwd, /etc/group, a writable /tmp, the
// host's CA bundle) and one layer per file, so that an unchanged file (restic) is stored once
// however often the image is rebuilt.
type imageSpec struct {
	ref        string // full reference; empty: repository + ":dev-" + digest prefix
	repository string
	files      []imageFile
	entrypoint []string
	user       string
}

// epoch is the time of every file in every layer, so equal content gives equal digests.
var epoch = time.Unix(0, 0)

// writeImage builds the image into a tarball in dir and returns its reference and path.
func writeImage(spec imageSpec, dir string) (string, string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	base, err := layerFromEntries(dir, baseEntries())
	if err != nil {
		return "", "", err
	}
	layers := []v1.Layer{base}
	for _, f := range spec.files {
		l, err := layerFromEntries(dir, withParents([]tarEntry{{name: f.path, source: f.source, mode: f.mode}}))
		if err != nil {
			return "", "", err
		}
		layers = append(layers, l)
	}
	img, err := assembleImage(layers, spec.entrypoint, spec.user, nil)
	if err != nil {
		return "", "", err
	}
	ref := spec.ref
	if ref == "" {
		if ref, err = digestRef(spec.repository, img); err != nil {
			return "", "", err
		}
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return "", "", err
	}
	out := filepath.Join(dir, strings.NewReplacer("/", "_", ":", "_").Replace(spec.repository)+".tar")
	if err := tarball.WriteToFile(out, tag, img); err != nil {
		return "", "", fmt.Errorf("writing image %s: %w", ref, err)
	}
	return ref, out, nil
}

// assembleImage stacks the layers on an empty image with the config every local image has.
// env adds to, or replaces, the default PATH.
func assembleImage(layers []v1.Layer, entrypoint []string, user string, env []string) (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	// Without OS and architecture `ctr images import` skips the image as not for this platform.
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	cfg.Config.Entrypoint = entrypoint
	cfg.Config.User = user
	cfg.Config.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	for _, e := range env {
		if strings.HasPrefix(e, "PATH=") {
			cfg.Config.Env[0] = e
		} else {
			cfg.Config.Env = append(cfg.Config.Env, e)
		}
	}
	cfg.Config.WorkingDir = "/"
	return mutate.ConfigFile(img, cfg)
}

// digestRef is the image's reference in the repository, tagged with a prefix of its digest.
func digestRef(repository string, img v1.Image) (string, error) {
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return repository + ":dev-" + d.Hex[:12], nil
}

type tarEntry struct {
	name   string // absolute path in the image
	dir    bool
	link   string // a symlink's target, as the host's symlink has it
	data   string
	source string
	mode   int64
	uid    int
	gid    int
}

func baseEntries() []tarEntry {
	entries := []tarEntry{
		{name: "/etc", dir: true, mode: 0o755},
		{name: "/etc/passwd", mode: 0o644, data: "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"},
		{name: "/etc/group", mode: 0o644, data: "root:x:0:\nnonroot:x:65532:\n"},
		{name: "/home", dir: true, mode: 0o755},
		{name: "/home/nonroot", dir: true, mode: 0o700, uid: 65532, gid: 65532},
		{name: "/tmp", dir: true, mode: 0o1777},
	}
	// The image talks TLS to object stores as the Dockerfile's distroless base does.
	if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		entries = append(entries, withParents([]tarEntry{{name: "/etc/ssl/certs/ca-certificates.crt", source: "/etc/ssl/certs/ca-certificates.crt", mode: 0o644}})...)
	}
	return entries
}

// withParents prepends directory entries for every parent of the entries.
func withParents(entries []tarEntry) []tarEntry {
	var out []tarEntry
	seen := map[string]bool{}
	for _, e := range entries {
		var parents []string
		for d := path.Dir(e.name); d != "/"; d = path.Dir(d) {
			parents = append(parents, d)
		}
		for _, d := range slices.Backward(parents) {
			if !seen[d] {
				seen[d] = true
				out = append(out, tarEntry{name: d, dir: true, mode: 0o755})
			}
		}
		out = append(out, e)
	}
	return out
}

// layerFromEntries writes the entries as an uncompressed tar in dir and makes a layer of it; the
// layer is compressed (fast level) when the image is written.
func layerFromEntries(dir string, entries []tarEntry) (v1.Layer, error) {
	f, err := os.CreateTemp(dir, ".layer-*.tar")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := writeTar(f, entries); err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	layerPath := f.Name()
	// Read the file into the layer once; it is removed when the image has been written.
	return tarball.LayerFromFile(layerPath, tarball.WithCompressionLevel(gzip.BestSpeed))
}

// writeTar writes the entries as a tar stream: every time the epoch, so equal content gives
// equal bytes.
func writeTar(w io.Writer, entries []tarEntry) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		if err := writeTarEntry(tw, e); err != nil {
			return err
		}
	}
	return tw.Close()
}

// writeTarEntry closes the file it copies before returning: an image may have thousands.
func writeTarEntry(tw *tar.Writer, e tarEntry) error {
	hdr := &tar.Header{
		Name:    strings.TrimPrefix(e.name, "/"),
		Mode:    e.mode,
		ModTime: epoch,
		Uid:     e.uid,
		Gid:     e.gid,
		Format:  tar.FormatPAX,
	}
	var body io.Reader
	switch {
	case e.dir:
		hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
	case e.link != "":
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.link
	case e.source != "":
		src, err := os.Open(e.source)
		if err != nil {
			return err
		}
		defer src.Close()
		st, err := src.Stat()
		if err != nil {
			return err
		}
		// A file that grows while it is copied would make the entry longer than its header.
		hdr.Typeflag, hdr.Size, body = tar.TypeReg, st.Size(), io.LimitReader(src, st.Size())
	default:
		hdr.Typeflag, hdr.Size, body = tar.TypeReg, int64(len(e.data)), strings.NewReader(e.data)
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if body != nil {
		if _, err := io.Copy(tw, body); err != nil {
			return fmt.Errorf("copying %s into the image: %w", e.source, err)
		}
	}
	return nil
}

// importImage loads an image tarball into containerd's k8s.io namespace, where the kubelet looks.
func importImage(ctx context.Context, l layout, tarPath string) error {
	cmd := exec.CommandContext(ctx, "ctr", "--address", l.containerdSocket(), "--namespace", "k8s.io", "images", "import", tarPath)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ctr images import %s: %w\n%s", tarPath, err, out)
	}
	return nil
}

// imageImported says whether containerd's k8s.io namespace has the image already. Tags follow
// the content, so an image of that name is the same image and need not be imported again.
func imageImported(ctx context.Context, l layout, ref string) (bool, error) {
	cmd := exec.CommandContext(ctx, "ctr", "--address", l.containerdSocket(), "--namespace", "k8s.io", "images", "ls", "--quiet", "name=="+ref)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return false, fmt.Errorf("ctr images ls: %w\n%s", err, out)
	}
	return slices.Contains(strings.Fields(string(out)), ref), nil
}

// cleanLayerFiles removes the temporary layer tars in dir.
func cleanLayerFiles(dir string) {
	matches, _ := filepath.Glob(filepath.Join(dir, ".layer-*.tar"))
	for _, m := range matches {
		os.Remove(m)
	}
}

// lockImages serializes image builds: they share binaries, tarballs and temporary layers in the
// images directory, and two test packages may build at once.
func lockImages(l layout) (*fileLock, error) {
	return lockFile(filepath.Join(l.imagesDir(), ".lock"), unix.LOCK_EX)
}

// buildAndImport builds an image from spec into the work directory and imports it.
func buildAndImport(ctx context.Context, l layout, spec imageSpec) (string, error) {
	defer cleanLayerFiles(l.imagesDir())
	ref, tarPath, err := writeImage(spec, l.imagesDir())
	if err != nil {
		return "", err
	}
	if err := importImage(ctx, l, tarPath); err != nil {
		return "", err
	}
	return ref, nil
}

// importPause builds the pause program and imports it as the sandbox image.
func importPause(ctx context.Context, l layout, repoRoot string) error {
	lock, err := lockImages(l)
	if err != nil {
		return err
	}
	defer lock.unlock()
	bin := filepath.Join(l.imagesDir(), "pause")
	if err := goBuild(ctx, repoRoot, "./test/localcluster/internal/pause", bin, "-s -w"); err != nil {
		return err
	}
	_, err = buildAndImport(ctx, l, imageSpec{
		ref:        PauseImage,
		repository: "registry.k8s.io/pause",
		files:      []imageFile{{path: "/pause", source: bin, mode: 0o755}},
		entrypoint: []string{"/pause"},
		user:       nonroot,
	})
	return err
}

// BuildCofferImage builds Coffer's image as the Dockerfile describes it (/usr/local/bin/coffer as
// the entrypoint, leaving /coffer free for the executor's volume mounts, and the pinned restic at
// /usr/local/bin/restic, running as 65532), imports it into the cluster and returns its
// reference, coffer.dev/coffer:dev-<digest prefix>.
func (c *Cluster) BuildCofferImage(ctx context.Context) (string, error) {
	lock, err := lockImages(c.layout)
	if err != nil {
		return "", err
	}
	defer lock.unlock()
	files, err := c.cofferFiles(ctx)
	if err != nil {
		return "", err
	}
	return buildAndImport(ctx, c.layout, imageSpec{
		repository: CofferRepository,
		files:      files,
		entrypoint: []string{cofferEntrypoint},
		user:       nonroot + ":" + nonroot,
	})
}

// cofferEntrypoint is where Coffer's binary is in its image, and in every image that has it.
const cofferEntrypoint = "/usr/local/bin/coffer"

// cofferFiles builds coffer and finds the pinned restic: the files of Coffer's image, in the
// order of its layers. The caller holds the images lock (the binary is built in its directory).
func (c *Cluster) cofferFiles(ctx context.Context) ([]imageFile, error) {
	coffer := filepath.Join(c.layout.imagesDir(), "coffer")
	if err := goBuild(ctx, c.repoRoot, "./cmd/coffer", coffer, "-s -w -X main.version=dev"); err != nil {
		return nil, err
	}
	restic, err := runScript(ctx, c.repoRoot, "tools.sh", "restic")
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(restic); err == nil && st.IsDir() {
		restic = filepath.Join(restic, "restic")
	}
	return []imageFile{
		{path: "/usr/local/bin/restic", source: restic, mode: 0o755},
		{path: cofferEntrypoint, source: coffer, mode: 0o755},
	}, nil
}

// BuildGoImage builds a main package of this repository (e.g. "./test/foo/cmd/probe") as a static
// binary, packs it as /<name> (the entrypoint) running as 65532 in an image of the given
// repository, imports it and returns its reference (tagged dev-<digest prefix>).
func (c *Cluster) BuildGoImage(ctx context.Context, pkg, repository string) (string, error) {
	lock, err := lockImages(c.layout)
	if err != nil {
		return "", err
	}
	defer lock.unlock()
	base := path.Base(pkg)
	bin := filepath.Join(c.layout.imagesDir(), base)
	if err := goBuild(ctx, c.repoRoot, pkg, bin, "-s -w"); err != nil {
		return "", err
	}
	return buildAndImport(ctx, c.layout, imageSpec{
		repository: repository,
		files:      []imageFile{{path: "/" + base, source: bin, mode: 0o755}},
		entrypoint: []string{"/" + base},
		user:       nonroot + ":" + nonroot,
	})
}
