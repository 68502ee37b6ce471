package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cofferhq/coffer/api/shared"
)

// BackupStoragePhaseFor is Ready when the backend is initialized and its Secret, if it needs
// one, was found.
func BackupStoragePhaseFor(conditions []metav1.Condition) BackupStoragePhase {
	secretOK := !shared.HasCondition(conditions, TypeBackendSecretFound) || shared.IsTrue(conditions, TypeBackendSecretFound)
	if shared.IsTrue(conditions, TypeBackendInitialized) && secretOK {
		return BackupStorageReady
	}
	return BackupStorageNotReady
}

// RepositoryPhaseFor is Ready when the repository is initialized.
func RepositoryPhaseFor(conditions []metav1.Condition) RepositoryPhase {
	if shared.IsTrue(conditions, TypeRepositoryInitialized) {
		return RepositoryReady
	}
	return RepositoryNotReady
}

// SnapshotPhaseFor derives a snapshot's phase. Any failed bookkeeping step or an executor that
// died fails it; with no components it is Pending; the components decide only once the metadata
// was uploaded (condition True), so Succeeded is never reported before the snapshot's file exists on the backend.
func SnapshotPhaseFor(status *SnapshotStatus) SnapshotPhase {
	c := status.Conditions
	if shared.IsFalse(c, TypeSnapshotMetadataUploaded) ||
		shared.IsFalse(c, TypeRecentSnapshotListUpdated) ||
		shared.IsTrue(c, TypeBackupIncomplete) {
		return SnapshotFailed
	}
	if len(status.Components) == 0 {
		return SnapshotPending
	}
	if !shared.IsTrue(c, TypeSnapshotMetadataUploaded) {
		return SnapshotRunning
	}
	succeeded := 0
	for _, comp := range status.Components {
		switch comp.Phase {
		case ComponentFailed:
			return SnapshotFailed
		case ComponentSucceeded:
			succeeded++
		}
	}
	// Every expected component and every listed one must have succeeded: a listed component
	// that still runs keeps the snapshot Running even if the expected count is lower.
	if status.TotalComponents > 0 && succeeded >= max(int(status.TotalComponents), len(status.Components)) {
		return SnapshotSucceeded
	}
	return SnapshotRunning
}

// Finished reports whether a component ended, well or not.
func (p ComponentPhase) Finished() bool { return p == ComponentSucceeded || p == ComponentFailed }
