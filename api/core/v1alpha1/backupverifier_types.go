package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/cofferhq/coffer/api/shared"
)

// VerificationType says how a restored snapshot is judged.
// +kubebuilder:validation:Enum=RestoreOnly;Query;Script
type VerificationType string

const (
	// VerifyRestoreOnly: the backup is verified when the restore succeeds (and the conditions,
	// if any, hold over the restore observation).
	VerifyRestoreOnly VerificationType = "RestoreOnly"
	// VerifyQuery: named queries run against the restored database.
	VerifyQuery VerificationType = "Query"
	// VerifyScript: a user script runs against the restored data.
	VerifyScript VerificationType = "Script"
)

// BackupVerifierSpec says how, and how often, a repository's newest snapshot is proven
// restorable.
// +kubebuilder:validation:XValidation:rule="self.type != 'Query' || (has(self.queries) && size(self.queries) > 0) || has(self.query)",message="type Query needs queries"
// +kubebuilder:validation:XValidation:rule="self.type != 'Script' || has(self.script)",message="type Script needs script"
// +kubebuilder:validation:XValidation:rule="!(has(self.queries) && has(self.query))",message="set queries or the KubeStash-style query, not both"
// +kubebuilder:validation:XValidation:rule="self.type != 'Query' || (has(self.restoreOption) && has(self.restoreOption.target) && self.restoreOption.target.kind == 'AppBinding')",message="type Query runs its queries against a database: restoreOption.target must be an AppBinding"
type BackupVerifierSpec struct {
	// RestoreOption says where and how the snapshot is restored for verification.
	// +optional
	RestoreOption *RestoreOption `json:"restoreOption,omitempty"`
	// Scheduler of the verifier CronJobs.
	// +optional
	Scheduler *shared.SchedulerSpec `json:"scheduler,omitempty"`
	// Function is the Addon Function that runs queries or the script.
	// +optional
	Function string `json:"function,omitempty"`
	// Volumes and VolumeMounts of the verifier Job, for example a ConfigMap holding the script.
	// +optional
	// +listType=atomic
	Volumes []shared.Volume `json:"volumes,omitempty"`
	// +optional
	// +listType=atomic
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`
	// Type says how the restored data is judged.
	// +optional
	// +kubebuilder:default=RestoreOnly
	Type VerificationType `json:"type,omitempty"`
	// Queries run against the restored database; conditions refer to each result by name as
	// queries.<name>.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Queries []VerifierQuery `json:"queries,omitempty"`
	// Query is KubeStash's form (keyed by database kind, with rowCount checks), kept so
	// KubeStash manifests port unchanged; prefer queries and conditions.
	// +optional
	Query *runtime.RawExtension `json:"query,omitempty"`
	// +optional
	Script *ScriptVerifierSpec `json:"script,omitempty"`
	// Conditions are CEL expressions over what the verification observed (restore, snapshot,
	// queries, script, session); the backup is verified only if all are true.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Conditions []VerificationCondition `json:"conditions,omitempty"`
	// +optional
	RetryConfig *shared.RetryConfig `json:"retryConfig,omitempty"`
	// SessionHistoryLimit is how many finished BackupVerificationSessions are kept.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	SessionHistoryLimit int32 `json:"sessionHistoryLimit,omitempty"`
	// +optional
	RuntimeSettings *shared.RuntimeSettings `json:"runtimeSettings,omitempty"`
}

// RestoreOption is the restore a verification performs.
type RestoreOption struct {
	// Target receives the restored data: a scratch database or volume.
	// +optional
	Target *shared.TypedObjectReference `json:"target,omitempty"`
	// +optional
	AddonInfo *AddonInfo `json:"addonInfo,omitempty"`
}

// VerifierQuery is one named query against the restored database.
// +kubebuilder:validation:XValidation:rule="has(self.statement) != has(self.table)",message="set exactly one of statement or table"
type VerifierQuery struct {
	// Name by which conditions refer to the result: queries.<name>.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_]*$`
	Name string `json:"name"`
	// Database to connect to (a PostgreSQL/MySQL database, a Redis db number).
	// +optional
	Database string `json:"database,omitempty"`
	// Schema qualifies table.
	// +optional
	Schema string `json:"schema,omitempty"`
	// Table counts the rows of a table.
	// +optional
	Table string `json:"table,omitempty"`
	// Statement in the target's own language: SQL, a Redis command, a ZooKeeper path.
	// +optional
	// +kubebuilder:validation:MaxLength=8192
	Statement string `json:"statement,omitempty"`
}

// ScriptVerifierSpec is a script run against the restored data.
type ScriptVerifierSpec struct {
	// Location of the script in the verifier Job, usually a mounted ConfigMap.
	// +kubebuilder:validation:MinLength=1
	Location string `json:"location"`
	// +optional
	// +listType=atomic
	Args []string `json:"args,omitempty"`
}

// VerificationCondition is a named CEL check over the observations.
type VerificationCondition struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`
	Name string `json:"name"`
	// Expression is CEL that must evaluate to a bool, for example
	// "queries.users.rowCount >= 1000 && restore.duration < duration('5m')".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4096
	Expression string `json:"expression"`
	// Message is CEL that evaluates to a string explaining a failure; optional.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Message string `json:"message,omitempty"`
}

// BackupVerifier says how backups are proven restorable.
// +kubebuilder:object:root=true
// +kubebuilder:resource:path=backupverifier,singular=backupverifier,categories=coffer
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Schedule",type=string,JSONPath=`.spec.scheduler.schedule`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BackupVerifier struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec BackupVerifierSpec `json:"spec"`
}

// BackupVerifierList is a list of BackupVerifiers.
// +kubebuilder:object:root=true
type BackupVerifierList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BackupVerifier `json:"items"`
}
