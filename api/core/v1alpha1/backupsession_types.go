package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

// BackupSessionSpec is one run of a BackupConfiguration's session.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec is immutable"
type BackupSessionSpec struct {
	// Invoker is the BackupConfiguration that owns the session.
	Invoker shared.TypedLocalObjectReference `json:"invoker"`
	// Session is the name of the invoker's session.
	// +kubebuilder:validation:MinLength=1
	Session string `json:"session"`
	// RetryLeft is how many more times a failure of this run is retried.
	// +optional
	// +kubebuilder:validation:Minimum=0
	RetryLeft int32 `json:"retryLeft,omitempty"`
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h))+)$`
	BackupTimeout *metav1.Duration `json:"backupTimeout,omitempty"`
}

// BackupSessionPhase is derived from the conditions and snapshots by BackupSessionPhaseFor.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed;Skipped
type BackupSessionPhase string

const (
	BackupSessionPending   BackupSessionPhase = "Pending"
	BackupSessionRunning   BackupSessionPhase = "Running"
	BackupSessionSucceeded BackupSessionPhase = "Succeeded"
	BackupSessionFailed    BackupSessionPhase = "Failed"
	BackupSessionSkipped   BackupSessionPhase = "Skipped"
)

// SnapshotRef reports one snapshot of the session.
type SnapshotRef struct {
	Name string `json:"name"`
	// +optional
	Phase storagev1alpha1.SnapshotPhase `json:"phase,omitempty"`
	// +optional
	AppRef *shared.TypedObjectReference `json:"appRef,omitempty"`
	// +optional
	Repository string `json:"repository,omitempty"`
}

// RetentionPolicyApplyPhase is the outcome of applying retention to one repository.
// +kubebuilder:validation:Enum=Pending;Applied;FailedToApply
type RetentionPolicyApplyPhase string

const (
	RetentionPolicyPending       RetentionPolicyApplyPhase = "Pending"
	RetentionPolicyApplied       RetentionPolicyApplyPhase = "Applied"
	RetentionPolicyFailedToApply RetentionPolicyApplyPhase = "FailedToApply"
)

// RetentionPolicyApplyStatus reports retention applied to one repository after the backup.
type RetentionPolicyApplyStatus struct {
	// +optional
	Ref *shared.ObjectReference `json:"ref,omitempty"`
	// +optional
	Repository string `json:"repository,omitempty"`
	// +optional
	Phase RetentionPolicyApplyPhase `json:"phase,omitempty"`
	// +optional
	Error string `json:"error,omitempty"`
}

// BackupSessionStatus is what the session controller observed.
type BackupSessionStatus struct {
	// +optional
	Phase BackupSessionPhase `json:"phase,omitempty"`
	// +optional
	Duration string `json:"duration,omitempty"`
	// +optional
	BackupDeadline *metav1.Time `json:"backupDeadline,omitempty"`
	// +optional
	TotalSnapshots *int32 `json:"totalSnapshots,omitempty"`
	// +optional
	// +listType=atomic
	Snapshots []SnapshotRef `json:"snapshots,omitempty"`
	// +optional
	Hooks HookStatus `json:"hooks,omitempty"`
	// RetentionPolicy has one entry per repository (the JSON key is singular, as in KubeStash).
	// +optional
	// +listType=atomic
	RetentionPolicy []RetentionPolicyApplyStatus `json:"retentionPolicy,omitempty"`
	// Retried is true once a retry session was created for this one.
	// +optional
	Retried *bool `json:"retried,omitempty"`
	// +optional
	NextRetry *metav1.Time `json:"nextRetry,omitempty"`
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// BackupSession is one backup run.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=coffer
// +kubebuilder:printcolumn:name="Invoker-Type",type=string,JSONPath=`.spec.invoker.kind`
// +kubebuilder:printcolumn:name="Invoker-Name",type=string,JSONPath=`.spec.invoker.name`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Duration",type=string,JSONPath=`.status.duration`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BackupSession struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec BackupSessionSpec `json:"spec"`
	// +optional
	Status BackupSessionStatus `json:"status,omitempty"`
}

// BackupSessionList is a list of BackupSessions.
// +kubebuilder:object:root=true
type BackupSessionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BackupSession `json:"items"`
}
