//go:build unix

package corpus

import (
	"syscall"
	"testing"
)

// TestGenerateIgnoresUmask: modes are part of the tree hash, so they must not depend on the umask
// of whoever generates the corpus.
func TestGenerateIgnoresUmask(t *testing.T) {
	spec := Spec{Seed: 2, TotalBytes: 2 * MiB}
	_, want := generate(t, spec)
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir, got := generate(t, spec)
	if got.Hash != want.Hash || hashTree(t, dir) != want.Hash {
		t.Fatal("the corpus differs under umask 077")
	}
}
