package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/cofferhq/coffer/api/shared"
)

// AddonInfo says which addon backs up or restores a target, and with which tasks.
type AddonInfo struct {
	// Name of the Addon.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Tasks of the addon to run, in order.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	Tasks []TaskReference `json:"tasks"`
	// ContainerRuntimeSettings tune the executor container.
	// +optional
	ContainerRuntimeSettings *shared.ContainerRuntimeSettings `json:"containerRuntimeSettings,omitempty"`
	// JobTemplate customises the executor Job's pod.
	// +optional
	JobTemplate *shared.PodTemplate `json:"jobTemplate,omitempty"`
}

// TaskReference names an addon task and gives it its inputs.
type TaskReference struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Variables are extra environment variables of the executor.
	// +optional
	// +listType=atomic
	Variables []corev1.EnvVar `json:"variables,omitempty"`
	// Params are the task's parameters, free-form.
	// +optional
	Params *runtime.RawExtension `json:"params,omitempty"`
	// TargetVolumes are the target's volumes the task reads or writes.
	// +optional
	TargetVolumes *TargetVolumeInfo `json:"targetVolumes,omitempty"`
	// AddonVolumes fill the volumes the addon's task declares.
	// +optional
	// +listType=atomic
	AddonVolumes []AddonVolumeInfo `json:"addonVolumes,omitempty"`
}

// TargetVolumeInfo says which volumes of the target an executor mounts.
type TargetVolumeInfo struct {
	// +optional
	// +listType=atomic
	Volumes []shared.Volume `json:"volumes,omitempty"`
	// +optional
	// +listType=atomic
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`
	// VolumeClaimTemplates create PVCs to restore into.
	// +optional
	// +listType=atomic
	VolumeClaimTemplates []PersistentVolumeClaimTemplate `json:"volumeClaimTemplates,omitempty"`
}

// PersistentVolumeClaimTemplate describes a PVC Coffer creates.
type PersistentVolumeClaimTemplate struct {
	// +optional
	Metadata PVCTemplateMetadata `json:"metadata,omitempty"`
	// Spec is a core/v1 PersistentVolumeClaimSpec, kept as JSON (see shared.Embedded), so its
	// string fields may be templated in a blueprint (for example a quantity variable as the size).
	// +kubebuilder:pruning:PreserveUnknownFields
	Spec runtime.RawExtension `json:"spec"`
}

// PVCTemplateMetadata names a PVC Coffer creates.
type PVCTemplateMetadata struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// AddonVolumeInfo fills a volume an addon task declares.
type AddonVolumeInfo struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// +optional
	// Source is a core/v1 VolumeSource, kept as JSON (see shared.Embedded).
	// +kubebuilder:pruning:PreserveUnknownFields
	Source *runtime.RawExtension `json:"source,omitempty"`
}

// HookExecutionPolicy says when a post hook runs.
// +kubebuilder:validation:Enum=Always;OnSuccess;OnFailure
type HookExecutionPolicy string

const (
	ExecuteAlways    HookExecutionPolicy = "Always"
	ExecuteOnSuccess HookExecutionPolicy = "OnSuccess"
	ExecuteOnFailure HookExecutionPolicy = "OnFailure"
)

// HookInfo runs a HookTemplate before or after a session.
type HookInfo struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// HookTemplate to run.
	HookTemplate shared.ObjectReference `json:"hookTemplate"`
	// Params fill the template's parameters.
	// +optional
	Params *runtime.RawExtension `json:"params,omitempty"`
	// MaxRetry is how often a failed hook is tried again.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	MaxRetry int32 `json:"maxRetry,omitempty"`
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h))+)$`
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// ExecutionPolicy applies to post hooks.
	// +optional
	// +kubebuilder:default=Always
	ExecutionPolicy HookExecutionPolicy `json:"executionPolicy,omitempty"`
	// +optional
	// +listType=atomic
	Variables []corev1.EnvVar `json:"variables,omitempty"`
	// Volumes, VolumeMounts and RuntimeSettings apply to Function executors only.
	// +optional
	// +listType=atomic
	Volumes []shared.Volume `json:"volumes,omitempty"`
	// +optional
	// +listType=atomic
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`
	// +optional
	RuntimeSettings *shared.RuntimeSettings `json:"runtimeSettings,omitempty"`
}

// HookPhase is the outcome of one hook.
// +kubebuilder:validation:Enum=Pending;Succeeded;Failed
type HookPhase string

const (
	HookPending   HookPhase = "Pending"
	HookSucceeded HookPhase = "Succeeded"
	HookFailed    HookPhase = "Failed"
)

// HookExecutionStatus is the outcome of one hook.
type HookExecutionStatus struct {
	Name string `json:"name"`
	// +optional
	Phase HookPhase `json:"phase,omitempty"`
}

// HookStatus lists the outcomes of a session's hooks.
type HookStatus struct {
	// +optional
	// +listType=atomic
	PreHooks []HookExecutionStatus `json:"preHooks,omitempty"`
	// +optional
	// +listType=atomic
	PostHooks []HookExecutionStatus `json:"postHooks,omitempty"`
}
