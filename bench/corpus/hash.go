package corpus

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// entry is one line of a tree hash.
type entry struct {
	path string // relative, slash-separated
	mode string // see modeString
	sum  string // hex SHA-256 of a file's content or a symlink's target; empty otherwise
}

// hashEntries is the tree hash: SHA-256 over the entries sorted by path, each as
// path NUL mode NUL sum LF.
func hashEntries(es []entry) string {
	slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.path, b.path) })
	h := sha256.New()
	for _, e := range es {
		io.WriteString(h, e.path)
		h.Write([]byte{0})
		io.WriteString(h, e.mode)
		h.Write([]byte{0})
		io.WriteString(h, e.sum)
		h.Write([]byte{'\n'})
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// modeString is a type letter (f, d, l, p, s, c, b) and, except for symlinks, whose permissions
// differ between systems, the four-digit octal permissions including setuid, setgid and sticky.
func modeString(m fs.FileMode) string {
	var t string
	switch {
	case m.IsRegular():
		t = "f"
	case m.IsDir():
		t = "d"
	case m&fs.ModeSymlink != 0:
		return "l"
	case m&fs.ModeNamedPipe != 0:
		t = "p"
	case m&fs.ModeSocket != 0:
		t = "s"
	case m&fs.ModeCharDevice != 0:
		t = "c"
	case m&fs.ModeDevice != 0:
		t = "b"
	default:
		t = "?"
	}
	perm := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		perm |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		perm |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		perm |= 0o1000
	}
	return fmt.Sprintf("%s%04o", t, perm)
}

// HashTree returns a hex SHA-256 that identifies the tree under dir by its relative paths, the
// type and permission bits of every entry, the content of regular files and the targets of
// symbolic links. Owners, times and the root directory's own mode are not part of it, so a tree
// restored by restic, kopia or Coffer hashes the same as its source exactly when the restore is
// bit-exact. Generate returns the same value in Manifest.Hash.
//
// Precisely: SHA-256 over the lines "path NUL mode NUL sum LF", sorted by path, where path is
// slash-separated and relative to dir, mode is a type letter and octal permissions ("f0644",
// "d0755", "l" for symlinks), and sum is the hex SHA-256 of a file's content or of a symlink's
// target (empty for other types). Files are read in parallel, one per core.
func HashTree(dir string) (string, error) {
	var (
		entries []entry
		files   []int // indexes into entries of regular files
	)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			if !d.IsDir() {
				return fmt.Errorf("%s is not a directory", dir)
			}
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := entry{path: filepath.ToSlash(rel), mode: modeString(info.Mode())}
		switch {
		case info.Mode().IsRegular():
			files = append(files, len(entries))
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			e.sum = fmt.Sprintf("%x", sha256.Sum256([]byte(target)))
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return "", err
	}
	err = parallel(len(files), func(i int, buf []byte) error {
		e := &entries[files[i]]
		f, err := os.Open(filepath.Join(dir, filepath.FromSlash(e.path)))
		if err != nil {
			return err
		}
		defer f.Close()
		e.sum, err = hashCopy(f, buf)
		return err
	})
	if err != nil {
		return "", err
	}
	return hashEntries(entries), nil
}

// HashReader returns the hex SHA-256 of everything r yields, for streams such as dumps.
func HashReader(r io.Reader) (string, error) {
	return hashCopy(r, make([]byte, 1*MiB))
}

func hashCopy(r io.Reader, buf []byte) (string, error) {
	h := sha256.New()
	if _, err := io.CopyBuffer(h, r, buf); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}
