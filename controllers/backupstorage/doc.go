// Package backupstorage reconciles BackupStorage: it checks the backend's Secret, reaches the
// backend, writes metadata.yaml at its root, re-creates the Repositories and Snapshots found in
// a backend that already holds data, reports every repository with its size, and on deletion
// removes the storage's Repositories and, under WipeOut, every file Coffer wrote.
//
// The manager reaches object stores directly. A local backend is reached at its mountPath, so the
// manager must mount the same volume there (the manifests in config/ do for the samples).
package backupstorage
