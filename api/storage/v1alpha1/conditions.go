package v1alpha1

import "github.com/cofferhq/coffer/api/shared"

// BackupStorage conditions.
const (
	// BackendInitialized: the backend was reached and metadata.yaml written at its root.
	TypeBackendInitialized               shared.ConditionType   = "BackendInitialized"
	ReasonBackendInitializationSucceeded shared.ConditionReason = "BackendInitializationSucceeded"
	ReasonBackendInitializationFailed    shared.ConditionReason = "BackendInitializationFailed"

	// BackendSecretFound: the Secret named by the backend exists and has the keys it needs.
	TypeBackendSecretFound          shared.ConditionType   = "BackendSecretFound"
	ReasonBackendSecretAvailable    shared.ConditionReason = "BackendSecretAvailable"
	ReasonBackendSecretNotAvailable shared.ConditionReason = "BackendSecretNotAvailable"

	// DefaultStorageConflict (True is bad): another BackupStorage of the namespace is default
	// too. It does not make the storage NotReady; configurations that name no storage fail
	// until one of them gives up spec.default.
	TypeDefaultStorageConflict    shared.ConditionType   = "DefaultStorageConflict"
	ReasonMultipleDefaultStorages shared.ConditionReason = "MultipleDefaultStorages"
	ReasonSoleDefaultStorage      shared.ConditionReason = "SoleDefaultStorage"
)

// Repository conditions.
const (
	// RepositoryInitialized: repository.yaml was written and the encryption Secret is usable.
	TypeRepositoryInitialized               shared.ConditionType   = "RepositoryInitialized"
	ReasonRepositoryInitializationSucceeded shared.ConditionReason = "RepositoryInitializationSucceeded"
	ReasonRepositoryInitializationFailed    shared.ConditionReason = "RepositoryInitializationFailed"
)

// Snapshot conditions.
const (
	// SnapshotMetadataUploaded: snapshots/<name>.yaml was written to the backend.
	TypeSnapshotMetadataUploaded               shared.ConditionType   = "SnapshotMetadataUploaded"
	ReasonSuccessfullyUploadedSnapshotMetadata shared.ConditionReason = "SuccessfullyUploadedSnapshotMetadata"
	ReasonFailedToUploadSnapshotMetadata       shared.ConditionReason = "FailedToUploadSnapshotMetadata"

	// RecentSnapshotListUpdated: the Repository's recentSnapshots lists this snapshot.
	TypeRecentSnapshotListUpdated               shared.ConditionType   = "RecentSnapshotListUpdated"
	ReasonSuccessfullyUpdatedRecentSnapshotList shared.ConditionReason = "SuccessfullyUpdatedRecentSnapshotList"
	ReasonFailedToUpdateRecentSnapshotList      shared.ConditionReason = "FailedToUpdateRecentSnapshotList"

	// BackupIncomplete (True is bad): an executor ended before its component finished.
	TypeBackupIncomplete                           shared.ConditionType   = "BackupIncomplete"
	ReasonBackupExecutorTerminatedBeforeCompletion shared.ConditionReason = "BackupExecutorTerminatedBeforeCompletion"
)
