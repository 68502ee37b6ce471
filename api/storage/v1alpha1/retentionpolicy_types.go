package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cofferhq/coffer/api/shared"
)

// RetentionPeriod is a duration in y (365 days), mo (30 days), w, d, h and m (minutes), combined
// largest first, for example "1y6mo" or "30d12h30m".
// +kubebuilder:validation:Pattern=`^([0-9]+y)?([0-9]+mo)?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?$`
// +kubebuilder:validation:MinLength=2
type RetentionPeriod string

// SuccessfulSnapshotsKeepPolicy keeps successful snapshots grandfather-father-son style.
type SuccessfulSnapshotsKeepPolicy struct {
	// Last keeps the newest N.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Last *int32 `json:"last,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=0
	Hourly *int32 `json:"hourly,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=0
	Daily *int32 `json:"daily,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=0
	Weekly *int32 `json:"weekly,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=0
	Monthly *int32 `json:"monthly,omitempty"`
	// +optional
	// +kubebuilder:validation:Minimum=0
	Yearly *int32 `json:"yearly,omitempty"`
}

// FailedSnapshotsKeepPolicy keeps the newest failed snapshots for inspection.
type FailedSnapshotsKeepPolicy struct {
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	Last *int32 `json:"last,omitempty"`
}

// RetentionPolicySpec says how long snapshots live.
// +kubebuilder:validation:XValidation:rule="has(self.maxRetentionPeriod) || has(self.successfulSnapshots)",message="one of maxRetentionPeriod or successfulSnapshots is required"
type RetentionPolicySpec struct {
	// MaxRetentionPeriod deletes snapshots older than this whatever the other rules say.
	// +optional
	MaxRetentionPeriod RetentionPeriod `json:"maxRetentionPeriod,omitempty"`
	// +optional
	SuccessfulSnapshots *SuccessfulSnapshotsKeepPolicy `json:"successfulSnapshots,omitempty"`
	// +optional
	// +kubebuilder:default={last: 1}
	FailedSnapshots *FailedSnapshotsKeepPolicy `json:"failedSnapshots,omitempty"`
	// +optional
	UsagePolicy *shared.UsagePolicy `json:"usagePolicy,omitempty"`
	// Default makes this the policy of backends that name none (at most one per namespace).
	// +optional
	Default bool `json:"default,omitempty"`
}

// RetentionPolicy says which snapshots to keep.
// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=coffer
// +kubebuilder:printcolumn:name="Max-Retention-Period",type=string,JSONPath=`.spec.maxRetentionPeriod`
// +kubebuilder:printcolumn:name="Default",type=boolean,JSONPath=`.spec.default`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type RetentionPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec RetentionPolicySpec `json:"spec"`
}

// RetentionPolicyList is a list of RetentionPolicies.
// +kubebuilder:object:root=true
type RetentionPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RetentionPolicy `json:"items"`
}
