package corpus

import (
	"bytes"
	"testing"
)

// TestGolden pins the generator's output. The benchmarks compare results across runs and
// machines on the premise that a seed means the same bytes everywhere; if this test fails, the
// output changed (a code change, or a Go release that changed PCG or ChaCha8). If the change is
// intended, increment Version and update the hashes here in the same commit.
func TestGolden(t *testing.T) {
	const (
		wantVersion = 1
		wantTree    = "ad54935bfb3246b50704f72ac417e4fe9ca28fee724d08fb984c0b454cc95081"
		wantMutated = "1d10477cb2d0300916cd93e5e04079cbb8afdf215675b7c5adbd4c4fe9696d08"
		wantDump    = "210e1184fd67b9d1cd96bc478b0e4cc2103a0986eec7e9be04f75d51525bf54d"
		wantDump3   = "ced0cb53e2f4b25573ca6fc7dee2c5bad028fcc3d7d522d315057f1fd1e5a7de"
	)
	if Version != wantVersion {
		t.Fatalf("Version = %d: update the hashes in this test and wantVersion", Version)
	}
	spec := Spec{Seed: 1, TotalBytes: 4 * MiB}
	dir, m := generate(t, spec)
	if m.Hash != wantTree {
		t.Errorf("Generate(%+v) hash = %s, want %s", spec, m.Hash, wantTree)
	}
	if _, err := Mutate(dir, spec, 0.05); err != nil {
		t.Fatal(err)
	}
	if h := hashTree(t, dir); h != wantMutated {
		t.Errorf("after Mutate(0.05) hash = %s, want %s", h, wantMutated)
	}
	for want, s := range map[string]DumpSpec{
		wantDump:  {Seed: 1, Size: MiB},
		wantDump3: {Seed: 1, Size: MiB, Inserts: 3},
	} {
		h, err := HashReader(bytes.NewReader(dump(t, s)))
		if err != nil {
			t.Fatal(err)
		}
		if h != want {
			t.Errorf("WriteDump(%+v) hash = %s, want %s", s, h, want)
		}
	}
}
