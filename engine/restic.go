package engine

import "time"

// Restic is the Engine that executes a pinned restic binary (hack/tools.sh restic builds it).
// The zero value is not usable; set Binary. Tuning fields left zero keep restic's defaults.
type Restic struct {
	// Binary is the restic executable.
	Binary string
	// Env is added to every restic process's environment (after the inherited one), for proxies
	// or test endpoints.
	Env []string
	// Compression is auto, max or off; auto when empty.
	Compression string
	// PackSizeMiB is the target pack file size; restic's 16 MiB when 0.
	PackSizeMiB int
	// ReadConcurrency is how many files a backup reads at once; restic's 2 when 0.
	ReadConcurrency int
	// Host is recorded in snapshots whose BackupOptions name none.
	Host string
	// ProgressInterval is how often progress is reported; 10 s when 0.
	ProgressInterval time.Duration
	// TempDir holds credential files restic reads (CA bundles, service account keys); the
	// system's when empty. Each file is removed when its command ends.
	TempDir string
}

