package shared_test

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cofferhq/coffer/api/shared"
)

func TestNewCondition(t *testing.T) {
	got := shared.NewCondition("Ready", metav1.ConditionFalse, "NotYet", "waiting for the backend", 7)
	want := metav1.Condition{
		Type:               "Ready",
		Status:             metav1.ConditionFalse,
		Reason:             "NotYet",
		Message:            "waiting for the backend",
		ObservedGeneration: 7,
	}
	if got != want {
		t.Errorf("NewCondition() = %+v, want %+v", got, want)
	}
}

func TestConditionHelpers(t *testing.T) {
	conditions := []metav1.Condition{
		shared.NewCondition("Up", metav1.ConditionTrue, "Fine", "", 1),
		shared.NewCondition("Down", metav1.ConditionFalse, "Broken", "", 1),
		shared.NewCondition("Unsure", metav1.ConditionUnknown, "Checking", "", 1),
	}
	tests := map[string]struct {
		conditions []metav1.Condition
		typ        shared.ConditionType
		wantFound  bool
		wantTrue   bool
		wantFalse  bool
		wantReason string
	}{
		"True condition": {
			conditions: conditions, typ: "Up", wantFound: true, wantTrue: true, wantReason: "Fine",
		},
		"False condition": {
			conditions: conditions, typ: "Down", wantFound: true, wantFalse: true, wantReason: "Broken",
		},
		"Unknown condition is present but neither True nor False": {
			conditions: conditions, typ: "Unsure", wantFound: true, wantReason: "Checking",
		},
		"absent condition": {
			conditions: conditions, typ: "Missing",
		},
		"type is matched exactly": {
			conditions: conditions, typ: "up",
		},
		"nil conditions": {
			conditions: nil, typ: "Up",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			found := shared.FindCondition(tc.conditions, tc.typ)
			if (found != nil) != tc.wantFound {
				t.Fatalf("FindCondition() = %v, want found %v", found, tc.wantFound)
			}
			if found != nil && found.Reason != tc.wantReason {
				t.Errorf("FindCondition().Reason = %q, want %q", found.Reason, tc.wantReason)
			}
			if got := shared.HasCondition(tc.conditions, tc.typ); got != tc.wantFound {
				t.Errorf("HasCondition() = %v, want %v", got, tc.wantFound)
			}
			if got := shared.IsTrue(tc.conditions, tc.typ); got != tc.wantTrue {
				t.Errorf("IsTrue() = %v, want %v", got, tc.wantTrue)
			}
			if got := shared.IsFalse(tc.conditions, tc.typ); got != tc.wantFalse {
				t.Errorf("IsFalse() = %v, want %v", got, tc.wantFalse)
			}
		})
	}
}
