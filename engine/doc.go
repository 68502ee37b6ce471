// Package engine is Coffer's data path: repositories, snapshots, retention and backends behind an
// Engine interface implemented by a pinned restic executed as a subprocess.
//
// It must not import Kubernetes packages: the same code runs in executor Jobs and in benchmarks.
package engine
