package corpus

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testSize = 8 * MiB

func generate(t testing.TB, spec Spec) (string, Manifest) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "corpus")
	m, err := Generate(dir, spec)
	if err != nil {
		t.Fatal(err)
	}
	return dir, m
}

func hashTree(t testing.TB, dir string) string {
	t.Helper()
	h, err := HashTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// fileSums maps each regular file's relative path to the SHA-256 of its content.
func fileSums(t testing.TB, dir string) map[string]string {
	t.Helper()
	sums := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		sums[filepath.ToSlash(rel)] = fmt.Sprintf("%x", sha256.Sum256(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sums
}

func TestGenerateIsDeterministic(t *testing.T) {
	spec := Spec{Seed: 7, TotalBytes: testSize}
	a, ma := generate(t, spec)
	b, mb := generate(t, spec)
	if ma != mb {
		t.Fatalf("manifests differ:\n%+v\n%+v", ma, mb)
	}
	if ha, hb := hashTree(t, a), hashTree(t, b); ha != ma.Hash || hb != ma.Hash {
		t.Fatalf("HashTree = %s and %s, manifest says %s", ha, hb, ma.Hash)
	}
	if ma.Bytes != testSize {
		t.Errorf("manifest bytes = %d, want %d", ma.Bytes, testSize)
	}
	var onDisk int64
	var files int
	for p := range fileSums(t, a) {
		info, err := os.Stat(filepath.Join(a, p))
		if err != nil {
			t.Fatal(err)
		}
		onDisk += info.Size()
		files++
	}
	if onDisk != testSize || files != ma.Files {
		t.Errorf("on disk: %d files, %d bytes; manifest: %d files, %d bytes", files, onDisk, ma.Files, ma.Bytes)
	}

	_, mc := generate(t, Spec{Seed: 8, TotalBytes: testSize})
	if mc.Hash == ma.Hash {
		t.Error("seeds 7 and 8 gave the same corpus")
	}
}

func TestGenerateRefusesNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(dir, Spec{Seed: 1, TotalBytes: MiB}); err == nil {
		t.Fatal("Generate into a non-empty directory succeeded")
	}
}

func TestSpecValidation(t *testing.T) {
	for name, spec := range map[string]Spec{
		"negative size":     {TotalBytes: -1},
		"compressible > 1":  {Compressible: 1.5},
		"negative depth":    {Depth: -1},
		"negative fan-out":  {FanOut: -2},
		"absurdly deep":     {Depth: 100},
		"absurdly wide dir": {FanOut: 100000},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Generate(filepath.Join(t.TempDir(), "c"), spec); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// TestShape checks the documented shape on the plan of full-size corpora, which costs no I/O.
func TestShape(t *testing.T) {
	for name, tc := range map[string]struct {
		spec             Spec
		wantText         [2]int64 // percent of bytes, inclusive range
		wantSmallPct     [2]int   // percent of files
		wantLarge        [2]int
		largeLo, largeHi int64
	}{
		"1 GiB":            {Spec{Seed: 1}, [2]int64{44, 56}, [2]int{75, 88}, [2]int{2, 8}, 64 * MiB, 256*MiB + 64*MiB},
		"1 GiB other seed": {Spec{Seed: 99}, [2]int64{44, 56}, [2]int{75, 88}, [2]int{2, 8}, 64 * MiB, 256*MiB + 64*MiB},
		"8 GiB":            {Spec{Seed: 1, TotalBytes: 8 * GiB}, [2]int64{47, 53}, [2]int{75, 88}, [2]int{16, 64}, 64 * MiB, 256*MiB + 64*MiB},
		"random":           {Spec{Seed: 1, Compressible: -1}, [2]int64{0, 0}, [2]int{75, 88}, [2]int{2, 8}, 64 * MiB, 256*MiB + 64*MiB},
		"text":             {Spec{Seed: 1, Compressible: 1}, [2]int64{100, 100}, [2]int{75, 88}, [2]int{2, 8}, 64 * MiB, 256*MiB + 64*MiB},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := tc.spec.withDefaults()
			if err != nil {
				t.Fatal(err)
			}
			p := makePlan(s)
			var total, text int64
			var small, large, maxDepth int
			paths := map[string]bool{}
			for _, f := range p.files {
				total += f.size
				if f.kind.text {
					text += f.size
				}
				switch f.class {
				case classSmall:
					small++
					if f.size > smallHi+smallLo {
						t.Errorf("small file %s has %d bytes", f.path, f.size)
					}
				case classLarge:
					large++
					if f.size > tc.largeHi {
						t.Errorf("large file %s has %d bytes", f.path, f.size)
					}
				}
				if paths[f.path] {
					t.Errorf("path %s planned twice", f.path)
				}
				paths[f.path] = true
				maxDepth = max(maxDepth, strings.Count(f.path, "/"))
			}
			if total != s.TotalBytes {
				t.Errorf("total = %d, want %d", total, s.TotalBytes)
			}
			if pct := text * 100 / total; pct < tc.wantText[0] || pct > tc.wantText[1] {
				t.Errorf("text bytes = %d%%, want %d-%d%%", pct, tc.wantText[0], tc.wantText[1])
			}
			if pct := small * 100 / len(p.files); pct < tc.wantSmallPct[0] || pct > tc.wantSmallPct[1] {
				t.Errorf("small files = %d%% of %d, want %d-%d%%", pct, len(p.files), tc.wantSmallPct[0], tc.wantSmallPct[1])
			}
			if large < tc.wantLarge[0] || large > tc.wantLarge[1] {
				t.Errorf("large files = %d, want %d-%d", large, tc.wantLarge[0], tc.wantLarge[1])
			}
			if maxDepth != s.Depth {
				t.Errorf("deepest file is %d levels down, want %d", maxDepth, s.Depth)
			}
			t.Logf("%d files (%d small, %d large), %d dirs, %d%% text", len(p.files), small, large, len(p.dirs), text*100/total)
		})
	}
}

func flateRatio(t testing.TB, b []byte) float64 {
	t.Helper()
	var out bytes.Buffer
	w, _ := flate.NewWriter(&out, flate.DefaultCompression)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return float64(len(b)) / float64(out.Len())
}

func TestCompressibility(t *testing.T) {
	dir, m := generate(t, Spec{Seed: 3, TotalBytes: testSize})
	byExt := map[string][]byte{}
	var text, random int64
	for p := range fileSums(t, dir) {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		k := kindOf(p)
		byExt[filepath.Ext(p)] = append(byExt[filepath.Ext(p)], b...)
		if k.text {
			text += int64(len(b))
		} else {
			random += int64(len(b))
		}
	}
	if text != m.CompressibleBytes || random != m.RandomBytes {
		t.Errorf("text/random bytes on disk %d/%d, manifest %d/%d", text, random, m.CompressibleBytes, m.RandomBytes)
	}
	for ext, b := range byExt {
		if len(b) < 16*KiB {
			continue // too little to judge
		}
		r := flateRatio(t, b)
		t.Logf("%s: %d bytes, flate ratio %.2f", ext, len(b), r)
		if kindOf("x"+ext).text && r < 2 {
			t.Errorf("%s files compress %.2fx, want > 2", ext, r)
		}
		if !kindOf("x"+ext).text && r > 1.01 {
			t.Errorf("%s files compress %.2fx, want incompressible", ext, r)
		}
	}
}

// TestStreamsIgnoreChunking: a file's bytes must not depend on the buffer size it is written with.
func TestStreamsIgnoreChunking(t *testing.T) {
	for name, k := range map[string]kind{"text": textKinds[0].kind, "json": textKinds[1].kind, "random": randomKinds[0].kind} {
		t.Run(name, func(t *testing.T) {
			whole := make([]byte, 100*KiB)
			io.ReadFull(content(1, "file", 5, k), whole)
			src := content(1, "file", 5, k)
			var pieces []byte
			for n := 1; len(pieces) < len(whole); n = n*3 + 1 {
				b := make([]byte, min(n, len(whole)-len(pieces)))
				io.ReadFull(src, b)
				pieces = append(pieces, b...)
			}
			if !bytes.Equal(whole, pieces) {
				t.Fatal("stream differs when read in pieces")
			}
		})
	}
}

func TestMutate(t *testing.T) {
	for name, fraction := range map[string]float64{"5%": 0.05, "20%": 0.2, "one file": 0.0001, "none": 0} {
		t.Run(name, func(t *testing.T) {
			spec := Spec{Seed: 11, TotalBytes: 16 * MiB}
			a, m := generate(t, spec)
			b, _ := generate(t, spec)
			before := fileSums(t, a)
			ra, err := Mutate(a, spec, fraction)
			if err != nil {
				t.Fatal(err)
			}
			rb, err := Mutate(b, spec, fraction)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(ra) != fmt.Sprint(rb) || hashTree(t, a) != hashTree(t, b) {
				t.Fatal("Mutate is not deterministic")
			}

			want := int(float64(m.Files)*fraction + 0.5)
			if fraction > 0 {
				want = max(want, 1)
			}
			if ra.FilesBefore != m.Files || ra.ChangedFiles != want {
				t.Errorf("changed %d of %d files, want %d of %d", ra.ChangedFiles, ra.FilesBefore, want, m.Files)
			}

			// The report is exactly the difference between the trees.
			after := fileSums(t, a)
			ops := map[string]Op{}
			for _, c := range ra.Changes {
				ops[c.Path] = c.Op
			}
			for p, sum := range before {
				switch a, ok := after[p]; {
				case !ok && ops[p] != OpDelete:
					t.Errorf("%s disappeared, reported as %q", p, ops[p])
				case ok && a != sum && ops[p] != OpModify:
					t.Errorf("%s changed, reported as %q", p, ops[p])
				case ok && a == sum && ops[p] != "":
					t.Errorf("%s did not change, reported as %q", p, ops[p])
				}
			}
			for p := range after {
				if _, ok := before[p]; !ok && ops[p] != OpAdd {
					t.Errorf("%s appeared, reported as %q", p, ops[p])
				}
			}
			if len(after) != ra.FilesAfter {
				t.Errorf("%d files after, report says %d", len(after), ra.FilesAfter)
			}
			if ra.Modified+ra.Added+ra.Deleted != len(ra.Changes) || ra.ChangedBytes != ra.ModifiedBytes+ra.AddedBytes+ra.DeletedBytes {
				t.Errorf("report totals are inconsistent: %+v", ra)
			}

			if fraction >= 0.05 {
				// Some large file changed by a few KiB.
				lLo, _ := largeRange(spec.TotalBytes)
				large := false
				for _, c := range ra.Changes {
					info, err := os.Stat(filepath.Join(a, c.Path))
					if c.Op != OpModify || err != nil || info.Size() < lLo {
						continue
					}
					if c.Bytes < 1*KiB || c.Bytes > 64*KiB {
						t.Errorf("%s: %d bytes written, want a few KiB", c.Path, c.Bytes)
					}
					large = true
				}
				if !large {
					t.Errorf("no large file modified: %+v", ra.Changes)
				}
			}
		})
	}
}

// TestMutateChain: Mutate on its own output makes a new change set, and every modification moves
// the modification time forward, so that size+mtime change detection sees it.
func TestMutateChain(t *testing.T) {
	spec := Spec{Seed: 5, TotalBytes: testSize}
	dir, _ := generate(t, spec)
	mtimes := func() map[string]time.Time {
		m := map[string]time.Time{}
		for p := range fileSums(t, dir) {
			info, err := os.Stat(filepath.Join(dir, p))
			if err != nil {
				t.Fatal(err)
			}
			m[p] = info.ModTime()
		}
		return m
	}
	var seen []string
	for round := range 3 {
		old := mtimes()
		r, err := Mutate(dir, spec, 0.1)
		if err != nil {
			t.Fatal(err)
		}
		now := mtimes()
		var paths []string
		for _, c := range r.Changes {
			paths = append(paths, string(c.Op)+" "+c.Path)
			if c.Op == OpModify && !now[c.Path].After(old[c.Path]) {
				t.Errorf("round %d: %s modified but its mtime went from %v to %v", round, c.Path, old[c.Path], now[c.Path])
			}
		}
		set := strings.Join(paths, "\n")
		for i, s := range seen {
			if s == set {
				t.Errorf("round %d repeats the changes of round %d", round, i)
			}
		}
		seen = append(seen, set)
	}
}

func TestHashTree(t *testing.T) {
	// Each case changes a copy of the same small tree; the hash must change exactly when the
	// restore would not be bit-exact.
	for name, tc := range map[string]struct {
		change func(dir string) error
		same   bool
	}{
		"nothing":    {func(string) error { return nil }, true},
		"mtime":      {func(d string) error { return os.Chtimes(filepath.Join(d, "a/f"), time.Unix(1, 0), time.Unix(1, 0)) }, true},
		"root mode":  {func(d string) error { return os.Chmod(d, 0o700) }, true},
		"one byte":   {func(d string) error { return os.WriteFile(filepath.Join(d, "a/f"), []byte("hellO"), 0o644) }, false},
		"file mode":  {func(d string) error { return os.Chmod(filepath.Join(d, "a/f"), 0o600) }, false},
		"dir mode":   {func(d string) error { return os.Chmod(filepath.Join(d, "a"), 0o700) }, false},
		"rename":     {func(d string) error { return os.Rename(filepath.Join(d, "a/f"), filepath.Join(d, "a/g")) }, false},
		"empty dir":  {func(d string) error { return os.Mkdir(filepath.Join(d, "e"), 0o755) }, false},
		"empty file": {func(d string) error { return os.WriteFile(filepath.Join(d, "z"), nil, 0o644) }, false},
		"symlink target": {func(d string) error {
			os.Remove(filepath.Join(d, "l"))
			return os.Symlink("a/g", filepath.Join(d, "l"))
		}, false},
		"moved content": {func(d string) error {
			// The same bytes split differently between two files.
			if err := os.WriteFile(filepath.Join(d, "a/f"), []byte("hel"), 0o644); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(d, "b"), []byte("loworld"), 0o644)
		}, false},
	} {
		t.Run(name, func(t *testing.T) {
			mk := func() string {
				d := t.TempDir()
				must(t, os.Mkdir(filepath.Join(d, "a"), 0o755))
				must(t, os.Chmod(filepath.Join(d, "a"), 0o755))
				must(t, os.WriteFile(filepath.Join(d, "a/f"), []byte("hello"), 0o644))
				must(t, os.Chmod(filepath.Join(d, "a/f"), 0o644))
				must(t, os.WriteFile(filepath.Join(d, "b"), []byte("world"), 0o644))
				must(t, os.Chmod(filepath.Join(d, "b"), 0o644))
				must(t, os.Symlink("a/f", filepath.Join(d, "l")))
				return d
			}
			base, changed := mk(), mk()
			must(t, tc.change(changed))
			if same := hashTree(t, base) == hashTree(t, changed); same != tc.same {
				t.Errorf("hashes equal = %v, want %v", same, tc.same)
			}
		})
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestHashReader(t *testing.T) {
	h, err := HashReader(strings.NewReader("abc"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; h != want {
		t.Errorf("HashReader(abc) = %s, want %s", h, want)
	}
}

func BenchmarkGenerate(b *testing.B) {
	const size = 64 * MiB
	root := b.TempDir()
	b.SetBytes(size)
	for i := 0; b.Loop(); i++ {
		dir := filepath.Join(root, fmt.Sprint(i))
		if _, err := Generate(dir, Spec{Seed: 1, TotalBytes: size}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
}

func BenchmarkHashTree(b *testing.B) {
	const size = 64 * MiB
	dir, _ := generate(b, Spec{Seed: 1, TotalBytes: size})
	b.SetBytes(size)
	for b.Loop() {
		hashTree(b, dir)
	}
}
