package hooks

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
)

func TestRecorded(t *testing.T) {
	const typ = corev1alpha1.TypePreBackupHooksExecutionSucceeded
	failedCond := []metav1.Condition{shared.NewCondition(typ, metav1.ConditionFalse, "Failed", "hook quiesce failed: refused", 1)}
	okCond := []metav1.Condition{shared.NewCondition(typ, metav1.ConditionTrue, "Succeeded", "Every pre-backup hook succeeded", 1)}
	failed := []corev1alpha1.HookExecutionStatus{{Name: "quiesce", Phase: corev1alpha1.HookFailed}}
	succeeded := []corev1alpha1.HookExecutionStatus{{Name: "quiesce", Phase: corev1alpha1.HookSucceeded}}
	for _, tc := range []struct {
		name        string
		statuses    []corev1alpha1.HookExecutionStatus
		conds       []metav1.Condition
		wantRan     bool
		wantFailure string
	}{
		{name: "nothing recorded: the hooks are still to run"},
		{name: "a failure keeps the condition's message", statuses: failed, conds: failedCond, wantRan: true, wantFailure: "hook quiesce failed: refused"},
		{name: "a failed status without its condition is still a failure", statuses: failed, wantRan: true, wantFailure: "hook quiesce failed"},
		{name: "success", statuses: succeeded, conds: okCond, wantRan: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, failure, ran := Recorded(tc.statuses, tc.conds, typ)
			if ran != tc.wantRan || failure != tc.wantFailure {
				t.Fatalf("Recorded = (ran %v, failure %q), want (ran %v, failure %q)", ran, failure, tc.wantRan, tc.wantFailure)
			}
			if len(got) != len(tc.statuses) {
				t.Fatalf("statuses %v, want %v", got, tc.statuses)
			}
		})
	}
}
