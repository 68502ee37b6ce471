package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cofferhq/coffer/api/shared"
)

// BackupConfigurationSpec says how a target is backed up: to which backends, on which schedules,
// into which repositories.
type BackupConfigurationSpec struct {
	// Target is the workload, PVC or database to back up.
	// +optional
	Target *shared.TypedObjectReference `json:"target,omitempty"`
	// Backends the sessions write to. An unnamed backend ("") stands for the namespace's default
	// BackupStorage.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(b, self.exists_one(o, (has(o.name) ? o.name : '') == (has(b.name) ? b.name : '')))",message="backend names must be unique"
	Backends []BackendReference `json:"backends,omitempty"`
	// Sessions are the schedules, each with its repositories.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	Sessions []Session `json:"sessions"`
	// Paused suspends every CronJob of this configuration.
	// +optional
	Paused bool `json:"paused,omitempty"`
}

// BackendReference names a BackupStorage and the RetentionPolicy applied to what is stored there.
type BackendReference struct {
	// Name sessions use to refer to this backend; "" for the default backend.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name,omitempty"`
	// +optional
	StorageRef *shared.ObjectReference `json:"storageRef,omitempty"`
	// +optional
	RetentionPolicy *shared.ObjectReference `json:"retentionPolicy,omitempty"`
}

// Session is one backup schedule and where its data goes.
type Session struct {
	SessionConfig `json:",inline"`
	// Addon does the backup.
	// +optional
	Addon *AddonInfo `json:"addon,omitempty"`
	// Repositories receive each backup of this session.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	Repositories []RepositoryInfo `json:"repositories"`
}

// SessionConfig is a session's schedule and behaviour.
type SessionConfig struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
	// +optional
	Scheduler *shared.SchedulerSpec `json:"scheduler,omitempty"`
	// +optional
	Hooks *BackupHooks `json:"hooks,omitempty"`
	// +optional
	RetryConfig *shared.RetryConfig `json:"retryConfig,omitempty"`
	// BackupTimeout bounds one backup; the session fails when it is exceeded.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h))+)$`
	BackupTimeout *metav1.Duration `json:"backupTimeout,omitempty"`
	// SessionHistoryLimit is how many finished BackupSessions are kept.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	SessionHistoryLimit int32 `json:"sessionHistoryLimit,omitempty"`
}

// BackupHooks run before and after a backup.
type BackupHooks struct {
	// +optional
	// +listType=atomic
	PreBackup []HookInfo `json:"preBackup,omitempty"`
	// +optional
	// +listType=atomic
	PostBackup []HookInfo `json:"postBackup,omitempty"`
}

// RepositoryDeletionPolicy says what happens to a repository when its configuration is deleted.
// +kubebuilder:validation:Enum=Delete;WipeOut;Retain
type RepositoryDeletionPolicy string

const (
	RepositoryDelete  RepositoryDeletionPolicy = "Delete"
	RepositoryWipeOut RepositoryDeletionPolicy = "WipeOut"
	// RepositoryRetain keeps the Repository object when the configuration goes away.
	RepositoryRetain RepositoryDeletionPolicy = "Retain"
)

// RepositoryInfo declares a repository a session writes to.
type RepositoryInfo struct {
	// Name of the Repository object, created in the configuration's namespace.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name"`
	// Backend is a backend's name; "" is the default backend.
	// +optional
	Backend string `json:"backend,omitempty"`
	// Directory inside the backend, unique per BackupStorage; a leading slash (as KubeStash
	// writes it) means the same as none.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	Directory string `json:"directory"`
	// EncryptionSecret holds RESTIC_PASSWORD.
	// +optional
	EncryptionSecret *shared.ObjectReference `json:"encryptionSecret,omitempty"`
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy RepositoryDeletionPolicy `json:"deletionPolicy,omitempty"`
	// BackupVerifier proves this repository's snapshots restorable.
	// +optional
	BackupVerifier *shared.ObjectReference `json:"backupVerifier,omitempty"`
}

// BackupInvokerPhase is a BackupConfiguration's phase.
// +kubebuilder:validation:Enum=Ready;NotReady;Invalid
type BackupInvokerPhase string

const (
	BackupInvokerReady    BackupInvokerPhase = "Ready"
	BackupInvokerNotReady BackupInvokerPhase = "NotReady"
	BackupInvokerInvalid  BackupInvokerPhase = "Invalid"
)

// BackendStatus reports one backend's readiness.
type BackendStatus struct {
	Name string `json:"name"`
	// +optional
	Ready *bool `json:"ready,omitempty"`
	// +optional
	Storage *StorageStatus `json:"storage,omitempty"`
	// +optional
	RetentionPolicy *RetentionPolicyStatus `json:"retentionPolicy,omitempty"`
}

// StorageStatus reports a referenced BackupStorage.
type StorageStatus struct {
	// +optional
	Ref *shared.ObjectReference `json:"ref,omitempty"`
	// +optional
	Phase string `json:"phase,omitempty"`
	// +optional
	Reason string `json:"reason,omitempty"`
}

// RetentionPolicyStatus reports a referenced RetentionPolicy.
type RetentionPolicyStatus struct {
	// +optional
	Ref *shared.ObjectReference `json:"ref,omitempty"`
	// +optional
	Found *bool `json:"found,omitempty"`
	// +optional
	Reason string `json:"reason,omitempty"`
}

// RepositoryStatusInfo reports one repository's readiness.
type RepositoryStatusInfo struct {
	Name string `json:"name"`
	// +optional
	Phase string `json:"phase,omitempty"`
	// +optional
	Reason string `json:"reason,omitempty"`
	// +optional
	VerificationConfigured bool `json:"verificationConfigured,omitempty"`
}

// SessionStatus reports one session's scheduler.
type SessionStatus struct {
	Name string `json:"name"`
	// NextSchedule is when the session runs next (RFC 3339).
	// +optional
	NextSchedule string `json:"nextSchedule,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// BackupConfigurationStatus is what the configuration controller observed.
type BackupConfigurationStatus struct {
	// +optional
	Phase BackupInvokerPhase `json:"phase,omitempty"`
	// +optional
	TargetFound *bool `json:"targetFound,omitempty"`
	// +optional
	// +listType=atomic
	Backends []BackendStatus `json:"backends,omitempty"`
	// +optional
	// +listType=atomic
	Repositories []RepositoryStatusInfo `json:"repositories,omitempty"`
	// +optional
	// +listType=atomic
	Dependencies []shared.ResourceFoundStatus `json:"dependencies,omitempty"`
	// +optional
	// +listType=atomic
	Sessions []SessionStatus `json:"sessions,omitempty"`
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// BackupConfiguration says how a target is backed up.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=bc,categories=coffer
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Paused",type=boolean,JSONPath=`.spec.paused`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BackupConfiguration struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec BackupConfigurationSpec `json:"spec"`
	// +optional
	Status BackupConfigurationStatus `json:"status,omitempty"`
}

// BackupConfigurationList is a list of BackupConfigurations.
// +kubebuilder:object:root=true
type BackupConfigurationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BackupConfiguration `json:"items"`
}
