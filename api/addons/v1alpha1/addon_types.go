package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/cofferhq/coffer/api/shared"
)

// AddonSpec lists the tasks an addon offers.
type AddonSpec struct {
	// +optional
	// +listType=map
	// +listMapKey=name
	BackupTasks []Task `json:"backupTasks,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=name
	RestoreTasks []Task `json:"restoreTasks,omitempty"`
}

// TaskExecutor says how a task runs.
// +kubebuilder:validation:Enum=Job;Sidecar;EphemeralContainer;MultiLevelJob
type TaskExecutor string

const (
	ExecutorJob                TaskExecutor = "Job"
	ExecutorSidecar            TaskExecutor = "Sidecar"
	ExecutorEphemeralContainer TaskExecutor = "EphemeralContainer"
	ExecutorMultiLevelJob      TaskExecutor = "MultiLevelJob"
)

// Task is one backup or restore task of an addon.
type Task struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Function that runs the task.
	// +kubebuilder:validation:MinLength=1
	Function string `json:"function"`
	// +optional
	Driver shared.Driver `json:"driver,omitempty"`
	// +optional
	// +kubebuilder:default=Job
	Executor TaskExecutor `json:"executor,omitempty"`
	// Singleton tasks produce one component; the others fan out per pod or node.
	// +optional
	Singleton bool `json:"singleton,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=name
	Parameters []shared.ParameterDefinition `json:"parameters,omitempty"`
	// VolumeTemplate declares the volumes the task needs; a TaskReference fills them.
	// +optional
	// +listType=map
	// +listMapKey=name
	VolumeTemplate []VolumeTemplate `json:"volumeTemplate,omitempty"`
	// +optional
	// +listType=atomic
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`
}

// VolumeTemplate declares a volume of a task.
type VolumeTemplate struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// +optional
	Usage string `json:"usage,omitempty"`
	// Source used when the TaskReference does not fill the volume.
	// +optional
	// Source is a core/v1 VolumeSource, kept as JSON (see shared.Embedded).
	// +kubebuilder:pruning:PreserveUnknownFields
	Source *runtime.RawExtension `json:"source,omitempty"`
}

// Addon declares how a kind of target is backed up and restored.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=coffer
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Addon struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec AddonSpec `json:"spec"`
}

// AddonList is a list of Addons.
// +kubebuilder:object:root=true
type AddonList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Addon `json:"items"`
}
