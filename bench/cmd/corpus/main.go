package main

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cofferhq/coffer/bench/corpus"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "corpus:", err)
		os.Exit(1)
	}
}

type dumpReport struct {
	Spec    corpus.DumpSpec `json:"spec"`
	Path    string          `json:"path"`
	Bytes   int64           `json:"bytes"`
	SHA256  string          `json:"sha256"`
	Seconds float64         `json:"seconds"`
}

type report struct {
	Manifest *corpus.Manifest       `json:"manifest,omitempty"`
	Mutation *corpus.MutationReport `json:"mutation,omitempty"`
	Dump     *dumpReport            `json:"dump,omitempty"`
	Hash     string                 `json:"hash,omitempty"`
	Seconds  float64                `json:"seconds"`
}

func run(args []string) error {
	fs := flag.NewFlagSet("corpus", flag.ContinueOnError)
	var (
		dir          = fs.String("dir", "", "directory to generate the tree into (absent or empty), or to mutate")
		size         = fs.String("size", "1GiB", "total bytes of the tree (KiB, MiB, GiB suffixes)")
		seed         = fs.Int64("seed", 1, "seed of the tree and the dump")
		compressible = fs.Float64("compressible", 0, "fraction of text-like bytes in the tree (0: default 0.5; negative: none)")
		mutate       = fs.Float64("mutate", 0, "change this fraction of the files of the existing tree in -dir instead of generating it")
		dump         = fs.String("dump", "", "write the database-dump-like stream to this file (- for standard output)")
		dumpSize     = fs.String("dump-size", "256MiB", "bytes of the base dump")
		dumpInserts  = fs.Int("dump-inserts", 0, "number of blocks inserted into the base dump")
		hash         = fs.String("hash", "", "print the HashTree of this directory")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *dir == "" && *dump == "" && *hash == "" {
		return errors.New("nothing to do: give -dir, -dump or -hash")
	}
	total, err := corpus.ParseSize(*size)
	if err != nil {
		return fmt.Errorf("-size: %w", err)
	}
	spec := corpus.Spec{Seed: *seed, TotalBytes: total, Compressible: *compressible}

	start := time.Now()
	var rep report
	if *dir != "" {
		if *mutate > 0 {
			m, err := corpus.Mutate(*dir, spec, *mutate)
			if err != nil {
				return err
			}
			rep.Mutation = &m
		} else {
			m, err := corpus.Generate(*dir, spec)
			if err != nil {
				return err
			}
			rep.Manifest = &m
		}
	}
	if *dump != "" {
		n, err := corpus.ParseSize(*dumpSize)
		if err != nil {
			return fmt.Errorf("-dump-size: %w", err)
		}
		d := corpus.DumpSpec{Seed: *seed, Size: n, Inserts: *dumpInserts}
		rep.Dump, err = writeDump(*dump, d)
		if err != nil {
			return err
		}
	}
	if *hash != "" {
		if rep.Hash, err = corpus.HashTree(*hash); err != nil {
			return err
		}
	}
	rep.Seconds = time.Since(start).Seconds()

	out := io.Writer(os.Stdout)
	if *dump == "-" {
		out = os.Stderr
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

func writeDump(path string, spec corpus.DumpSpec) (*dumpReport, error) {
	start := time.Now()
	var w io.Writer = os.Stdout
	var f *os.File
	if path != "-" {
		var err error
		if f, err = os.Create(path); err != nil {
			return nil, err
		}
		defer f.Close()
		w = f
	}
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(w, h)}
	if err := corpus.WriteDump(cw, spec); err != nil {
		return nil, err
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return nil, err
		}
	}
	return &dumpReport{
		Spec:    spec,
		Path:    path,
		Bytes:   cw.n,
		SHA256:  fmt.Sprintf("%x", h.Sum(nil)),
		Seconds: time.Since(start).Seconds(),
	}, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
