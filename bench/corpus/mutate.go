package corpus

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Op is what Mutate did to a file.
type Op string

const (
	// OpModify: a text file got lines appended; a random file of 256 KiB or more got one to four
	// regions of 4-16 KiB overwritten in its middle half, in place; a smaller random file was
	// rewritten with new content and a new size.
	OpModify Op = "modify"
	// OpAdd: a new file in an existing directory, sized like a small (80%) or medium file.
	OpAdd Op = "add"
	// OpDelete: a file was removed. Large files are never deleted.
	OpDelete Op = "delete"
)

// Change is one changed file.
type Change struct {
	Path  string `json:"path"` // relative, slash-separated
	Op    Op     `json:"op"`
	Bytes int64  `json:"bytes"` // written (modify, add) or removed (delete)
}

// MutationReport says what Mutate changed.
type MutationReport struct {
	Fraction      float64  `json:"fraction"`
	FilesBefore   int      `json:"filesBefore"`
	FilesAfter    int      `json:"filesAfter"`
	Modified      int      `json:"modified"`
	Added         int      `json:"added"`
	Deleted       int      `json:"deleted"`
	ChangedFiles  int      `json:"changedFiles"` // Modified + Added + Deleted
	ModifiedBytes int64    `json:"modifiedBytes"`
	AddedBytes    int64    `json:"addedBytes"`
	DeletedBytes  int64    `json:"deletedBytes"`
	ChangedBytes  int64    `json:"changedBytes"` // ModifiedBytes + AddedBytes + DeletedBytes
	Changes       []Change `json:"changes"`      // sorted by path
}

// Mutate applies a realistic incremental change set to the tree in dir: round(fraction × files)
// files change (at least one if fraction > 0), of which 50% are modified, 30% added and 20%
// deleted (small counts favour modifications). At least fraction of the large files, and at
// least one if there are any, are among the modified ones, because an in-place change to a big
// file is what separates a chunker that re-reads and re-uploads everything from one that does
// not.
//
// spec is the one the tree was generated with: it supplies the seed, the large-file size and
// the share of text among added files. The choices are drawn from a stream keyed by
// spec.Seed, fraction and the tree's current paths and sizes, so Mutate is deterministic, and
// calling it again on its own output makes a new, different change set: a chain of incremental
// backups. Changed and added files get a modification time one day after the newest one in the
// tree, so tools that detect changes by size and mtime see every modification.
func Mutate(dir string, spec Spec, fraction float64) (MutationReport, error) {
	spec, err := spec.withDefaults()
	if err != nil {
		return MutationReport{}, fmt.Errorf("corpus spec: %w", err)
	}
	if math.IsNaN(fraction) || fraction < 0 || fraction > 1 {
		return MutationReport{}, fmt.Errorf("mutation fraction %v is not in [0, 1]", fraction)
	}
	t, err := listTree(dir)
	if err != nil {
		return MutationReport{}, err
	}
	fppm := ppm(fraction)
	r := newRNG(spec.Seed, "mutate", t.key(fppm))

	n := len(t.files)
	k := int((int64(n)*fppm + million/2) / million)
	if fppm > 0 && n > 0 {
		k = max(k, 1)
	}
	nDel, nAdd := k*20/100, k*30/100
	nMod := k - nDel - nAdd

	lLo, _ := largeRange(spec.TotalBytes)
	var large, rest []int
	for i, f := range t.files {
		if f.size >= lLo {
			large = append(large, i)
		} else {
			rest = append(rest, i)
		}
	}
	nLarge := min(nMod, len(large), int((int64(len(large))*fppm+million-1)/million))
	if nMod > 0 && len(large) > 0 {
		nLarge = max(nLarge, 1)
	}
	shuffle(r, large)
	shuffle(r, rest)
	modify := large[:nLarge]
	take := min(nMod-nLarge, len(rest))
	modify = append(modify, rest[:take]...)
	rest = rest[take:]
	del := rest[:min(nDel, len(rest))]

	mtime := time.Unix(t.newest+86400, 0)
	rep := MutationReport{Fraction: fraction, FilesBefore: n}
	for j, i := range modify {
		f := t.files[i]
		op := newRNG(spec.Seed, "mutate-modify", t.key(fppm)+uint64(j))
		written, err := modifyFile(filepath.Join(dir, filepath.FromSlash(f.path)), f.size, op, mtime)
		if err != nil {
			return rep, err
		}
		rep.Changes = append(rep.Changes, Change{Path: f.path, Op: OpModify, Bytes: written})
		rep.Modified++
		rep.ModifiedBytes += written
	}
	textPPM := ppm(spec.Compressible)
	for j := range nAdd {
		op := newRNG(spec.Seed, "mutate-add", t.key(fppm)+uint64(j))
		p, size, err := addFile(dir, t.dirs, op, spec.Seed, t.key(fppm)+uint64(j), textPPM, mtime)
		if err != nil {
			return rep, err
		}
		rep.Changes = append(rep.Changes, Change{Path: p, Op: OpAdd, Bytes: size})
		rep.Added++
		rep.AddedBytes += size
	}
	for _, i := range del {
		f := t.files[i]
		if err := os.Remove(filepath.Join(dir, filepath.FromSlash(f.path))); err != nil {
			return rep, err
		}
		rep.Changes = append(rep.Changes, Change{Path: f.path, Op: OpDelete, Bytes: f.size})
		rep.Deleted++
		rep.DeletedBytes += f.size
	}
	slices.SortFunc(rep.Changes, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	rep.FilesAfter = n + rep.Added - rep.Deleted
	rep.ChangedFiles = rep.Modified + rep.Added + rep.Deleted
	rep.ChangedBytes = rep.ModifiedBytes + rep.AddedBytes + rep.DeletedBytes
	return rep, nil
}

// shuffle permutes s in place (Fisher-Yates with this package's integer draws).
func shuffle(r *rng, s []int) {
	for i := len(s) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		s[i], s[j] = s[j], s[i]
	}
}

type treeFile struct {
	path string
	size int64
}

type tree struct {
	files  []treeFile // regular files, sorted by path
	dirs   []string   // directories including the root ("."), sorted
	newest int64      // the latest file modification time, Unix seconds
	sum    [32]byte   // of the paths and sizes
}

// key identifies the tree's shape and the fraction, for seeding.
func (t *tree) key(fppm int64) uint64 {
	return binary.LittleEndian.Uint64(t.sum[:8]) ^ uint64(fppm)
}

func listTree(dir string) (*tree, error) {
	t := &tree{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			t.dirs = append(t.dirs, rel)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			t.files = append(t.files, treeFile{path: rel, size: info.Size()})
			t.newest = max(t.newest, info.ModTime().Unix())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(t.files, func(a, b treeFile) int { return strings.Compare(a.path, b.path) })
	slices.Sort(t.dirs)
	h := sha256.New()
	for _, f := range t.files {
		fmt.Fprintf(h, "%s\x00%d\n", f.path, f.size)
	}
	h.Sum(t.sum[:0])
	return t, nil
}

// modifyFile changes the file at p in place and returns the number of bytes written.
func modifyFile(p string, size int64, r *rng, mtime time.Time) (int64, error) {
	k := kindOf(p)
	var written int64
	switch {
	case k.text:
		g := newTextGen(k.format, r)
		g.lines = 1 // continuing: no header
		g.ms = (epoch + 86400) * 1000
		b := g.appendLines(nil, int(r.between(1*KiB, 8*KiB)))
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return 0, err
		}
		if _, err := f.Write(b); err != nil {
			f.Close()
			return 0, err
		}
		if err := f.Close(); err != nil {
			return 0, err
		}
		written = int64(len(b))
	case size >= 256*KiB:
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			return 0, err
		}
		src := newBytes(int64(r.u64()), "mutate-bytes", 0)
		for range 1 + r.intn(4) {
			n := r.between(4*KiB, 16*KiB)
			off := size/4 + r.int64n(size/2-n)
			b := make([]byte, n)
			src.Read(b)
			if _, err := f.WriteAt(b, off); err != nil {
				f.Close()
				return 0, err
			}
			written += n
		}
		if err := f.Close(); err != nil {
			return 0, err
		}
	default:
		n := r.between(smallLo, smallHi)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			return 0, err
		}
		if _, err := io.CopyN(f, newBytes(int64(r.u64()), "mutate-bytes", 0), n); err != nil {
			f.Close()
			return 0, err
		}
		if err := f.Close(); err != nil {
			return 0, err
		}
		written = n
	}
	return written, os.Chtimes(p, mtime, mtime)
}

// addFile creates a new file in one of dirs and returns its path and size.
func addFile(root string, dirs []string, r *rng, seed int64, index uint64, textPPM int64, mtime time.Time) (string, int64, error) {
	size := r.between(smallLo, smallHi)
	if r.intn(5) == 0 {
		size = r.logUniform(mediumLo, mediumHi)
	}
	k := pickKind(r, r.chance(textPPM))
	dir := dirs[r.intn(len(dirs))]
	for {
		rel := path.Join(dir, fmt.Sprintf("%s-new%04x%s", words[r.intn(512)], r.intn(1<<16), k.ext))
		abs := filepath.Join(root, filepath.FromSlash(rel))
		_, err := os.Lstat(abs)
		if err == nil {
			continue // taken; draw another name
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", 0, err
		}
		f := plannedFile{path: rel, size: size, kind: k, index: index, mtime: mtime.Unix()}
		_, err = writeFile(root, seed, "mutate-add", f, make([]byte, 256*KiB))
		return rel, size, err
	}
}
