package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cofferhq/coffer/api/shared"
)

// BackupBlueprintSpec is a template of BackupConfigurations for workloads of some kinds: the
// workloads that name it in an annotation, or that its CEL selector matches.
type BackupBlueprintSpec struct {
	// BackupConfigurationTemplate is rendered once per workload. Every field of string type may
	// be a Go template over the blueprint parameters (.Workload, .Namespace, .Blueprint,
	// .Variables) with Coffer's hermetic sprig functions.
	BackupConfigurationTemplate BackupConfigurationTemplate `json:"backupConfigurationTemplate"`
	// Subjects are the kinds this blueprint applies to; any supported kind when empty.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Subjects []Subject `json:"subjects,omitempty"`
	// Selector is a CEL expression over `object` (the workload) and `namespaceObject` (its
	// namespace) that must be a bool. Workloads it matches use this blueprint without being
	// annotated: workloads of the blueprint's own namespace, or, when the blueprint lives in a
	// namespace the operator trusts (its own, by default), of every namespace the usage policy
	// admits. A blueprint without a selector is used only when a workload names it.
	// +optional
	// +kubebuilder:validation:MaxLength=4096
	Selector string `json:"selector,omitempty"`
	// Variables the template may use as .Variables.<name>; a workload sets one with the
	// annotation variables.coffer.dev/<name>.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	Variables []BlueprintVariable `json:"variables,omitempty"`
	// Priority decides between blueprints whose selectors match the same workload: highest
	// first, then by namespace/name.
	// +optional
	Priority int32 `json:"priority,omitempty"`
	// UsagePolicy says which namespaces' workloads may use this blueprint.
	// +optional
	UsagePolicy *shared.UsagePolicy `json:"usagePolicy,omitempty"`
}

// BackupConfigurationTemplate is the shape of the BackupConfigurations a blueprint generates.
type BackupConfigurationTemplate struct {
	// Namespace of the generated BackupConfiguration; the workload's when empty.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	Backends []BackendReference `json:"backends,omitempty"`
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	Sessions []Session `json:"sessions"`
	// DeletionPolicy says what happens to generated configurations when their workload, its
	// annotation or the blueprint goes away.
	// +optional
	// +kubebuilder:default=Retain
	DeletionPolicy BlueprintDeletionPolicy `json:"deletionPolicy,omitempty"`
}

// BlueprintDeletionPolicy says whether generated configurations outlive their source.
// +kubebuilder:validation:Enum=OnDelete;Retain
type BlueprintDeletionPolicy string

const (
	// BlueprintOnDelete deletes a generated configuration when its workload, the workload's
	// annotation or the blueprint is deleted.
	BlueprintOnDelete BlueprintDeletionPolicy = "OnDelete"
	// BlueprintRetain keeps generated configurations; they stop being re-rendered.
	BlueprintRetain BlueprintDeletionPolicy = "Retain"
)

// Subject is a kind a blueprint applies to.
type Subject struct {
	// APIVersion of the kind, for example apps/v1; any version of the kind's group matches.
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`
	// +kubebuilder:validation:MinLength=1
	Kind string `json:"kind"`
}

// VariableType is the type a variable's value must parse as.
// +kubebuilder:validation:Enum=string;int;bool;duration;quantity
type VariableType string

const (
	VariableString   VariableType = "string"
	VariableInt      VariableType = "int"
	VariableBool     VariableType = "bool"
	VariableDuration VariableType = "duration"
	VariableQuantity VariableType = "quantity"
)

// BlueprintVariable declares a value the template uses.
// +kubebuilder:validation:XValidation:rule="!(has(self.required) && self.required && has(self.default))",message="a required variable cannot have a default"
type BlueprintVariable struct {
	// Name is used as .Variables.<name> and in the annotation variables.coffer.dev/<name>.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z]([A-Za-z0-9_]*[A-Za-z0-9])?$`
	Name string `json:"name"`
	// Type the value must parse as.
	// +optional
	// +kubebuilder:default=string
	Type VariableType `json:"type,omitempty"`
	// Default value, in the variable's type.
	// +optional
	Default *string `json:"default,omitempty"`
	// Required variables must be set by the workload.
	// +optional
	Required bool `json:"required,omitempty"`
	// +optional
	Description string `json:"description,omitempty"`
}

// BackupBlueprint generates BackupConfigurations for workloads.
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=coffer
// +kubebuilder:printcolumn:name="Priority",type=integer,JSONPath=`.spec.priority`
// +kubebuilder:printcolumn:name="Selector",type=string,JSONPath=`.spec.selector`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BackupBlueprint struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec BackupBlueprintSpec `json:"spec"`
}

// BackupBlueprintList is a list of BackupBlueprints.
// +kubebuilder:object:root=true
type BackupBlueprintList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BackupBlueprint `json:"items"`
}
