package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cofferhq/coffer/api/shared"
)

// SnapshotType says whether a snapshot is self-contained.
// +kubebuilder:validation:Enum=FullBackup;IncrementalBackup
type SnapshotType string

const (
	FullBackup        SnapshotType = "FullBackup"
	IncrementalBackup SnapshotType = "IncrementalBackup"
)

// SnapshotSpec identifies one backup of an application into a repository.
// +kubebuilder:validation:XValidation:rule="self.repository == oldSelf.repository && has(self.session) == has(oldSelf.session) && (!has(self.session) || self.session == oldSelf.session) && has(self.backupSession) == has(oldSelf.backupSession) && (!has(self.backupSession) || self.backupSession == oldSelf.backupSession)",message="repository, session and backupSession are immutable"
type SnapshotSpec struct {
	// SnapshotID is a ULID, unique across repositories.
	// +optional
	SnapshotID string `json:"snapshotID,omitempty"`
	// +optional
	Type SnapshotType `json:"type,omitempty"`
	// Repository is the Repository's name (same namespace).
	// +kubebuilder:validation:MinLength=1
	Repository string `json:"repository"`
	// Session is the BackupConfiguration session that took the snapshot.
	// +optional
	Session string `json:"session,omitempty"`
	// BackupSession is the BackupSession that took the snapshot.
	// +optional
	BackupSession string `json:"backupSession,omitempty"`
	// Version of the component path layout; "v1".
	// +optional
	// +kubebuilder:default=v1
	Version string `json:"version,omitempty"`
	// +optional
	AppRef *shared.TypedObjectReference `json:"appRef,omitempty"`
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
	// +optional
	Paused bool `json:"paused,omitempty"`
}

// SnapshotPhase is derived from the conditions and components by Phase.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed
type SnapshotPhase string

const (
	SnapshotPending   SnapshotPhase = "Pending"
	SnapshotRunning   SnapshotPhase = "Running"
	SnapshotSucceeded SnapshotPhase = "Succeeded"
	SnapshotFailed    SnapshotPhase = "Failed"
)

// VerificationStatus records whether a snapshot was proven restorable.
// +kubebuilder:validation:Enum=Verified;NotVerified;VerificationFailed
type VerificationStatus string

const (
	Verified           VerificationStatus = "Verified"
	NotVerified        VerificationStatus = "NotVerified"
	VerificationFailed VerificationStatus = "VerificationFailed"
)

// ComponentPhase is the state of one component's backup or restore.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed
type ComponentPhase string

const (
	ComponentPending   ComponentPhase = "Pending"
	ComponentRunning   ComponentPhase = "Running"
	ComponentSucceeded ComponentPhase = "Succeeded"
	ComponentFailed    ComponentPhase = "Failed"
)

// Component is one part of a snapshot: a volume, a pod's volumes or a database dump.
type Component struct {
	// Path of the component's restic repository inside the repository directory:
	// repository/v1/<session>/<component>.
	// +optional
	Path string `json:"path,omitempty"`
	// +optional
	Phase ComponentPhase `json:"phase,omitempty"`
	// +optional
	Size string `json:"size,omitempty"`
	// SizeBytes is Size in bytes.
	// +optional
	SizeBytes *int64 `json:"sizeBytes,omitempty"`
	// +optional
	Duration string `json:"duration,omitempty"`
	// +optional
	Integrity *bool `json:"integrity,omitempty"`
	// +optional
	Error string `json:"error,omitempty"`
	// +optional
	Driver shared.Driver `json:"driver,omitempty"`
	// +optional
	// +listType=atomic
	ResticStats []ResticStats `json:"resticStats,omitempty"`
}

// ResticStats are one restic run's progress and summary.
type ResticStats struct {
	// +optional
	Summary *ResticSummary `json:"summary,omitempty"`
	// +optional
	Progress *ResticProgress `json:"progress,omitempty"`
}

// ResticSummary is restic's summary of a finished backup.
type ResticSummary struct {
	// ID of the restic snapshot.
	// +optional
	ID string `json:"id,omitempty"`
	// +optional
	HostPath string `json:"hostPath,omitempty"`
	// Uploaded is the data added to the repository, for example "1.2 MiB".
	// +optional
	Uploaded string `json:"uploaded,omitempty"`
	// Size is the total size of the backed-up data.
	// +optional
	Size string `json:"size,omitempty"`
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// +optional
	EndTime *metav1.Time `json:"endTime,omitempty"`
}

// ResticProgress is restic's latest progress report of a running backup or restore.
type ResticProgress struct {
	// PercentDone, for example "42.5%".
	// +optional
	PercentDone string `json:"percentDone,omitempty"`
	// +optional
	TotalFiles int64 `json:"totalFiles,omitempty"`
	// +optional
	FilesDone int64 `json:"filesDone,omitempty"`
	// +optional
	TotalBytes int64 `json:"totalBytes,omitempty"`
	// +optional
	BytesDone int64 `json:"bytesDone,omitempty"`
	// +optional
	SecondsElapsed int64 `json:"secondsElapsed,omitempty"`
	// +optional
	SecondsRemaining int64 `json:"secondsRemaining,omitempty"`
	// Speed, for example "12.3 MiB/s".
	// +optional
	Speed string `json:"speed,omitempty"`
}

// SnapshotStatus is what the executor and the snapshot controller observed.
type SnapshotStatus struct {
	// +optional
	Phase SnapshotPhase `json:"phase,omitempty"`
	// +optional
	VerificationStatus VerificationStatus `json:"verificationStatus,omitempty"`
	// VerificationSession is the BackupVerificationSession that last verified this snapshot.
	// +optional
	VerificationSession string `json:"verificationSession,omitempty"`
	// +optional
	SnapshotTime *metav1.Time `json:"snapshotTime,omitempty"`
	// +optional
	LastUpdateTime *metav1.Time `json:"lastUpdateTime,omitempty"`
	// Size is the sum of the components' sizes.
	// +optional
	Size string `json:"size,omitempty"`
	// +optional
	SizeBytes *int64 `json:"sizeBytes,omitempty"`
	// Integrity is the AND of the components' integrity.
	// +optional
	Integrity *bool `json:"integrity,omitempty"`
	// TotalComponents is how many components the backup has; the snapshot succeeds when that
	// many have succeeded.
	// +optional
	TotalComponents int32 `json:"totalComponents,omitempty"`
	// Components by name; each executor patches its own key.
	// +optional
	Components map[string]Component `json:"components,omitempty"`
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Snapshot is one backup of an application into a repository.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=coffer
// +kubebuilder:printcolumn:name="Repository",type=string,JSONPath=`.spec.repository`
// +kubebuilder:printcolumn:name="Session",type=string,JSONPath=`.spec.session`
// +kubebuilder:printcolumn:name="Snapshot-Time",type=date,JSONPath=`.status.snapshotTime`
// +kubebuilder:printcolumn:name="Deletion-Policy",type=string,JSONPath=`.spec.deletionPolicy`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Verification",type=string,JSONPath=`.status.verificationStatus`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Snapshot struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec SnapshotSpec `json:"spec"`
	// +optional
	Status SnapshotStatus `json:"status,omitempty"`
}

// SnapshotList is a list of Snapshots.
// +kubebuilder:object:root=true
type SnapshotList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Snapshot `json:"items"`
}
