package localcluster

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// PackageImage describes an image made of the files of Debian packages installed on this
// machine: what a database server or its client programs need, which, unlike Coffer, are not
// static binaries. Nothing is downloaded; the packages must be installed (hack/dbservers.sh).
type PackageImage struct {
	// Repository of the image, e.g. "coffer.dev/postgres"; the tag is dev-<digest prefix>.
	Repository string
	// Packages are installed Debian packages whose files (dpkg -L) go in, one layer each,
	// without documentation, manual pages, translations and lintian overrides.
	Packages []string
	// ExtraPaths are host paths to include as well, a directory with everything below it; e.g.
	// /bin/sh, or /usr/bin/java, which only update-alternatives knows about.
	ExtraPaths []string
	// Exclude are path.Match patterns of files left out of Packages and ExtraPaths; a pattern
	// that matches a directory leaves out everything below it.
	Exclude []string
	// Users are system users copied with their groups from the host's /etc/passwd and
	// /etc/group, next to root and nonroot (65532), so they keep the host's ids.
	Users []string
	// WithCoffer adds coffer and restic at /usr/local/bin exactly as Coffer's image has them,
	// and makes coffer the default entrypoint: the image then serves as an addon's Function,
	// whose Jobs run `coffer backup ...` with only args, next to the database's clients.
	WithCoffer bool
	// Entrypoint replaces the default (coffer with WithCoffer, none otherwise).
	Entrypoint []string
	// User the image runs as: a name in Users, or uid[:gid].
	User string
	// Env is "NAME=value" for the image's environment; a PATH replaces the default
	// /usr/local/bin:/usr/bin:/bin.
	Env []string
}

// docDirs hold files no program reads at run time.
var docDirs = []string{"/usr/share/doc", "/usr/share/man", "/usr/share/locale", "/usr/share/lintian", "/usr/share/info"}

// BuildPackageImage builds the image spec describes, imports it unless containerd has it
// already, and returns its reference, <repository>:dev-<digest prefix>.
//
// Layers, bottom up: the base every local image has; /etc/passwd and /etc/group with the
// users; one per package; the extra paths; what all of those need that no listed package has
// (the shared libraries every ELF file loads, with the dynamic loader, the jars a jar's
// manifest names, what symlinks point to); with WithCoffer, restic and coffer.
//
// Each layer is cached, compressed, under <images dir>/layers, keyed by its entries and their
// files' size, times and inode (coffer's by its content): a later build of an unchanged image
// lists the files again (about a second) and finds the image in containerd; a changed image
// rebuilds only the layers that changed, and containerd unpacks only from the first changed
// layer up, which is why the layers that change most (coffer) are on top.
func (c *Cluster) BuildPackageImage(ctx context.Context, spec PackageImage) (string, error) {
	log := logr.FromContextOrDiscard(ctx)
	began := time.Now()
	if spec.Repository == "" {
		return "", errors.New("PackageImage needs a Repository")
	}
	lock, err := lockImages(c.layout)
	if err != nil {
		return "", err
	}
	defer lock.unlock()

	plan, err := planPackageImage(ctx, spec)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", spec.Repository, err)
	}
	entrypoint := spec.Entrypoint
	if spec.WithCoffer {
		files, err := c.cofferFiles(ctx)
		if err != nil {
			return "", err
		}
		// One layer per file, as in Coffer's image, so restic's layer is stored once. go build
		// rewrites coffer even when nothing changed, so its content, not its mtime, is the key.
		for _, f := range files {
			plan = append(plan, &layerPlan{name: path.Base(f.path), hashContent: true, entries: map[string]tarEntry{
				f.path: {name: f.path, source: f.source, mode: f.mode},
			}})
		}
		if entrypoint == nil {
			entrypoint = []string{cofferEntrypoint}
		}
	}
	user, err := numericUser(spec.User)
	if err != nil {
		return "", err
	}
	planned := time.Since(began)

	cacheDir := filepath.Join(c.layout.imagesDir(), "layers")
	layers, rebuilt, err := buildLayers(ctx, cacheDir, plan)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", spec.Repository, err)
	}
	v1layers := make([]v1.Layer, len(layers))
	var compressed, uncompressed int64
	keys := make([]string, len(layers))
	for i, l := range layers {
		v1layers[i], keys[i] = l, l.key
		compressed += l.desc.Size
		uncompressed += l.desc.Uncompressed
	}
	img, err := assembleImage(v1layers, entrypoint, user, spec.Env)
	if err != nil {
		return "", err
	}
	ref, err := digestRef(spec.Repository, img)
	if err != nil {
		return "", err
	}
	if err := keepLayers(cacheDir, spec.Repository, keys); err != nil {
		return "", err
	}
	imported, err := imageImported(ctx, c.layout, ref)
	if err != nil {
		return "", err
	}
	if !imported {
		if err := writeAndImport(ctx, c.layout, ref, img); err != nil {
			return "", err
		}
	}
	log.Info("package image ready", "ref", ref, "layers", len(layers), "rebuiltLayers", rebuilt,
		"compressedMiB", mib(compressed), "uncompressedMiB", mib(uncompressed), "importedNow", !imported,
		"planning", planned.Round(10*time.Millisecond).String(), "took", time.Since(began).Round(10*time.Millisecond).String())
	return ref, nil
}

func mib(n int64) string { return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) }

// writeAndImport writes the image as a tarball, imports it and removes the tarball: the layer
// cache already holds its content, and containerd keeps its own copy.
func writeAndImport(ctx context.Context, l layout, ref string, img v1.Image) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(l.imagesDir(), ".image-*.tar")
	if err != nil {
		return err
	}
	f.Close()
	defer os.Remove(f.Name())
	if err := tarball.WriteToFile(f.Name(), tag, img); err != nil {
		return fmt.Errorf("writing image %s: %w", ref, err)
	}
	return importImage(ctx, l, f.Name())
}

// numericUser turns a user name into uid:gid from the host's /etc/passwd, which the image's
// /etc/passwd copies: the kubelet can verify runAsNonRoot only for a numeric user.
func numericUser(user string) (string, error) {
	if user == "" || strings.Trim(user, "0123456789:") == "" {
		return user, nil
	}
	name, group, _ := strings.Cut(user, ":")
	entries, err := readAccounts("/etc/passwd")
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		if e[0] == name {
			if group == "" {
				group = e[3]
			}
			return e[2] + ":" + group, nil
		}
	}
	return "", fmt.Errorf("user %s is not in the host's /etc/passwd", name)
}

// readAccounts splits /etc/passwd or /etc/group into fields, keeping the line as the last one.
func readAccounts(file string) ([][]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out [][]string
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Split(line, ":"); len(f) >= 4 && !strings.HasPrefix(line, "#") {
			out = append(out, append(f, line))
		}
	}
	return out, nil
}

// accountsLayer is /etc/passwd and /etc/group of the base layer plus the users' own lines and
// those of their groups.
func accountsLayer(users []string) (*layerPlan, error) {
	base := map[string]string{}
	for _, e := range baseEntries() {
		base[e.name] = e.data
	}
	passwd, err := readAccounts("/etc/passwd")
	if err != nil {
		return nil, err
	}
	groups, err := readAccounts("/etc/group")
	if err != nil {
		return nil, err
	}
	pw, gr := base["/etc/passwd"], base["/etc/group"]
	gids := map[string]bool{}
	for _, u := range users {
		i := slices.IndexFunc(passwd, func(e []string) bool { return e[0] == u })
		if i < 0 {
			return nil, fmt.Errorf("user %s is not in the host's /etc/passwd (is its package installed?)", u)
		}
		pw += passwd[i][len(passwd[i])-1] + "\n"
		gids[passwd[i][3]] = true
	}
	for _, g := range groups {
		if gids[g[2]] || slices.Contains(users, g[0]) {
			gr += g[len(g)-1] + "\n"
		}
	}
	return &layerPlan{name: "accounts", entries: map[string]tarEntry{
		"/etc/passwd": {name: "/etc/passwd", mode: 0o644, data: pw},
		"/etc/group":  {name: "/etc/group", mode: 0o644, data: gr},
	}}, nil
}

// layerPlan is one layer: its entries by path in the image.
type layerPlan struct {
	name    string
	entries map[string]tarEntry
	// hashContent keys the cached layer by its files' content rather than their metadata.
	hashContent bool
}

func (p *layerPlan) put(e tarEntry) { p.entries[e.name] = e }

// planPackageImage lists every layer's entries except Coffer's.
func planPackageImage(ctx context.Context, spec PackageImage) ([]*layerPlan, error) {
	base := &layerPlan{name: "base", entries: map[string]tarEntry{}}
	for _, e := range baseEntries() {
		base.put(e)
	}
	plan := []*layerPlan{base}
	if len(spec.Users) > 0 {
		accounts, err := accountsLayer(spec.Users)
		if err != nil {
			return nil, err
		}
		plan = append(plan, accounts)
	}
	c := &collector{
		exclude:  append(slices.Clone(docDirs), spec.Exclude...),
		deps:     &layerPlan{name: "dependencies", entries: map[string]tarEntry{}},
		present:  map[string]bool{},
		examined: map[string]bool{},
	}
	for _, pkg := range spec.Packages {
		files, err := dpkgFiles(ctx, pkg)
		if err != nil {
			return nil, err
		}
		l := &layerPlan{name: pkg, entries: map[string]tarEntry{}}
		for _, f := range files {
			if c.excluded(f) {
				continue
			}
			// Directories come with the files in them; a package's own empty ones are not needed.
			if err := c.add(l, f, false, true); err != nil {
				return nil, err
			}
		}
		plan = append(plan, l)
	}
	if len(spec.ExtraPaths) > 0 {
		l := &layerPlan{name: "extra", entries: map[string]tarEntry{}}
		for _, p := range spec.ExtraPaths {
			if _, err := os.Lstat(p); err != nil {
				return nil, fmt.Errorf("extra path: %w", err)
			}
			if err := c.add(l, p, true, false); err != nil {
				return nil, err
			}
		}
		plan = append(plan, l)
	}
	if err := c.closure(ctx); err != nil {
		return nil, err
	}
	if len(c.notFound) > 0 {
		logr.FromContextOrDiscard(ctx).V(1).Info("libraries ldd did not find (optional plugins, not needed unless loaded)", "image", spec.Repository, "missing", c.notFound)
	}
	plan = append(plan, c.deps)
	return slices.DeleteFunc(plan, func(l *layerPlan) bool { return len(l.entries) == 0 }), nil
}

// dpkgFiles lists what an installed package put on the machine, diversions left out.
func dpkgFiles(ctx context.Context, pkg string) ([]string, error) {
	out, err := exec.CommandContext(ctx, "dpkg-query", "--listfiles", pkg).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("Debian package %s is not installed (hack/dbservers.sh installs the database servers): %s", pkg, bytes.TrimSpace(ee.Stderr))
		}
		return nil, err
	}
	var files []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "/") && line != "/." {
			files = append(files, line)
		}
	}
	return files, nil
}

// collector places host files into layers under their canonical paths and finds what they need.
//
// Symlinks are kept as symlinks, both a file that is one and a directory on the way (the
// merged /usr's /lib -> usr/lib), so that every name the programs use resolves in the image as
// on the host, while each file is stored once under its real directory and no layer has a
// directory where another has a symlink.
//
// What files need comes from the files themselves rather than from the packages' Depends: an
// ELF file's libraries from ldd (the loader's own answer, with its search path and $ORIGIN), a
// jar's from the Class-Path of its manifest (which is how Debian's Java packages name the jars
// they load; zookeeper.jar lists two dozen), a symlink's from its target. Walking Depends
// instead pulls in far more than is loaded (zookeeper's reach default-jre with its X11
// libraries, junit and the whole of Jetty) and still misses what no package owns, like
// /etc/alternatives' links or the JVM's generated cacerts.
type collector struct {
	exclude []string
	// deps holds what is needed but in no listed package.
	deps *layerPlan
	// present are the files and symlinks in any layer, by path in the image.
	present map[string]bool
	// targets are what symlinks point to, placed once every listed file is.
	targets []string
	// examine are regular files whose needs are still to be found.
	examine  []string
	examined map[string]bool
	notFound []string
}

func (c *collector) excluded(p string) bool {
	for d := p; d != "/" && d != "."; d = path.Dir(d) {
		for _, pattern := range c.exclude {
			if ok, _ := path.Match(pattern, d); ok {
				return true
			}
		}
	}
	return false
}

// add puts the host path p into layer l under its canonical directory. A directory is walked
// when walk is set and otherwise only made to exist, unless skipDirs says a listed directory
// comes with its files. A path that does not exist is skipped: packages list files that
// path-exclude configurations keep off the disk, and symlinks may dangle.
func (c *collector) add(l *layerPlan, p string, walk, skipDirs bool) error {
	i := strings.LastIndexByte(p, '/')
	if i < 0 || i == len(p)-1 {
		return fmt.Errorf("%q is not an absolute path to a file", p)
	}
	dir, err := c.realDir(l, p[:i], 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	name := path.Join(dir, p[i+1:])
	if l == c.deps && c.present[name] {
		return nil
	}
	fi, err := os.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	st := fi.Sys().(*syscall.Stat_t)
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(name)
		if err != nil {
			return err
		}
		l.put(tarEntry{name: name, link: target, mode: 0o777, uid: int(st.Uid), gid: int(st.Gid)})
		c.present[name] = true
		if !strings.HasPrefix(target, "/") {
			// Not path.Join: ".." after a symlink goes where the kernel would take it.
			target = dir + "/" + target
		}
		c.targets = append(c.targets, target)
	case fi.IsDir():
		if skipDirs {
			return nil
		}
		if !walk {
			l.put(tarEntry{name: name, dir: true, mode: 0o755})
			return nil
		}
		children, err := os.ReadDir(name)
		if err != nil {
			return err
		}
		for _, ch := range children {
			child := path.Join(name, ch.Name())
			if c.excluded(child) {
				continue
			}
			if err := c.add(l, child, true, false); err != nil {
				return err
			}
		}
	case fi.Mode().IsRegular():
		l.put(tarEntry{name: name, source: name, mode: int64(st.Mode & 0o7777), uid: int(st.Uid), gid: int(st.Gid)})
		c.present[name] = true
		if !c.examined[name] {
			c.examined[name] = true
			c.examine = append(c.examine, name)
		}
	}
	// Sockets, fifos and devices are nothing a program takes from a package.
	return nil
}

// realDir resolves the symlinks among dir's components as the kernel would, puts each one it
// passes into l, and returns dir's canonical path.
func (c *collector) realDir(l *layerPlan, dir string, depth int) (string, error) {
	if depth > 40 {
		return "", fmt.Errorf("%s: too many levels of symbolic links", dir)
	}
	real := "/"
	for _, part := range strings.Split(dir, "/") {
		switch part {
		case "", ".":
			continue
		case "..":
			real = path.Dir(real)
			continue
		}
		next := path.Join(real, part)
		fi, err := os.Lstat(next)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if !fi.IsDir() {
				return "", fmt.Errorf("%s: %w", next, syscall.ENOTDIR)
			}
			real = next
			continue
		}
		target, err := os.Readlink(next)
		if err != nil {
			return "", err
		}
		st := fi.Sys().(*syscall.Stat_t)
		l.put(tarEntry{name: next, link: target, mode: 0o777, uid: int(st.Uid), gid: int(st.Gid)})
		c.present[next] = true
		if !strings.HasPrefix(target, "/") {
			target = real + "/" + target
		}
		if real, err = c.realDir(l, target, depth+1); err != nil {
			return "", err
		}
	}
	return real, nil
}

// closure adds, into the dependencies layer, what symlinks point to and what files load, and
// what those need in turn, until nothing new comes up.
func (c *collector) closure(ctx context.Context) error {
	for len(c.targets) > 0 || len(c.examine) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		for len(c.targets) > 0 {
			t := c.targets[0]
			c.targets = c.targets[1:]
			if c.excluded(t) {
				continue
			}
			// A symlink to a directory needs only the directory; its content is what the
			// packages put there.
			if err := c.add(c.deps, t, false, false); err != nil {
				return err
			}
		}
		files := c.examine
		c.examine = nil
		var elfs []string
		for _, f := range files {
			switch kind, err := fileKind(f); {
			case err != nil:
				return err
			case kind == "elf":
				elfs = append(elfs, f)
			case kind == "jar":
				cp, err := jarClassPath(f)
				if err != nil {
					return err
				}
				for _, p := range cp {
					if err := c.add(c.deps, p, false, false); err != nil {
						return err
					}
				}
			}
		}
		libs, notFound, err := ldd(ctx, elfs)
		if err != nil {
			return err
		}
		for _, nf := range notFound {
			if !slices.Contains(c.notFound, nf) {
				c.notFound = append(c.notFound, nf)
			}
		}
		for _, lib := range libs {
			if err := c.add(c.deps, lib, false, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// fileKind says whether a file is an ELF object or a jar, from its first bytes.
func fileKind(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return "", nil // shorter than any ELF file or jar
	}
	switch {
	case string(magic[:]) == "\x7fELF":
		return "elf", nil
	case string(magic[:]) == "PK\x03\x04" && strings.HasSuffix(file, ".jar"):
		return "jar", nil
	}
	return "", nil
}

// ldd lists the shared libraries the files load, and the dynamic loader, as absolute paths the
// way the loader found them (often through a symlink such as libz.so.1 -> libz.so.1.2.13). It
// also returns the libraries it could not find: plugins of optional features (the JVM's AWT)
// link to libraries not installed, and are never loaded unless used.
func ldd(ctx context.Context, files []string) (libs, notFound []string, err error) {
	seen := map[string]bool{}
	for start := 0; start < len(files); start += 200 {
		batch := files[start:min(start+200, len(files))]
		cmd := exec.CommandContext(ctx, "ldd", batch...)
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		// ldd fails when one file of the batch is not dynamic (a static binary, a data file
		// that looks like ELF); the others are still listed.
		runErr := cmd.Run()
		if runErr != nil && stdout.Len() == 0 {
			if len(batch) == 1 {
				continue
			}
			return nil, nil, fmt.Errorf("ldd: %w", runErr)
		}
		file := batch[0]
		s := bufio.NewScanner(&stdout)
		for s.Scan() {
			line := s.Text()
			if !strings.HasPrefix(line, "\t") {
				file = strings.TrimSuffix(line, ":")
				continue
			}
			line = strings.TrimSpace(line)
			var lib string
			if soname, where, ok := strings.Cut(line, " => "); ok {
				if strings.HasPrefix(where, "not found") {
					notFound = append(notFound, soname+" (for "+file+")")
					continue
				}
				lib, _, _ = strings.Cut(where, " (0x")
			} else if strings.HasPrefix(line, "/") {
				lib, _, _ = strings.Cut(line, " (0x") // the loader
			}
			if strings.HasPrefix(lib, "/") && !seen[lib] {
				seen[lib] = true
				libs = append(libs, lib)
			}
		}
	}
	return libs, notFound, nil
}

// jarClassPath is the Class-Path of the jar's manifest: the jars the JVM loads with it.
// Entries are URLs relative to the jar; only local files are followed.
func jarClassPath(jar string) ([]string, error) {
	zr, err := zip.OpenReader(jar)
	if err != nil {
		return nil, nil // not a zip after all: nothing to follow
	}
	defer zr.Close()
	var manifest []byte
	for _, f := range zr.File {
		if strings.EqualFold(f.Name, "META-INF/MANIFEST.MF") {
			r, err := f.Open()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", jar, err)
			}
			manifest, err = io.ReadAll(io.LimitReader(r, 1<<20))
			r.Close()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", jar, err)
			}
			break
		}
	}
	// A manifest's long values go on in lines that begin with one space.
	text := strings.ReplaceAll(strings.ReplaceAll(string(manifest), "\r\n", "\n"), "\n ", "")
	var out []string
	for _, line := range strings.Split(text, "\n") {
		key, value, ok := strings.Cut(line, ":")
		if !ok || !strings.EqualFold(key, "Class-Path") {
			continue
		}
		for _, entry := range strings.Fields(value) {
			entry = strings.TrimPrefix(entry, "file:")
			if strings.Contains(entry, ":") || strings.HasSuffix(entry, "/") {
				continue // a remote URL, or a directory whose needed files no one can tell
			}
			if !strings.HasPrefix(entry, "/") {
				entry = path.Join(path.Dir(jar), entry)
			}
			out = append(out, entry)
		}
	}
	return out, nil
}

// cachedLayer is a compressed layer in the cache, with the digests computed when it was
// written, so that neither building an image nor writing its tarball reads it twice.
type cachedLayer struct {
	key  string
	path string
	desc layerDesc
}

type layerDesc struct {
	Digest       v1.Hash `json:"digest"`
	DiffID       v1.Hash `json:"diffID"`
	Size         int64   `json:"size"`
	Uncompressed int64   `json:"uncompressed"`
}

var _ v1.Layer = (*cachedLayer)(nil)

func (l *cachedLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *cachedLayer) DiffID() (v1.Hash, error)            { return l.desc.DiffID, nil }
func (l *cachedLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *cachedLayer) MediaType() (types.MediaType, error) { return types.DockerLayer, nil }
func (l *cachedLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.path) }

func (l *cachedLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{zr, f}, nil
}

// layerFormat changes when the way layers are written changes, so that old cache entries are
// not taken for new ones.
const layerFormat = "coffer-localcluster package layer 1"

// buildLayers writes the layers that are not cached, one per CPU at a time (gzip is the slow
// part), and returns all of them in order with the number written.
func buildLayers(ctx context.Context, dir string, plan []*layerPlan) ([]*cachedLayer, int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, 0, err
	}
	out := make([]*cachedLayer, len(plan))
	errs := make([]error, len(plan))
	built := make([]bool, len(plan))
	sem := make(chan struct{}, max(2, runtime.NumCPU()))
	var wg sync.WaitGroup
	for i, p := range plan {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := ctx.Err(); err != nil {
				errs[i] = err
				return
			}
			out[i], built[i], errs[i] = cachedOrBuild(dir, p)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("layer %s: %w", p.name, errs[i])
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, 0, err
	}
	n := 0
	for _, b := range built {
		if b {
			n++
		}
	}
	return out, n, nil
}

// cachedOrBuild returns the cached layer of p's entries, writing it first if there is none.
func cachedOrBuild(dir string, p *layerPlan) (*cachedLayer, bool, error) {
	entries := layerEntries(p)
	key, err := layerKey(entries, p.hashContent)
	if err != nil {
		return nil, false, err
	}
	l := &cachedLayer{key: key, path: filepath.Join(dir, key+".tar.gz")}
	if data, err := os.ReadFile(filepath.Join(dir, key+".json")); err == nil && json.Unmarshal(data, &l.desc) == nil {
		if st, err := os.Stat(l.path); err == nil && st.Size() == l.desc.Size {
			return l, false, nil
		}
	}
	if l.desc, err = writeLayer(l.path, entries); err != nil {
		return nil, false, err
	}
	data, err := json.Marshal(l.desc)
	if err != nil {
		return nil, false, err
	}
	// The description is written last: a layer without one is rebuilt.
	return l, true, writeFileAtomic(filepath.Join(dir, key+".json"), data)
}

// layerEntries are the plan's entries in the order the tar has them, each directory before
// what is in it and every name once.
func layerEntries(p *layerPlan) []tarEntry {
	entries := make([]tarEntry, 0, len(p.entries))
	for _, e := range p.entries {
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b tarEntry) int { return strings.Compare(a.name, b.name) })
	seen := map[string]bool{}
	return slices.DeleteFunc(withParents(entries), func(e tarEntry) bool {
		dup := seen[e.name]
		seen[e.name] = true
		return dup
	})
}

// layerKey identifies a layer by its entries and, for files, what says whether their content
// changed without reading it: size, modification and change times, inode; or, with
// hashContent, the content itself.
func layerKey(entries []tarEntry, hashContent bool) (string, error) {
	h := sha256.New()
	fmt.Fprintln(h, layerFormat)
	for _, e := range entries {
		fmt.Fprintf(h, "%q %t %q %o %d %d %x", e.name, e.dir, e.link, e.mode, e.uid, e.gid, sha256.Sum256([]byte(e.data)))
		if e.source != "" && hashContent {
			sum, err := fileSHA256(e.source)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, " %x", sum)
		} else if e.source != "" {
			var st syscall.Stat_t
			if err := syscall.Stat(e.source, &st); err != nil {
				return "", err
			}
			fmt.Fprintf(h, " %q %d %d.%d %d.%d %d %d", e.source, st.Size, st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec, st.Ino, st.Dev)
		}
		fmt.Fprintln(h)
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

// writeLayer writes the entries as a gzipped tar to file, computing the layer's digest (of the
// compressed bytes) and diff ID (of the tar) as it goes.
func writeLayer(file string, entries []tarEntry) (layerDesc, error) {
	f, err := os.CreateTemp(filepath.Dir(file), ".layer-*.tar.gz")
	if err != nil {
		return layerDesc{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	digest, diffID := sha256.New(), sha256.New()
	compressed := &countingWriter{w: io.MultiWriter(f, digest)}
	gz, err := gzip.NewWriterLevel(compressed, gzip.BestSpeed)
	if err != nil {
		return layerDesc{}, err
	}
	uncompressed := &countingWriter{w: io.MultiWriter(gz, diffID)}
	if err := writeTar(uncompressed, entries); err != nil {
		return layerDesc{}, err
	}
	if err := gz.Close(); err != nil {
		return layerDesc{}, err
	}
	if err := f.Close(); err != nil {
		return layerDesc{}, err
	}
	if err := os.Rename(f.Name(), file); err != nil {
		return layerDesc{}, err
	}
	return layerDesc{Digest: sha256Hash(digest), DiffID: sha256Hash(diffID), Size: compressed.n, Uncompressed: uncompressed.n}, nil
}

func fileSHA256(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

func sha256Hash(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func writeFileAtomic(file string, data []byte) error {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// keepLayers records the layers the repository's newest image uses and removes cached layers
// no repository's newest image uses, so that the cache holds about one copy of each image.
// The caller holds the images lock.
func keepLayers(dir, repository string, keys []string) error {
	index := filepath.Join(dir, strings.NewReplacer("/", "_", ":", "_").Replace(repository)+".index")
	if err := writeFileAtomic(index, []byte(strings.Join(keys, "\n")+"\n")); err != nil {
		return err
	}
	indexes, err := filepath.Glob(filepath.Join(dir, "*.index"))
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, ix := range indexes {
		data, err := os.ReadFile(ix)
		if err != nil {
			return err
		}
		for _, k := range strings.Fields(string(data)) {
			keep[k] = true
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		n := e.Name()
		key, ok := strings.CutSuffix(n, ".tar.gz")
		if !ok {
			key, ok = strings.CutSuffix(n, ".json")
		}
		if ok && !strings.HasPrefix(n, ".") && !keep[key] {
			if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}
