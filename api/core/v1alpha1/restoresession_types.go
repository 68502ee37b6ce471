package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

// LatestSnapshot as dataSource.snapshot restores the newest Succeeded snapshot of the repository.
const LatestSnapshot = "latest"

// RestoreSessionSpec says what to restore into which target.
type RestoreSessionSpec struct {
	// Target receives the data.
	// +optional
	Target *shared.TypedObjectReference `json:"target,omitempty"`
	// DataSource says which snapshot to restore.
	DataSource RestoreDataSource `json:"dataSource"`
	// Addon does the restore.
	// +optional
	Addon *AddonInfo `json:"addon,omitempty"`
	// +optional
	Hooks *RestoreHooks `json:"hooks,omitempty"`
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h))+)$`
	RestoreTimeout *metav1.Duration `json:"restoreTimeout,omitempty"`
	// ManifestOptions apply when restoring Kubernetes manifests.
	// +optional
	ManifestOptions *ManifestRestoreOptions `json:"manifestOptions,omitempty"`
}

// RestoreDataSource names a snapshot, or a point in time.
// +kubebuilder:validation:XValidation:rule="has(self.pitr) || has(self.snapshot)",message="snapshot is required unless pitr is set"
// +kubebuilder:validation:XValidation:rule="!has(self.pitr) || (has(self.pitr.targetTime) && has(self.repository))",message="pitr needs targetTime and repository"
// +kubebuilder:validation:XValidation:rule="!has(self.snapshot) || self.snapshot != 'latest' || has(self.repository)",message="snapshot 'latest' needs repository"
type RestoreDataSource struct {
	// Namespace of the repository and snapshot; the RestoreSession's when empty.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// +optional
	Repository string `json:"repository,omitempty"`
	// Snapshot is a Snapshot's name, or "latest".
	// +optional
	Snapshot string `json:"snapshot,omitempty"`
	// +optional
	PITR *PITR `json:"pitr,omitempty"`
	// Components to restore; all when empty.
	// +optional
	// +listType=set
	Components []string `json:"components,omitempty"`
	// EncryptionSecret holds RESTIC_PASSWORD; the repository's when empty.
	// +optional
	EncryptionSecret *shared.ObjectReference `json:"encryptionSecret,omitempty"`
}

// PITR restores to a point in time.
type PITR struct {
	// +optional
	TargetTime *metav1.Time `json:"targetTime,omitempty"`
	// Exclusive stops just before targetTime.
	// +optional
	Exclusive bool `json:"exclusive,omitempty"`
}

// RestoreHooks run before and after a restore.
type RestoreHooks struct {
	// +optional
	// +listType=atomic
	PreRestore []HookInfo `json:"preRestore,omitempty"`
	// +optional
	// +listType=atomic
	PostRestore []HookInfo `json:"postRestore,omitempty"`
}

// ManifestRestoreOptions apply when restoring Kubernetes manifests.
type ManifestRestoreOptions struct {
	// RestoreNamespace receives the objects; their own namespace when empty.
	// +optional
	RestoreNamespace string `json:"restoreNamespace,omitempty"`
	// Overwrite replaces objects that already exist.
	// +optional
	Overwrite bool `json:"overwrite,omitempty"`
}

// RestorePhase is derived from the conditions and components by RestoreSessionPhaseFor.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed;Invalid;Unknown
type RestorePhase string

const (
	RestorePending   RestorePhase = "Pending"
	RestoreRunning   RestorePhase = "Running"
	RestoreSucceeded RestorePhase = "Succeeded"
	RestoreFailed    RestorePhase = "Failed"
	RestoreInvalid   RestorePhase = "Invalid"
	RestoreUnknown   RestorePhase = "Unknown"
)

// Finished reports whether a restore ended: it will not change phase again.
func (p RestorePhase) Finished() bool {
	return p == RestoreSucceeded || p == RestoreFailed || p == RestoreInvalid
}

// ComponentRestoreStatus reports one component's restore.
type ComponentRestoreStatus struct {
	// +optional
	Phase storagev1alpha1.ComponentPhase `json:"phase,omitempty"`
	// +optional
	Progress *storagev1alpha1.ResticProgress `json:"progress,omitempty"`
	// +optional
	Duration string `json:"duration,omitempty"`
	// +optional
	Error string `json:"error,omitempty"`
}

// RestoreSessionStatus is what the restore controller and executors observed.
type RestoreSessionStatus struct {
	// +optional
	Phase RestorePhase `json:"phase,omitempty"`
	// +optional
	TargetFound *bool `json:"targetFound,omitempty"`
	// +optional
	Duration string `json:"duration,omitempty"`
	// +optional
	RestoreDeadline *metav1.Time `json:"restoreDeadline,omitempty"`
	// +optional
	TotalComponents int32 `json:"totalComponents,omitempty"`
	// Components by name; each executor patches its own key.
	// +optional
	Components map[string]ComponentRestoreStatus `json:"components,omitempty"`
	// +optional
	Hooks HookStatus `json:"hooks,omitempty"`
	// +optional
	// +listType=atomic
	Dependencies []shared.ResourceFoundStatus `json:"dependencies,omitempty"`
	// PausedBackups are the configurations paused while this restore runs.
	// +optional
	// +listType=atomic
	PausedBackups []shared.TypedObjectReference `json:"pausedBackups,omitempty"`
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// RestoreSession restores a snapshot into a target.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=restore,categories=coffer
// +kubebuilder:printcolumn:name="Repository",type=string,JSONPath=`.spec.dataSource.repository`
// +kubebuilder:printcolumn:name="Snapshot",type=string,JSONPath=`.spec.dataSource.snapshot`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Duration",type=string,JSONPath=`.status.duration`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type RestoreSession struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec RestoreSessionSpec `json:"spec"`
	// +optional
	Status RestoreSessionStatus `json:"status,omitempty"`
}

// RestoreSessionList is a list of RestoreSessions.
// +kubebuilder:object:root=true
type RestoreSessionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RestoreSession `json:"items"`
}
