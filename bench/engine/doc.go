// Command engine benchmarks Coffer's data path against its peers in one run: Coffer's engine
// (engine.Restic with the tuning in CofferTuning), plain restic with its defaults, and kopia
// with its defaults, all built from the Go module proxy by hack/tools.sh.
//
//	go run ./bench/engine -size 1GiB -rounds 3 -out results.md   # the full benchmark (make bench)
//	go run ./bench/engine -quick                                   # 64 MiB, one round: a smoke test
//
// Each round generates a corpus (bench/corpus) and measures, one tool after the other within
// every step so that a drift of the machine affects all tools alike: initial backup, incremental
// backup after Mutate, no-change backup, restore from the filesystem repository, backup to and
// restore from versitygw S3 (with a cold cache, as on a new machine), repository sizes and peak
// RSS. The first tool rotates from round to round. Every restore is compared bit for bit with
// corpus.HashTree of its source; a mismatch aborts the run. The Markdown table of medians over
// the rounds, with the ratio of Coffer to the better peer, goes to standard output and -out.
//
// Peak RSS is the maximum resident set of the process doing the work. restic and kopia run
// directly as children and report it in their wait status. Coffer's engine starts restic itself,
// so each Coffer operation runs in a fresh worker: this binary re-executed with
// COFFER_BENCH_WORKER=1, which performs the operation and reports getrusage(RUSAGE_CHILDREN), the
// peak of the restic processes it waited for; the worker's own memory is not counted, just as
// the bench's is not counted for the peers.
//
// The page cache is not dropped between steps (that needs root and a host sysctl), so every
// tool reads a corpus and repository that are most likely cached in memory; the numbers compare
// CPU and write paths more than disk reads.
//
// It imports Coffer's engine and bench/corpus; versitygw and the pinned tools come from
// test/servers (RunS3, ToolPath), the same code the test suites use.
package main
