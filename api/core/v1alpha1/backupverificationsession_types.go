package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/cofferhq/coffer/api/shared"
)

// Bounds on what a verification session records, so a chatty query or script cannot bloat
// the object past etcd's limits.
const (
	MaxObservedRows          = 20
	MaxObservedQueries       = 32
	MaxObservedOutputBytes   = 16384
	MaxObservedStderrBytes   = 4096
	MaxObservedErrorBytes    = 2048
	MaxConditionMessageBytes = 1024
)

// BackupVerificationSessionSpec is one verification of a repository's snapshot.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec is immutable"
type BackupVerificationSessionSpec struct {
	// Invoker is the BackupConfiguration whose repository is verified.
	Invoker shared.TypedLocalObjectReference `json:"invoker"`
	// Session of the invoker that wrote the repository.
	// +optional
	Session string `json:"session,omitempty"`
	// +kubebuilder:validation:MinLength=1
	Repository string `json:"repository"`
	// Snapshot to verify; the newest Succeeded one when empty or "latest".
	// +optional
	Snapshot string `json:"snapshot,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=0
	RetryLeft int32 `json:"retryLeft,omitempty"`
}

// BackupVerificationSessionPhase is derived from the conditions by
// BackupVerificationSessionPhaseFor. There is no Pending.
// +kubebuilder:validation:Enum=Running;Succeeded;Failed;Skipped
type BackupVerificationSessionPhase string

const (
	VerificationRunning   BackupVerificationSessionPhase = "Running"
	VerificationSucceeded BackupVerificationSessionPhase = "Succeeded"
	VerificationFailed    BackupVerificationSessionPhase = "Failed"
	VerificationSkipped   BackupVerificationSessionPhase = "Skipped"
)

// VerificationObservations is what a verification saw; the conditions are evaluated over it.
type VerificationObservations struct {
	// +optional
	Restore *RestoreObservation `json:"restore,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Queries []QueryObservation `json:"queries,omitempty"`
	// +optional
	Script *ScriptObservation `json:"script,omitempty"`
}

// RestoreObservation is the outcome of the verification's restore.
type RestoreObservation struct {
	// RestoreSession that did the restore.
	// +optional
	RestoreSession string `json:"restoreSession,omitempty"`
	// Phase of that RestoreSession.
	// +optional
	Phase RestorePhase `json:"phase,omitempty"`
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`
	// SizeBytes restored.
	// +optional
	SizeBytes *int64 `json:"sizeBytes,omitempty"`
	// +optional
	Components int32 `json:"components,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Error string `json:"error,omitempty"`
}

// QueryObservation is one named query's result.
type QueryObservation struct {
	Name string `json:"name"`
	// RowCount is the number of rows the query returned (all of them, not only those kept).
	// +optional
	RowCount *int64 `json:"rowCount,omitempty"`
	// Columns of the result.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Columns []string `json:"columns,omitempty"`
	// Rows are the first rows of the result as objects keyed by column (at most 20).
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	Rows *runtime.RawExtension `json:"rows,omitempty"`
	// Scalar is the first column of the first row, as JSON.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	Scalar *runtime.RawExtension `json:"scalar,omitempty"`
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Error string `json:"error,omitempty"`
}

// ScriptObservation is the outcome of the verification script.
type ScriptObservation struct {
	ExitCode int32 `json:"exitCode"`
	// Stdout, cut to 16 KiB.
	// +optional
	// +kubebuilder:validation:MaxLength=16384
	Stdout string `json:"stdout,omitempty"`
	// Stderr, cut to 4 KiB.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Stderr string `json:"stderr,omitempty"`
	// Truncated is true when stdout or stderr was cut.
	// +optional
	Truncated bool `json:"truncated,omitempty"`
	// Output is stdout parsed as JSON, when it is JSON.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	Output *runtime.RawExtension `json:"output,omitempty"`
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`
}

// ConditionResult is the outcome of one verification condition.
type ConditionResult struct {
	Name string `json:"name"`
	// Passed is true when the expression evaluated to true.
	Passed bool `json:"passed"`
	// Message explains a failure: the condition's message expression, or the evaluation error.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
}

// BackupVerificationSessionStatus is what the verification controller and verifier Job observed.
type BackupVerificationSessionStatus struct {
	// +optional
	Phase BackupVerificationSessionPhase `json:"phase,omitempty"`
	// +optional
	Duration string `json:"duration,omitempty"`
	// Retried is true once a retry session was created for this one.
	// +optional
	Retried *bool `json:"retried,omitempty"`
	// Snapshot that was verified (resolved from "latest").
	// +optional
	Snapshot string `json:"snapshot,omitempty"`
	// Observations are the raw facts the verifier recorded.
	// +optional
	Observations *VerificationObservations `json:"observations,omitempty"`
	// ConditionResults has one entry per spec condition of the verifier.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	ConditionResults []ConditionResult `json:"conditionResults,omitempty"`
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// BackupVerificationSession is one verification run.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=backupverificationsession,singular=backupverificationsession,categories=coffer
// +kubebuilder:printcolumn:name="Repository",type=string,JSONPath=`.spec.repository`
// +kubebuilder:printcolumn:name="Snapshot",type=string,JSONPath=`.status.snapshot`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Duration",type=string,JSONPath=`.status.duration`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BackupVerificationSession struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec BackupVerificationSessionSpec `json:"spec"`
	// +optional
	Status BackupVerificationSessionStatus `json:"status,omitempty"`
}

// BackupVerificationSessionList is a list of BackupVerificationSessions.
// +kubebuilder:object:root=true
type BackupVerificationSessionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BackupVerificationSession `json:"items"`
}
