package engine

import "path"

// The storage layout KubeStash writes, which Coffer writes too so that either can read the
// other's backups:
//
//	<backend root>/
//	├─ metadata.yaml                        BackendMetaFile
//	└─ <repository dir>/
//	   ├─ repository.yaml                   RepositoryFile
//	   ├─ snapshots/<snapshot>.yaml         SnapshotFile
//	   └─ repository/v1/<session>/<component>/   ComponentPath: one restic repository
const (
	// BackendMetaFile is written at the backend root when a BackupStorage is initialized.
	BackendMetaFile = "metadata.yaml"
	// RepositoryFileName is the serialized Repository inside its directory.
	RepositoryFileName = "repository.yaml"
	// SnapshotsDir holds one serialized Snapshot per file.
	SnapshotsDir = "snapshots"
	// LayoutVersion is the component path version Coffer writes.
	LayoutVersion = "v1"
)

// RepositoryFile is the key of repository.yaml for a repository directory.
func RepositoryFile(repoDir string) string {
	return joinKey(repoDir, RepositoryFileName)
}

// SnapshotFile is the key of a Snapshot's YAML file.
func SnapshotFile(repoDir, snapshot string) string {
	return joinKey(repoDir, SnapshotsDir, snapshot+".yaml")
}

// ComponentPath is a component's restic repository relative to its repository directory, as
// recorded in Snapshot.status.components[].path.
func ComponentPath(version, session, component string) string {
	if version == "" {
		version = LayoutVersion
	}
	return path.Join("repository", version, session, component)
}

// Location is a restic repository on a backend: the repository directory joined with a
// component path.
type Location struct {
	Backend Backend
	// Path below the backend root, for example "demo/app/repository/v1/daily/data".
	Path string
}

// Key is the location's path as an object key below the backend root.
func (l Location) Key() string { return CleanKey(l.Path) }
