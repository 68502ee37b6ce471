package shared

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// ObjectReference names an object of a kind known from context. An empty namespace means the
// namespace of the object that holds the reference.
type ObjectReference struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}

// TypedObjectReference names an object of any kind.
type TypedObjectReference struct {
	// APIGroup of the referent; empty for the core group.
	// +optional
	APIGroup string `json:"apiGroup,omitempty"`
	// +kubebuilder:validation:MinLength=1
	Kind string `json:"kind"`
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}

// NamespacesFrom says which namespaces may use an object guarded by a UsagePolicy.
// +kubebuilder:validation:Enum=All;Selector;Same
type NamespacesFrom string

const (
	NamespacesFromAll      NamespacesFrom = "All"
	NamespacesFromSelector NamespacesFrom = "Selector"
	NamespacesFromSame     NamespacesFrom = "Same"
)

// UsagePolicy says which namespaces may refer to an object (a BackupStorage, RetentionPolicy,
// HookTemplate or BackupBlueprint).
type UsagePolicy struct {
	// +optional
	AllowedNamespaces AllowedNamespaces `json:"allowedNamespaces,omitempty"`
}

// AllowedNamespaces selects namespaces.
// +kubebuilder:validation:XValidation:rule="self.from != 'Selector' || has(self.selector)",message="selector is required when from is Selector"
type AllowedNamespaces struct {
	// From is All, Selector (namespaces matching selector) or Same (the object's own namespace).
	// +optional
	// +kubebuilder:default=Same
	From *NamespacesFrom `json:"from,omitempty"`
	// Selector over namespace labels; used when From is Selector.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// RetryConfig says how often and when a failed session is tried again.
type RetryConfig struct {
	// MaxRetry is how many times a failed session is retried.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	MaxRetry int32 `json:"maxRetry,omitempty"`
	// Delay before the retry; empty retries at once.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h))+)$`
	Delay *metav1.Duration `json:"delay,omitempty"`
}

// ConcurrencyPolicy mirrors batch/v1 CronJob's policy.
// +kubebuilder:validation:Enum=Allow;Forbid;Replace
type ConcurrencyPolicy string

// SchedulerSpec configures the CronJob that triggers sessions, shaped like a CronJob spec.
type SchedulerSpec struct {
	// Schedule in cron format, for example "0 */6 * * *" or "@daily".
	// +kubebuilder:validation:MinLength=1
	Schedule string `json:"schedule"`
	// TimeZone for the schedule (an IANA name); the controller manager's zone when empty.
	// +optional
	TimeZone *string `json:"timeZone,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=0
	StartingDeadlineSeconds *int64 `json:"startingDeadlineSeconds,omitempty"`
	// +optional
	ConcurrencyPolicy ConcurrencyPolicy `json:"concurrencyPolicy,omitempty"`
	// Suspend stops the CronJob from triggering.
	// +optional
	Suspend *bool `json:"suspend,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=0
	SuccessfulJobsHistoryLimit *int32 `json:"successfulJobsHistoryLimit,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=0
	FailedJobsHistoryLimit *int32 `json:"failedJobsHistoryLimit,omitempty"`
	// JobTemplate customises the trigger Jobs.
	// +optional
	JobTemplate *JobTemplate `json:"jobTemplate,omitempty"`
}

// JobTemplate customises a Job Coffer creates.
type JobTemplate struct {
	// +optional
	// +kubebuilder:validation:Minimum=0
	BackoffLimit *int32 `json:"backoffLimit,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=0
	TTLSecondsAfterFinished *int32 `json:"ttlSecondsAfterFinished,omitempty"`
	// Template customises the Job's pod.
	// +optional
	Template *PodTemplate `json:"template,omitempty"`
}

// PodTemplate customises a pod Coffer creates.
type PodTemplate struct {
	// +optional
	Metadata *PodTemplateMetadata `json:"metadata,omitempty"`
	// +optional
	Spec *PodRuntimeSettings `json:"spec,omitempty"`
}

// PodTemplateMetadata carries extra labels and annotations for a pod.
type PodTemplateMetadata struct {
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// RuntimeSettings tunes the pods and containers of a Job Coffer creates.
type RuntimeSettings struct {
	// +optional
	Pod *PodRuntimeSettings `json:"pod,omitempty"`
	// +optional
	Container *ContainerRuntimeSettings `json:"container,omitempty"`
}

// PodRuntimeSettings are the pod-level settings a user may set on Coffer's Jobs.
type PodRuntimeSettings struct {
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// +optional
	AutomountServiceAccountToken *bool `json:"automountServiceAccountToken,omitempty"`
	// +optional
	NodeName string `json:"nodeName,omitempty"`
	// +optional
	// SecurityContext is a core/v1 PodSecurityContext, kept as JSON (see Embedded).
	// +kubebuilder:pruning:PreserveUnknownFields
	SecurityContext *runtime.RawExtension `json:"securityContext,omitempty"`
	// +optional
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`
	// +optional
	// Affinity is a core/v1 Affinity, kept as JSON (see Embedded).
	// +kubebuilder:pruning:PreserveUnknownFields
	Affinity *runtime.RawExtension `json:"affinity,omitempty"`
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// +optional
	PriorityClassName string `json:"priorityClassName,omitempty"`
	// +optional
	RuntimeClassName *string `json:"runtimeClassName,omitempty"`
	// +optional
	TopologySpreadConstraints []corev1.TopologySpreadConstraint `json:"topologySpreadConstraints,omitempty"`
}

// ContainerRuntimeSettings are the container-level settings a user may set on Coffer's Jobs.
type ContainerRuntimeSettings struct {
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`
	// +optional
	EnvFrom []corev1.EnvFromSource `json:"envFrom,omitempty"`
	// +optional
	// SecurityContext is a core/v1 SecurityContext, kept as JSON (see Embedded).
	// +kubebuilder:pruning:PreserveUnknownFields
	SecurityContext *runtime.RawExtension `json:"securityContext,omitempty"`
	// Nice is the CPU scheduling priority adjustment (-20..19) of the executor process.
	// +optional
	// +kubebuilder:validation:Minimum=-20
	// +kubebuilder:validation:Maximum=19
	Nice *int32 `json:"nice,omitempty"`
	// IONiceClass is the IO scheduling class (1 realtime, 2 best-effort, 3 idle).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3
	IONiceClass *int32 `json:"ioniceClass,omitempty"`
}

// Volume is a pod volume written as in a Pod spec: a name and one inline volume source, for
// example {name: script, configMap: {name: verify-script}}. It is kept as JSON (see Embedded);
// Decode gives the core/v1 Volume and checks it, which admission does for every volume. (A CEL
// rule cannot read fields of a schemaless object, so the schema cannot require the name.)
// +kubebuilder:validation:Type=object
// +kubebuilder:pruning:PreserveUnknownFields
type Volume struct {
	runtime.RawExtension `json:",inline"`
}

// TypedLocalObjectReference names an object of any kind in the referrer's namespace.
type TypedLocalObjectReference struct {
	// +optional
	APIGroup string `json:"apiGroup,omitempty"`
	// +kubebuilder:validation:MinLength=1
	Kind string `json:"kind"`
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// Driver is the tool that moves a component's data.
// +kubebuilder:validation:Enum=Restic;WalG;VolumeSnapshotter;Solr;Medusa;ClickHouseBackup;Neo4jAdmin
type Driver string

// DriverRestic is the driver Coffer's engine implements.
const DriverRestic Driver = "Restic"

// ParameterDefinition declares a parameter an addon task or hook template accepts.
type ParameterDefinition struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Usage says what the parameter is for.
	// +optional
	Usage string `json:"usage,omitempty"`
	// +optional
	Required bool `json:"required,omitempty"`
	// +optional
	Default string `json:"default,omitempty"`
}

// ResourceFoundStatus reports whether an object a configuration depends on exists.
type ResourceFoundStatus struct {
	TypedObjectReference `json:",inline"`
	// +optional
	Found *bool `json:"found,omitempty"`
	// +optional
	Reason string `json:"reason,omitempty"`
}
