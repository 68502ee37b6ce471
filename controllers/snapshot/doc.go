// Package snapshot reconciles Snapshot: it keeps snapshots/<name>.yaml in the repository's
// directory in step with the object (so a BackupStorage created over the data can re-create it),
// derives the snapshot's size, integrity, time and phase from the components the executors
// report, and removes the file when the Snapshot is deleted.
package snapshot
