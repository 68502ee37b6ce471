// Package engine is Coffer's data path: it moves a directory tree or a byte stream into an
// encrypted, deduplicated repository on a backend (a local directory, S3, GCS or Azure Blob) and
// back, lists and forgets snapshots by retention policy, checks integrity and recovers stale
// locks.
//
// Engine is the contract; Restic implements it by executing a pinned restic binary and parsing
// its --json output into typed progress events and summaries. restic was chosen over kopia
// because, measured on these machines, it restores 1.5× faster from a filesystem and 5–6× faster
// from S3, stores 2–4× less for changed large files and database dumps, needs half the memory,
// and writes the repository format KubeStash users already have. kopia stays a possible second
// implementation behind the same interface.
//
// The package has no Kubernetes imports: controllers and the executor translate API objects into
// Backend and Repo values, and the errors returned here (*Error, with a Kind) into conditions.
// The storage layout shared with KubeStash (metadata.yaml, repository.yaml, snapshots/,
// repository/v1/<session>/<component>) is described by the functions in layout.go.
package engine
