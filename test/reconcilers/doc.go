// Package reconcilers tests Coffer's controllers together on a real kube-apiserver (envtest),
// with one manager running all of them.
//
// Storage: the BackupStorage, Repository and Snapshot controllers against a real local directory
// and a real S3 server (versitygw): readiness and its conditions, the files they write,
// re-creation from existing data, and deletion under each policy.
//
// Lifecycle: the BackupConfiguration, BackupSession and RestoreSession controllers up to the
// Jobs they create. envtest runs no kubelet and no Job controller, so a test writes a Job's
// outcome into its status as the Job controller would, and a component's result into a
// Snapshot or RestoreSession as the executor would; test/e2e runs the same flow for real.
package reconcilers
