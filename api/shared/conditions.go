package shared

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConditionType names a condition. Each API group declares its types as constants of this type
// in its conditions.go, next to the reasons that go with them.
type ConditionType string

// ConditionReason is a condition's CamelCase reason.
type ConditionReason string

// NewCondition builds a condition for observedGeneration; LastTransitionTime is left to
// meta.SetStatusCondition, which keeps it when the status did not change.
func NewCondition(t ConditionType, status metav1.ConditionStatus, reason ConditionReason, message string, observedGeneration int64) metav1.Condition {
	return metav1.Condition{
		Type:               string(t),
		Status:             status,
		Reason:             string(reason),
		Message:            message,
		ObservedGeneration: observedGeneration,
	}
}

// FindCondition returns the condition of type t, or nil.
func FindCondition(conditions []metav1.Condition, t ConditionType) *metav1.Condition {
	return meta.FindStatusCondition(conditions, string(t))
}

// IsTrue reports whether condition t is present and True.
func IsTrue(conditions []metav1.Condition, t ConditionType) bool {
	return meta.IsStatusConditionTrue(conditions, string(t))
}

// IsFalse reports whether condition t is present and False.
func IsFalse(conditions []metav1.Condition, t ConditionType) bool {
	return meta.IsStatusConditionFalse(conditions, string(t))
}

// HasCondition reports whether condition t is present with any status.
func HasCondition(conditions []metav1.Condition, t ConditionType) bool {
	return FindCondition(conditions, t) != nil
}
