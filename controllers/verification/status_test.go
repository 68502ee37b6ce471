package verification

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

func TestStatusFromFacts(t *testing.T) {
	snap := &storagev1alpha1.Snapshot{ObjectMeta: metav1.ObjectMeta{Name: "repo-s-1"}}
	created := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	now := created.Add(90 * time.Second)
	restored := func(phase corev1alpha1.RestorePhase, errMsg string) *corev1alpha1.RestoreObservation {
		return &corev1alpha1.RestoreObservation{RestoreSession: "v", Phase: phase, Error: errMsg}
	}
	cases := map[string]struct {
		facts     facts
		phase     corev1alpha1.BackupVerificationSessionPhase
		condition shared.ConditionType
		status    metav1.ConditionStatus
		message   string
	}{
		"restoring": {facts: facts{snapshot: snap, restoreSession: "v"}, phase: corev1alpha1.VerificationRunning,
			condition: corev1alpha1.TypeVerificationExecutorEnsured, status: metav1.ConditionTrue, message: "RestoreSession v restores Snapshot repo-s-1"},
		"verified": {facts: facts{snapshot: snap, restoreSession: "v", restore: restored(corev1alpha1.RestoreSucceeded, ""), verified: ptr.To(true),
			results: []corev1alpha1.ConditionResult{{Name: "fast", Passed: true}}}, phase: corev1alpha1.VerificationSucceeded,
			condition: corev1alpha1.TypeBackupVerified, status: metav1.ConditionTrue, message: "Every condition holds: fast"},
		"a false condition is named": {facts: facts{snapshot: snap, restoreSession: "v", restore: restored(corev1alpha1.RestoreSucceeded, ""), verified: ptr.To(false),
			results: []corev1alpha1.ConditionResult{{Name: "fast", Passed: true}, {Name: "rows", Message: "only 3 rows"}}}, phase: corev1alpha1.VerificationFailed,
			condition: corev1alpha1.TypeBackupVerified, status: metav1.ConditionFalse, message: "rows: only 3 rows"},
		"a failed restore says why": {facts: facts{snapshot: snap, restoreSession: "v", restore: restored(corev1alpha1.RestoreFailed, "component data: pack corrupted")},
			phase: corev1alpha1.VerificationFailed, condition: corev1alpha1.TypeRestoreSucceeded, status: metav1.ConditionFalse,
			message: "RestoreSession v ended Failed: component data: pack corrupted"},
		"no snapshot": {facts: facts{snapshotErr: "repository repo has no Succeeded snapshot to verify"}, phase: corev1alpha1.VerificationFailed,
			condition: corev1alpha1.TypeRestoreSucceeded, status: metav1.ConditionFalse, message: "no Succeeded snapshot"},
		"already verified": {facts: facts{snapshot: snap, skippedBy: "repo-s-0"}, phase: corev1alpha1.VerificationSkipped,
			condition: corev1alpha1.TypeBackupVerificationSkipped, status: metav1.ConditionTrue, message: "already verified by repo-s-0"},
		"no verifier": {facts: facts{executorErr: "BackupVerifier demo/v not found"}, phase: corev1alpha1.VerificationFailed,
			condition: corev1alpha1.TypeVerificationExecutorEnsured, status: metav1.ConditionFalse, message: "not found"},
		"history not cleaned": {facts: facts{historyErr: "forbidden"}, phase: corev1alpha1.VerificationFailed,
			condition: corev1alpha1.TypeVerificationSessionHistoryCleaned, status: metav1.ConditionFalse, message: "forbidden"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			bvs := &corev1alpha1.BackupVerificationSession{ObjectMeta: metav1.ObjectMeta{Name: "v", CreationTimestamp: metav1.NewTime(created)}}
			tc.facts.now = now
			tc.facts.apply(bvs)
			if bvs.Status.Phase != tc.phase {
				t.Errorf("phase %s, want %s", bvs.Status.Phase, tc.phase)
			}
			c := shared.FindCondition(bvs.Status.Conditions, tc.condition)
			if c == nil || c.Status != tc.status || !strings.Contains(c.Message, tc.message) {
				t.Errorf("%s = %+v, want %s with %q", tc.condition, c, tc.status, tc.message)
			}
			if finished(tc.phase) != (bvs.Status.Duration == "1m30s") {
				t.Errorf("duration %q for phase %s", bvs.Status.Duration, tc.phase)
			}
		})
	}
}
