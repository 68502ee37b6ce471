package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cofferhq/coffer/api/shared"
)

// DeletionPolicy says what happens to stored data when its object is deleted.
// +kubebuilder:validation:Enum=Delete;WipeOut
type DeletionPolicy string

const (
	// DeletionPolicyDelete removes the object and keeps the data on the backend.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyWipeOut removes the data from the backend too.
	DeletionPolicyWipeOut DeletionPolicy = "WipeOut"
)

// RepositorySpec says which application a repository holds backups of and where.
// +kubebuilder:validation:XValidation:rule="self.path == oldSelf.path",message="path is immutable"
type RepositorySpec struct {
	// AppRef is the backed-up application (a workload, PVC or database).
	AppRef shared.TypedObjectReference `json:"appRef"`
	// StorageRef is the BackupStorage holding the data.
	StorageRef shared.ObjectReference `json:"storageRef"`
	// Path is the repository directory below the backend root; a leading slash (as KubeStash
	// writes it) means the same as none.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="self.split('/').exists(p, p != '') && self.split('/').all(p, p != '.' && p != '..')",message="path must be a directory below the backend root, without '.' or '..' segments"
	Path string `json:"path"`
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
	// EncryptionSecret holds RESTIC_PASSWORD, the repository's encryption key.
	// +optional
	EncryptionSecret *shared.ObjectReference `json:"encryptionSecret,omitempty"`
	// Paused stops new backups into this repository.
	// +optional
	Paused bool `json:"paused,omitempty"`
}

// RepositoryPhase is derived from the conditions by Phase.
// +kubebuilder:validation:Enum=Ready;NotReady
type RepositoryPhase string

const (
	RepositoryReady    RepositoryPhase = "Ready"
	RepositoryNotReady RepositoryPhase = "NotReady"
)

// SnapshotInfo summarises one Snapshot in Repository.status.recentSnapshots.
type SnapshotInfo struct {
	Name string `json:"name"`
	// +optional
	Phase SnapshotPhase `json:"phase,omitempty"`
	// +optional
	Session string `json:"session,omitempty"`
	// +optional
	Size string `json:"size,omitempty"`
	// +optional
	SnapshotTime *metav1.Time `json:"snapshotTime,omitempty"`
}

// MaxRecentSnapshots bounds Repository.status.recentSnapshots.
const MaxRecentSnapshots = 5

// RepositoryStatus is what the repository controller observed.
type RepositoryStatus struct {
	// +optional
	Phase RepositoryPhase `json:"phase,omitempty"`
	// +optional
	LastBackupTime *metav1.Time `json:"lastBackupTime,omitempty"`
	// Integrity is false when a check of any component found damage.
	// +optional
	Integrity *bool `json:"integrity,omitempty"`
	// +optional
	SnapshotCount *int32 `json:"snapshotCount,omitempty"`
	// +optional
	Size string `json:"size,omitempty"`
	// RecentSnapshots are the newest snapshots, newest first.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=5
	RecentSnapshots []SnapshotInfo `json:"recentSnapshots,omitempty"`
	// ComponentPaths are the restic repositories inside this repository.
	// +optional
	// +listType=set
	ComponentPaths []string `json:"componentPaths,omitempty"`
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Repository is a directory in a BackupStorage that holds one application's backups.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=repo,categories=coffer
// +kubebuilder:printcolumn:name="Integrity",type=boolean,JSONPath=`.status.integrity`
// +kubebuilder:printcolumn:name="Snapshot-Count",type=integer,JSONPath=`.status.snapshotCount`
// +kubebuilder:printcolumn:name="Size",type=string,JSONPath=`.status.size`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Last-Successful-Backup",type=date,JSONPath=`.status.lastBackupTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Repository struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec RepositorySpec `json:"spec"`
	// +optional
	Status RepositoryStatus `json:"status,omitempty"`
}

// RepositoryList is a list of Repositories.
// +kubebuilder:object:root=true
type RepositoryList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Repository `json:"items"`
}
