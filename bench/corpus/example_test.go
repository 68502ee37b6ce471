package corpus_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cofferhq/coffer/bench/corpus"
)

func ExampleGenerate() {
	dir, err := os.MkdirTemp("", "corpus")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	spec := corpus.Spec{Seed: 1, TotalBytes: 4 * corpus.MiB}
	m, err := corpus.Generate(filepath.Join(dir, "source"), spec)
	if err != nil {
		panic(err)
	}
	fmt.Println(m.Files, "files,", m.Bytes, "bytes")

	// A restore is bit-exact when its tree hash equals the manifest's.
	restored, err := corpus.HashTree(filepath.Join(dir, "source"))
	if err != nil {
		panic(err)
	}
	fmt.Println("restored == source:", restored == m.Hash)
	// Output:
	// 29 files, 4194304 bytes
	// restored == source: true
}

func ExampleWriteDump() {
	var b strings.Builder
	if err := corpus.WriteDump(&b, corpus.DumpSpec{Seed: 1, Size: 64 * corpus.KiB}); err != nil {
		panic(err)
	}
	s := bufio.NewScanner(strings.NewReader(b.String()))
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		if line := s.Text(); strings.HasPrefix(line, "INSERT") {
			fmt.Println(line[:120])
			break
		}
	}
	// Output:
	// INSERT INTO `users` VALUES (1,'cougra thepucou','fijounar.mogi@example.com','2024-12-15 01:46:56.117','pending',4663),(2
}
