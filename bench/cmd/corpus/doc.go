// Command corpus writes the benchmark corpus of package bench/corpus: a file tree, an incremental
// change to it, or a database-dump-like stream, and prints a JSON report (manifest, mutation
// report, dump size and SHA-256, tree hash) on standard output, or on standard error when the
// dump goes to standard output.
//
//	go run ./bench/cmd/corpus -dir /tmp/corpus -size 1GiB -seed 1               # generate
//	go run ./bench/cmd/corpus -dir /tmp/corpus -size 1GiB -seed 1 -mutate 0.05  # change 5%
//	go run ./bench/cmd/corpus -dump /tmp/db.sql -seed 1                         # 256 MiB dump
//	go run ./bench/cmd/corpus -dump /tmp/db2.sql -seed 1 -dump-inserts 4        # same + 4 blocks
//	go run ./bench/cmd/corpus -dump - -seed 1 | restic backup --stdin
//	go run ./bench/cmd/corpus -hash /tmp/restored                               # tree hash only
//
// -mutate changes a tree generated earlier with the same -size and -seed (run it again for the
// next increment); without it, -dir must be absent or empty. -seed selects the dump too; its
// size is -dump-size.
//
// It imports bench/corpus and the standard library only.
package main
