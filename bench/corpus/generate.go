package corpus

import (
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Manifest describes a generated corpus.
type Manifest struct {
	Version int `json:"version"`
	// Spec is the spec the corpus was generated from, with defaults applied.
	Spec              Spec  `json:"spec"`
	Files             int   `json:"files"`
	Dirs              int   `json:"dirs"` // not counting the root
	Bytes             int64 `json:"bytes"`
	CompressibleBytes int64 `json:"compressibleBytes"`
	RandomBytes       int64 `json:"randomBytes"`
	SmallFiles        int   `json:"smallFiles"` // including EmptyFiles
	MediumFiles       int   `json:"mediumFiles"`
	LargeFiles        int   `json:"largeFiles"`
	EmptyFiles        int   `json:"emptyFiles"`
	// Hash is HashTree of the generated directory, computed while writing.
	Hash string `json:"hash"`
}

// Generate writes the corpus described by spec into dir, which must be absent or empty, and
// returns its manifest. Directories get mode 0755 and files their kind's mode (0644, 0755 for
// scripts, 0600 for keys) whatever the umask; modification times are fixed points in 2024.
// Files are written in parallel, one per core.
func Generate(dir string, spec Spec) (Manifest, error) {
	spec, err := spec.withDefaults()
	if err != nil {
		return Manifest{}, fmt.Errorf("corpus spec: %w", err)
	}
	if err := emptyDir(dir); err != nil {
		return Manifest{}, err
	}
	p := makePlan(spec)

	entries := make([]entry, 0, len(p.dirs)+len(p.files))
	for _, d := range p.dirs {
		abs := filepath.Join(dir, filepath.FromSlash(d))
		if err := os.Mkdir(abs, 0o755); err != nil {
			return Manifest{}, err
		}
		if err := os.Chmod(abs, 0o755); err != nil {
			return Manifest{}, err
		}
		entries = append(entries, entry{path: d, mode: modeString(fs.ModeDir | 0o755)})
	}

	// Largest first, so that the last file a worker picks up is a small one.
	order := make([]int, len(p.files))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Compare(p.files[b].size, p.files[a].size)
	})
	sums := make([]string, len(p.files))
	err = parallel(len(order), func(j int, buf []byte) error {
		i := order[j]
		sum, err := writeFile(dir, spec.Seed, "file", p.files[i], buf)
		sums[i] = sum
		return err
	})
	if err != nil {
		return Manifest{}, err
	}

	m := Manifest{Version: Version, Spec: spec, Files: len(p.files), Dirs: len(p.dirs)}
	for i, f := range p.files {
		entries = append(entries, entry{path: f.path, mode: modeString(f.kind.mode), sum: sums[i]})
		m.Bytes += f.size
		if f.kind.text {
			m.CompressibleBytes += f.size
		} else {
			m.RandomBytes += f.size
		}
		switch {
		case f.class == classLarge:
			m.LargeFiles++
		case f.class == classMedium:
			m.MediumFiles++
		default:
			m.SmallFiles++
			if f.size == 0 {
				m.EmptyFiles++
			}
		}
	}
	m.Hash = hashEntries(entries)
	return m, nil
}

// emptyDir creates dir if it is absent and fails unless it is an empty directory.
func emptyDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if len(names) > 0 {
		return fmt.Errorf("corpus directory %s is not empty", dir)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// content is the endless byte stream of a file; the file is its first size bytes.
func content(seed int64, domain string, index uint64, k kind) io.Reader {
	if k.text {
		return newTextStream(k.format, newRNG(seed, domain, index))
	}
	return newBytes(seed, domain, index)
}

// writeFile creates f under root with the content stream (seed, domain, f.index) and returns
// the hex SHA-256 of its content.
func writeFile(root string, seed int64, domain string, f plannedFile, buf []byte) (string, error) {
	abs := filepath.Join(root, filepath.FromSlash(f.path))
	out, err := os.OpenFile(abs, os.O_WRONLY|os.O_CREATE|os.O_EXCL, f.kind.mode)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	w := io.MultiWriter(out, h)
	src := content(seed, domain, f.index, f.kind)
	for rem := f.size; rem > 0; {
		n := int(min(rem, int64(len(buf))))
		if _, err := io.ReadFull(src, buf[:n]); err != nil {
			out.Close()
			return "", err
		}
		if _, err := w.Write(buf[:n]); err != nil {
			out.Close()
			return "", err
		}
		rem -= int64(n)
	}
	if err := out.Chmod(f.kind.mode); err != nil {
		out.Close()
		return "", err
	}
	if err := out.Close(); err != nil {
		return "", err
	}
	mt := time.Unix(f.mtime, 0)
	if err := os.Chtimes(abs, mt, mt); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

// parallel runs fn(0..n-1) on one worker per core, each with its own 1 MiB buffer, and returns
// the first error; after an error no new call starts.
func parallel(n int, fn func(i int, buf []byte) error) error {
	var (
		mu   sync.Mutex
		next int
		errs []error
		wg   sync.WaitGroup
	)
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next >= n || len(errs) > 0 {
			return 0, false
		}
		next++
		return next - 1, true
	}
	for range min(n, runtime.GOMAXPROCS(0)) {
		wg.Go(func() {
			buf := make([]byte, 1*MiB)
			for i, ok := take(); ok; i, ok = take() {
				if err := fn(i, buf); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
