package engine

import (
	"context"
	"io"
	"time"
)

// Engine moves data between a file system or a stream and a repository.
//
// Every method takes the repository it works on; implementations keep no per-repository state
// between calls except caches, so one Engine serves many repositories concurrently.
type Engine interface {
	// Init creates the repository; it is a no-op when one already exists there (with the same
	// password; another password gives ErrWrongPassword).
	Init(ctx context.Context, repo Repo) error
	// BackupDirectory stores the tree under dir as one snapshot.
	BackupDirectory(ctx context.Context, repo Repo, dir string, opts BackupOptions) (*BackupSummary, error)
	// BackupStream stores everything read from r as one file named opts.StdinFilename.
	// Nothing is staged on disk.
	BackupStream(ctx context.Context, repo Repo, r io.Reader, opts BackupOptions) (*BackupSummary, error)
	// RestoreDirectory writes a snapshot's tree (or its subtree at opts.Include) into target.
	RestoreDirectory(ctx context.Context, repo Repo, snapshotID, target string, opts RestoreOptions) (*RestoreSummary, error)
	// RestoreStream writes the single file of a stream snapshot to w.
	RestoreStream(ctx context.Context, repo Repo, snapshotID string, w io.Writer, opts RestoreOptions) (*RestoreSummary, error)
	// Snapshots lists the repository's snapshots, oldest first.
	Snapshots(ctx context.Context, repo Repo, filter SnapshotFilter) ([]Snapshot, error)
	// Forget removes the snapshots the policy does not keep and, with prune, the data only they
	// referenced.
	Forget(ctx context.Context, repo Repo, policy RetentionPolicy, prune bool) (*ForgetResult, error)
	// ForgetIDs removes the named snapshots and, with prune, the data only they used. Coffer's
	// retention decides from its Snapshot objects which runs to drop, and uses this.
	ForgetIDs(ctx context.Context, repo Repo, ids []string, prune bool) error
	// Check verifies the repository's structure and, per opts, reads back some or all data.
	Check(ctx context.Context, repo Repo, opts CheckOptions) error
	// Unlock removes stale locks left by processes that died.
	Unlock(ctx context.Context, repo Repo) error
	// Stats reports the repository's stored size.
	Stats(ctx context.Context, repo Repo) (*Stats, error)
}

// Repo is one restic repository and what is needed to open it.
type Repo struct {
	Location Location
	// Password is the repository's encryption key (RESTIC_PASSWORD).
	Password string
	// CacheDir is this repository's own cache directory; empty disables the cache.
	CacheDir string
}

// BackupOptions tune one backup.
type BackupOptions struct {
	// Host recorded in the snapshot; the engine's default when empty.
	Host string
	// Tags recorded in the snapshot.
	Tags []string
	// Excludes are patterns of paths to leave out (directory backups).
	Excludes []string
	// StdinFilename names the stream's file inside the snapshot (stream backups); "stdin" when
	// empty.
	StdinFilename string
	// Progress, when set, receives progress reports while the backup runs.
	Progress func(Progress)
}

// RestoreOptions tune one restore.
type RestoreOptions struct {
	// Path is the backed-up path inside the snapshot (BackupSummary.Paths[0]). Given, it saves
	// a lookup of the snapshot, which costs a whole restic start (key derivation included).
	Path string
	// Include restricts a directory restore to these paths inside the snapshot.
	Include []string
	// Progress, when set, receives progress reports while the restore runs.
	Progress func(Progress)
}

// Progress is a running backup's or restore's latest report.
type Progress struct {
	PercentDone      float64
	TotalFiles       int64
	FilesDone        int64
	TotalBytes       int64
	BytesDone        int64
	Elapsed          time.Duration
	SecondsRemaining int64
	CurrentFiles     []string
}

// BackupSummary describes a finished backup.
type BackupSummary struct {
	SnapshotID string
	// Paths are the backed-up paths as recorded in the snapshot.
	Paths               []string
	FilesNew            int64
	FilesChanged        int64
	FilesUnmodified     int64
	DirsNew             int64
	DirsChanged         int64
	DirsUnmodified      int64
	DataBlobs           int64
	TreeBlobs           int64
	DataAdded           int64
	DataAddedPacked     int64
	TotalFilesProcessed int64
	TotalBytesProcessed int64
	Start               time.Time
	End                 time.Time
	// Warnings are files that could not be read; the snapshot exists without them.
	Warnings []string
}

// Duration is how long the backup took.
func (s *BackupSummary) Duration() time.Duration { return s.End.Sub(s.Start) }

// RestoreSummary describes a finished restore.
type RestoreSummary struct {
	FilesRestored int64
	BytesRestored int64
	Duration      time.Duration
}

// SnapshotFilter narrows Snapshots.
type SnapshotFilter struct {
	Host  string
	Tags  []string
	Paths []string
}

// Snapshot is one snapshot in a repository.
type Snapshot struct {
	ID       string
	ShortID  string
	Time     time.Time
	Host     string
	Tags     []string
	Paths    []string
	Parent   string
	Hostname string
	// Summary is recorded by restic ≥ 0.17 for new snapshots; nil for older ones.
	Summary *BackupSummary
}

// RetentionPolicy keeps the newest Last snapshots, the newest one in each of the newest Hourly
// hours, Daily days and so on, and everything younger than Within; all other snapshots are
// forgotten. Zero fields keep nothing by themselves. A policy with every field zero is refused,
// so a mistake cannot forget everything.
type RetentionPolicy struct {
	Last    int
	Hourly  int
	Daily   int
	Weekly  int
	Monthly int
	Yearly  int
	// Within keeps every snapshot younger than this.
	Within time.Duration
	// GroupBy groups snapshots before applying the policy: "host,paths" (restic's default) when
	// empty.
	GroupBy string
}

// IsZero reports a policy that keeps nothing.
func (p RetentionPolicy) IsZero() bool {
	return p.Last == 0 && p.Hourly == 0 && p.Daily == 0 && p.Weekly == 0 && p.Monthly == 0 && p.Yearly == 0 && p.Within == 0
}

// ForgetResult lists what a Forget kept and removed.
type ForgetResult struct {
	Kept    []string
	Removed []string
}

// CheckOptions choose how much data a Check reads back.
type CheckOptions struct {
	// ReadData reads and verifies every pack file.
	ReadData bool
	// ReadDataSubset reads a part: "n/t" (group n of t), "x%" or a size such as "500M".
	ReadDataSubset string
	// NoLock checks without taking restic's exclusive lock, so a check right after a backup is
	// not refused because of a stale lock left by a killed backup on another host (restic counts
	// those stale only after 30 minutes). A concurrent prune can then make it report damage
	// that is not there; use it where no prune runs at the same time.
	NoLock bool
}

// Stats is a repository's stored size.
type Stats struct {
	// TotalSize is the size of all blobs as stored, after compression and deduplication.
	TotalSize int64
	// TotalUncompressedSize is the same blobs before compression.
	TotalUncompressedSize int64
	SnapshotsCount        int64
	TotalBlobCount        int64
	CompressionRatio      float64
}
