// Package corpus generates the data Coffer's backup benchmarks run on: a file tree, an
// incremental change to it, and a database-dump-like stream with a variant that differs by a few
// inserted blocks.
//
// The benchmarks compare restic, kopia and Coffer against each other, run after run and on
// different machines, and that comparison only means something if every peer backs up the same
// bytes. So the data is generated, not downloaded or sampled from a disk: the same seed gives
// byte-identical files, names, sizes and modes on any machine, with any Go release that keeps
// math/rand/v2's PCG and ChaCha8 algorithms (every other draw is this package's own integer
// arithmetic, and TestGolden pins the output so that a change cannot go unnoticed; see Version).
// Generation is fast enough (about 2 s per GiB on two cores, tree hash included) to recreate the
// corpus for every run instead of caching it.
//
// The shape is chosen to exercise what separates backup tools:
//
//   - Generate: a tree of about 1 GiB, 80% of its files small (1-64 KiB) holding 15% of the
//     bytes, medium files (64 KiB-1 MiB) holding 35% and a few large files (64-256 MiB) holding
//     half; half of the bytes text-like (logs, JSON, CSV, prose, scripts from a Zipf-weighted
//     vocabulary; 3-4x with zstd) and half random (incompressible, like media), in
//     directories up to 3 levels deep with up to 10 subdirectories each.
//   - Mutate: about 5% of the files changed as a real incremental day would change them:
//     appended logs, a few KiB rewritten in the middle of large files, new and deleted files.
//   - WriteDump: a streamed SQL dump (256 MiB by default), and the same dump with a few blocks
//     inserted, to measure how much content-defined chunking deduplicates.
//   - HashTree and HashReader: what a restore is compared with, bit for bit.
//
// Command bench/cmd/corpus wraps these for scripts.
//
// This package is a library for benchmarks and tests: it imports the standard library only,
// never the rest of Coffer, and it never prints.
package corpus
