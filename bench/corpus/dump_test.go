package corpus

import (
	"bytes"
	"testing"
)

// recorder is an io.Writer that keeps everything and the largest single write.
type recorder struct {
	bytes.Buffer
	maxWrite int
}

func (r *recorder) Write(p []byte) (int, error) {
	r.maxWrite = max(r.maxWrite, len(p))
	return r.Buffer.Write(p)
}

func dump(t testing.TB, spec DumpSpec) []byte {
	t.Helper()
	var r recorder
	if err := WriteDump(&r, spec); err != nil {
		t.Fatal(err)
	}
	if r.maxWrite > dumpFlush+64*KiB {
		t.Errorf("a single write of %d bytes: the dump is not streamed", r.maxWrite)
	}
	return r.Bytes()
}

// inserted is a block found in a variant: where it goes in the base, and its bytes.
type inserted struct {
	baseOff int
	block   []byte
}

// diffInserts explains variant as base plus inserted blocks, or fails.
func diffInserts(t *testing.T, base, variant []byte) []inserted {
	t.Helper()
	var out []inserted
	i, j := 0, 0
	for {
		for i < len(base) && j < len(variant) && base[i] == variant[j] {
			i, j = i+1, j+1
		}
		if i == len(base) {
			if j < len(variant) {
				out = append(out, inserted{i, variant[j:]})
			}
			return out
		}
		// The variant has extra bytes at j. The block starts at a line boundary, possibly a
		// little before j when its first bytes happen to match the base's next line.
		start := bytes.LastIndexByte(variant[:j], '\n') + 1
		i -= j - start
		j = start
		window := base[i:min(i+256, len(base))]
		k := bytes.Index(variant[j:min(len(variant), j+insertHi+16*KiB+len(window))], window)
		if k <= 0 {
			t.Fatalf("variant differs from the base at base offset %d by more than an inserted block", i)
		}
		out = append(out, inserted{i, variant[j : j+k]})
		j += k
	}
}

func TestDump(t *testing.T) {
	const size = 4 * MiB
	base := dump(t, DumpSpec{Seed: 9, Size: size})
	if len(base) != size {
		t.Fatalf("base dump has %d bytes, want %d", len(base), size)
	}
	if !bytes.Equal(base, dump(t, DumpSpec{Seed: 9, Size: size})) {
		t.Fatal("WriteDump is not deterministic")
	}
	if bytes.Equal(base[:64*KiB], dump(t, DumpSpec{Seed: 10, Size: 64 * KiB})) {
		t.Fatal("seeds 9 and 10 gave the same dump")
	}
	if r := flateRatio(t, base); r < 2 {
		t.Errorf("dump compresses %.2fx, want > 2", r)
	}

	for name, inserts := range map[string]int{"one": 1, "four": 4, "sixteen": 16} {
		t.Run(name, func(t *testing.T) {
			variant := dump(t, DumpSpec{Seed: 9, Size: size, Inserts: inserts})
			if !bytes.Equal(variant, dump(t, DumpSpec{Seed: 9, Size: size, Inserts: inserts})) {
				t.Fatal("WriteDump with inserts is not deterministic")
			}
			blocks := diffInserts(t, base, variant)
			if len(blocks) != inserts {
				t.Fatalf("found %d inserted blocks, want %d", len(blocks), inserts)
			}
			span := size / (inserts + 1)
			var added int
			for k, b := range blocks {
				added += len(b.block)
				if len(b.block) < insertLo || len(b.block) > insertHi+2*KiB {
					t.Errorf("block %d has %d bytes, want %d-%d", k, len(b.block), insertLo, insertHi)
				}
				if !bytes.HasPrefix(b.block, []byte("INSERT INTO `")) || !bytes.HasSuffix(b.block, []byte(");\n")) {
					t.Errorf("block %d is not whole INSERT statements: %.60q...%q", k, b.block, b.block[len(b.block)-10:])
				}
				if b.baseOff > 0 && base[b.baseOff-1] != '\n' {
					t.Errorf("block %d is not at a line boundary of the base", k)
				}
				// Near (k+1)/(N+1) of the way, give or take a quarter span and a statement.
				lo, hi := span*(k+1)-span/4, span*(k+1)+span/4+16*KiB
				if b.baseOff < lo || b.baseOff > hi {
					t.Errorf("block %d at base offset %d, want %d-%d", k, b.baseOff, lo, hi)
				}
			}
			if len(variant) != len(base)+added {
				t.Errorf("variant has %d bytes, want base %d + inserts %d", len(variant), len(base), added)
			}
			// So the variant shares a long prefix and a long suffix with the base.
			if p := blocks[0].baseOff; p < span/2 {
				t.Errorf("common prefix of %d bytes, want at least %d", p, span/2)
			}
			if s := len(base) - blocks[len(blocks)-1].baseOff; s < span/2 {
				t.Errorf("common suffix of %d bytes, want at least %d", s, span/2)
			}
		})
	}
}

func TestDumpSpecValidation(t *testing.T) {
	for name, spec := range map[string]DumpSpec{
		"negative size":         {Size: -1},
		"negative inserts":      {Size: MiB, Inserts: -1},
		"more inserts than fit": {Size: 64 * KiB, Inserts: 100},
	} {
		t.Run(name, func(t *testing.T) {
			if err := WriteDump(&bytes.Buffer{}, spec); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func BenchmarkWriteDump(b *testing.B) {
	const size = 64 * MiB
	b.SetBytes(size)
	for b.Loop() {
		if err := WriteDump(discard{}, DumpSpec{Seed: 1, Size: size, Inserts: 4}); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
