package v1alpha1_test

import (
	"strconv"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

func condTrue(t shared.ConditionType) metav1.Condition {
	return shared.NewCondition(t, metav1.ConditionTrue, "Test", "", 1)
}

func condFalse(t shared.ConditionType) metav1.Condition {
	return shared.NewCondition(t, metav1.ConditionFalse, "Test", "", 1)
}

func condUnknown(t shared.ConditionType) metav1.Condition {
	return shared.NewCondition(t, metav1.ConditionUnknown, "Test", "", 1)
}

func condWithReason(t shared.ConditionType, status metav1.ConditionStatus, reason shared.ConditionReason) metav1.Condition {
	return shared.NewCondition(t, status, reason, "", 1)
}

func conds(c ...metav1.Condition) []metav1.Condition { return c }

func ptr[T any](v T) *T { return &v }

// backupConfiguration builds a BackupConfiguration with functional options; the default has two
// backends and two sessions in the spec and nothing in the status.
func backupConfiguration(opts ...func(*corev1alpha1.BackupConfiguration)) *corev1alpha1.BackupConfiguration {
	bc := &corev1alpha1.BackupConfiguration{
		Spec: corev1alpha1.BackupConfigurationSpec{
			Backends: []corev1alpha1.BackendReference{{Name: "gcs"}, {Name: "s3"}},
			Sessions: []corev1alpha1.Session{{}, {}},
		},
	}
	for _, o := range opts {
		o(bc)
	}
	return bc
}

func withSpecBackends(n int) func(*corev1alpha1.BackupConfiguration) {
	return func(bc *corev1alpha1.BackupConfiguration) {
		bc.Spec.Backends = make([]corev1alpha1.BackendReference, n)
		for i := range bc.Spec.Backends {
			bc.Spec.Backends[i].Name = "backend-" + strconv.Itoa(i)
		}
	}
}

func withTargetFound(found *bool) func(*corev1alpha1.BackupConfiguration) {
	return func(bc *corev1alpha1.BackupConfiguration) { bc.Status.TargetFound = found }
}

// withBackendsReady sets one status backend per value.
func withBackendsReady(ready ...*bool) func(*corev1alpha1.BackupConfiguration) {
	return func(bc *corev1alpha1.BackupConfiguration) {
		bc.Status.Backends = nil
		for i, r := range ready {
			bc.Status.Backends = append(bc.Status.Backends, corev1alpha1.BackendStatus{Name: "backend-" + strconv.Itoa(i), Ready: r})
		}
	}
}

// withSessionConditions sets one status session per argument.
func withSessionConditions(sessions ...[]metav1.Condition) func(*corev1alpha1.BackupConfiguration) {
	return func(bc *corev1alpha1.BackupConfiguration) {
		bc.Status.Sessions = nil
		for i, c := range sessions {
			bc.Status.Sessions = append(bc.Status.Sessions, corev1alpha1.SessionStatus{Name: "session-" + strconv.Itoa(i), Conditions: c})
		}
	}
}

func withConditions(c ...metav1.Condition) func(*corev1alpha1.BackupConfiguration) {
	return func(bc *corev1alpha1.BackupConfiguration) { bc.Status.Conditions = c }
}

// readyBC is every option that makes the default configuration Ready.
func readyBC(extra ...func(*corev1alpha1.BackupConfiguration)) *corev1alpha1.BackupConfiguration {
	scheduled := conds(condTrue(corev1alpha1.TypeSchedulerEnsured))
	opts := []func(*corev1alpha1.BackupConfiguration){
		withTargetFound(ptr(true)),
		withBackendsReady(ptr(true), ptr(true)),
		withSessionConditions(scheduled, scheduled),
	}
	return backupConfiguration(append(opts, extra...)...)
}

func TestBackupConfigurationPhaseFor(t *testing.T) {
	scheduled := conds(condTrue(corev1alpha1.TypeSchedulerEnsured))
	tests := map[string]struct {
		bc   *corev1alpha1.BackupConfiguration
		want corev1alpha1.BackupInvokerPhase
	}{
		"nothing observed is NotReady": {
			bc:   backupConfiguration(),
			want: corev1alpha1.BackupInvokerNotReady,
		},
		"everything ready is Ready": {
			bc:   readyBC(),
			want: corev1alpha1.BackupInvokerReady,
		},
		"validation passed and everything ready is Ready": {
			bc:   readyBC(withConditions(condTrue(corev1alpha1.TypeValidationPassed))),
			want: corev1alpha1.BackupInvokerReady,
		},
		"validation failed is Invalid even when everything else is ready": {
			bc:   readyBC(withConditions(condFalse(corev1alpha1.TypeValidationPassed))),
			want: corev1alpha1.BackupInvokerInvalid,
		},
		"validation failed is Invalid when nothing else is known": {
			bc:   backupConfiguration(withConditions(condFalse(corev1alpha1.TypeValidationPassed))),
			want: corev1alpha1.BackupInvokerInvalid,
		},
		"validation unknown is not Invalid": {
			bc:   readyBC(withConditions(condUnknown(corev1alpha1.TypeValidationPassed))),
			want: corev1alpha1.BackupInvokerReady,
		},
		"target not checked is NotReady": {
			bc:   readyBC(withTargetFound(nil)),
			want: corev1alpha1.BackupInvokerNotReady,
		},
		"target not found is NotReady": {
			bc:   readyBC(withTargetFound(ptr(false))),
			want: corev1alpha1.BackupInvokerNotReady,
		},
		"a backend not ready is NotReady": {
			bc:   readyBC(withBackendsReady(ptr(true), ptr(false))),
			want: corev1alpha1.BackupInvokerNotReady,
		},
		"a backend with unknown readiness is NotReady": {
			bc:   readyBC(withBackendsReady(nil, ptr(true))),
			want: corev1alpha1.BackupInvokerNotReady,
		},
		"fewer backend statuses than spec backends is NotReady": {
			bc:   readyBC(withBackendsReady(ptr(true))),
			want: corev1alpha1.BackupInvokerNotReady,
		},
		"more backend statuses than spec backends is NotReady": {
			bc:   readyBC(withBackendsReady(ptr(true), ptr(true), ptr(true))),
			want: corev1alpha1.BackupInvokerNotReady,
		},
		"no backends in spec or status (the default backend) is Ready": {
			bc:   readyBC(withSpecBackends(0), withBackendsReady()),
			want: corev1alpha1.BackupInvokerReady,
		},
		"a session scheduler not ensured is NotReady": {
			bc:   readyBC(withSessionConditions(scheduled, conds(condFalse(corev1alpha1.TypeSchedulerEnsured)))),
			want: corev1alpha1.BackupInvokerNotReady,
		},
		"a session without a scheduler condition is NotReady": {
			bc:   readyBC(withSessionConditions(scheduled, nil)),
			want: corev1alpha1.BackupInvokerNotReady,
		},
		"a session whose only condition is InitialBackupTriggered is NotReady": {
			bc:   readyBC(withSessionConditions(scheduled, conds(condTrue(corev1alpha1.TypeInitialBackupTriggered)))),
			want: corev1alpha1.BackupInvokerNotReady,
		},
		"fewer session statuses than spec sessions is NotReady": {
			bc:   readyBC(withSessionConditions(scheduled)),
			want: corev1alpha1.BackupInvokerNotReady,
		},
		"SchedulerEnsured on the configuration instead of the session does not count": {
			bc: readyBC(withSessionConditions(nil, nil),
				withConditions(condTrue(corev1alpha1.TypeSchedulerEnsured))),
			want: corev1alpha1.BackupInvokerNotReady,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := corev1alpha1.BackupConfigurationPhaseFor(tc.bc); got != tc.want {
				t.Errorf("BackupConfigurationPhaseFor() = %q, want %q", got, tc.want)
			}
		})
	}
}

func snapshotRefs(phases ...storagev1alpha1.SnapshotPhase) []corev1alpha1.SnapshotRef {
	refs := make([]corev1alpha1.SnapshotRef, 0, len(phases))
	for i, p := range phases {
		refs = append(refs, corev1alpha1.SnapshotRef{Name: "snap-" + strconv.Itoa(i), Phase: p})
	}
	return refs
}

func retention(phases ...corev1alpha1.RetentionPolicyApplyPhase) []corev1alpha1.RetentionPolicyApplyStatus {
	out := make([]corev1alpha1.RetentionPolicyApplyStatus, 0, len(phases))
	for i, p := range phases {
		out = append(out, corev1alpha1.RetentionPolicyApplyStatus{Repository: "repo-" + strconv.Itoa(i), Phase: p})
	}
	return out
}

func TestBackupSessionPhaseFor(t *testing.T) {
	const (
		pending   = storagev1alpha1.SnapshotPending
		running   = storagev1alpha1.SnapshotRunning
		succeeded = storagev1alpha1.SnapshotSucceeded
		failed    = storagev1alpha1.SnapshotFailed
	)
	pushed := condTrue(corev1alpha1.TypeMetricsPushed)
	tests := map[string]struct {
		conditions []metav1.Condition
		total      *int32
		snapshots  []corev1alpha1.SnapshotRef
		retention  []corev1alpha1.RetentionPolicyApplyStatus
		want       corev1alpha1.BackupSessionPhase
	}{
		// MetricsPushed=False and Skipped.
		"metrics push failed is Failed": {
			conditions: conds(condFalse(corev1alpha1.TypeMetricsPushed)),
			snapshots:  snapshotRefs(succeeded),
			want:       corev1alpha1.BackupSessionFailed,
		},
		"a listed snapshot still running keeps the session Running though the expected count is lower": {
			conditions: conds(pushed),
			total:      ptr[int32](1),
			snapshots:  snapshotRefs(succeeded, running),
			want:       corev1alpha1.BackupSessionRunning,
		},
		"a zero expected count does not finish a running snapshot": {
			conditions: conds(pushed),
			total:      ptr[int32](0),
			snapshots:  snapshotRefs(running),
			want:       corev1alpha1.BackupSessionRunning,
		},
		"metrics push failed is Failed even with no snapshots": {
			conditions: conds(condFalse(corev1alpha1.TypeMetricsPushed)),
			want:       corev1alpha1.BackupSessionFailed,
		},
		"metrics push failed wins over skipped": {
			conditions: conds(condTrue(corev1alpha1.TypeBackupSkipped), condFalse(corev1alpha1.TypeMetricsPushed)),
			want:       corev1alpha1.BackupSessionFailed,
		},
		"skipped is Skipped": {
			conditions: conds(condWithReason(corev1alpha1.TypeBackupSkipped, metav1.ConditionTrue, corev1alpha1.ReasonPreRequisitesNotSatisfied)),
			want:       corev1alpha1.BackupSessionSkipped,
		},
		"skipped is Skipped after metrics were pushed": {
			conditions: conds(condTrue(corev1alpha1.TypeBackupSkipped), pushed),
			want:       corev1alpha1.BackupSessionSkipped,
		},
		"skipped wins over a failed step": {
			conditions: conds(condTrue(corev1alpha1.TypeBackupSkipped), pushed, condFalse(corev1alpha1.TypePreBackupHooksExecutionSucceeded)),
			want:       corev1alpha1.BackupSessionSkipped,
		},
		"BackupSkipped False is not skipped": {
			conditions: conds(condFalse(corev1alpha1.TypeBackupSkipped)),
			want:       corev1alpha1.BackupSessionPending,
		},

		// From the snapshots.
		"nothing yet is Pending": {
			want: corev1alpha1.BackupSessionPending,
		},
		"all snapshots pending is Pending": {
			snapshots: snapshotRefs(pending, pending),
			want:      corev1alpha1.BackupSessionPending,
		},
		"snapshots without a phase count as pending": {
			snapshots: snapshotRefs("", pending),
			want:      corev1alpha1.BackupSessionPending,
		},
		"a running snapshot is Running": {
			snapshots: snapshotRefs(running, pending),
			want:      corev1alpha1.BackupSessionRunning,
		},
		"some snapshots done, others pending is Running": {
			snapshots: snapshotRefs(succeeded, pending),
			want:      corev1alpha1.BackupSessionRunning,
		},
		"a failed snapshot while another runs is Running after metrics push": {
			conditions: conds(pushed),
			snapshots:  snapshotRefs(failed, running),
			want:       corev1alpha1.BackupSessionRunning,
		},
		"fewer snapshots than totalSnapshots is Running after metrics push": {
			conditions: conds(pushed),
			total:      ptr(int32(3)),
			snapshots:  snapshotRefs(succeeded, succeeded),
			want:       corev1alpha1.BackupSessionRunning,
		},
		"all snapshots done matching totalSnapshots is Succeeded": {
			conditions: conds(pushed),
			total:      ptr(int32(2)),
			snapshots:  snapshotRefs(succeeded, succeeded),
			want:       corev1alpha1.BackupSessionSucceeded,
		},
		"all snapshots succeeded and metrics pushed is Succeeded": {
			conditions: conds(pushed),
			snapshots:  snapshotRefs(succeeded, succeeded),
			want:       corev1alpha1.BackupSessionSucceeded,
		},
		"every step True and metrics pushed is Succeeded": {
			conditions: conds(
				condTrue(corev1alpha1.TypeSessionHistoryCleaned),
				condTrue(corev1alpha1.TypePreBackupHooksExecutionSucceeded),
				condTrue(corev1alpha1.TypePostBackupHooksExecutionSucceeded),
				condTrue(corev1alpha1.TypeBackupExecutorEnsured),
				condTrue(corev1alpha1.TypeRetentionPolicyExecutorEnsured),
				condTrue(corev1alpha1.TypeSnapshotsEnsured),
				condFalse(corev1alpha1.TypeSnapshotCleanupIncomplete),
				condFalse(corev1alpha1.TypePodHasBeenInPendingStateForLongerThanExpected),
				pushed,
			),
			snapshots: snapshotRefs(succeeded),
			retention: retention(corev1alpha1.RetentionPolicyApplied),
			want:      corev1alpha1.BackupSessionSucceeded,
		},
		"all done with one failed snapshot and metrics pushed is Failed": {
			conditions: conds(pushed),
			snapshots:  snapshotRefs(succeeded, failed),
			want:       corev1alpha1.BackupSessionFailed,
		},

		// A terminal phase shows only after MetricsPushed is set.
		"all snapshots succeeded before metrics push is Running": {
			snapshots: snapshotRefs(succeeded, succeeded),
			want:      corev1alpha1.BackupSessionRunning,
		},
		"all snapshots succeeded with metrics push unknown is Running": {
			conditions: conds(condUnknown(corev1alpha1.TypeMetricsPushed)),
			snapshots:  snapshotRefs(succeeded),
			want:       corev1alpha1.BackupSessionRunning,
		},
		"a failed snapshot before metrics push is Running": {
			snapshots: snapshotRefs(succeeded, failed),
			want:      corev1alpha1.BackupSessionRunning,
		},
		"a failed step before metrics push is not yet Failed": {
			conditions: conds(condFalse(corev1alpha1.TypePreBackupHooksExecutionSucceeded)),
			snapshots:  snapshotRefs(succeeded),
			want:       corev1alpha1.BackupSessionRunning,
		},
		"a failed step before any snapshot and before metrics push is Pending": {
			conditions: conds(condFalse(corev1alpha1.TypeBackupExecutorEnsured)),
			want:       corev1alpha1.BackupSessionPending,
		},
		"failed retention before metrics push is not yet Failed": {
			snapshots: snapshotRefs(succeeded),
			retention: retention(corev1alpha1.RetentionPolicyFailedToApply),
			want:      corev1alpha1.BackupSessionRunning,
		},

		// A failed step after MetricsPushed fails the session whatever the snapshots say.
		"session history cleanup failed is Failed": {
			conditions: conds(pushed, condFalse(corev1alpha1.TypeSessionHistoryCleaned)),
			snapshots:  snapshotRefs(succeeded),
			want:       corev1alpha1.BackupSessionFailed,
		},
		"pre-backup hooks failed is Failed": {
			conditions: conds(pushed, condFalse(corev1alpha1.TypePreBackupHooksExecutionSucceeded)),
			want:       corev1alpha1.BackupSessionFailed,
		},
		"post-backup hooks failed is Failed": {
			conditions: conds(pushed, condFalse(corev1alpha1.TypePostBackupHooksExecutionSucceeded)),
			snapshots:  snapshotRefs(succeeded),
			want:       corev1alpha1.BackupSessionFailed,
		},
		"backup executor not ensured is Failed": {
			conditions: conds(pushed, condFalse(corev1alpha1.TypeBackupExecutorEnsured)),
			snapshots:  snapshotRefs(pending),
			want:       corev1alpha1.BackupSessionFailed,
		},
		"retention executor not ensured is Failed": {
			conditions: conds(pushed, condFalse(corev1alpha1.TypeRetentionPolicyExecutorEnsured)),
			snapshots:  snapshotRefs(succeeded),
			want:       corev1alpha1.BackupSessionFailed,
		},
		"snapshots not ensured is Failed": {
			conditions: conds(pushed, condFalse(corev1alpha1.TypeSnapshotsEnsured)),
			want:       corev1alpha1.BackupSessionFailed,
		},
		"snapshot cleanup incomplete is Failed": {
			conditions: conds(pushed, condTrue(corev1alpha1.TypeSnapshotCleanupIncomplete)),
			snapshots:  snapshotRefs(succeeded),
			want:       corev1alpha1.BackupSessionFailed,
		},
		"executor pod pending too long is Failed": {
			conditions: conds(pushed, condTrue(corev1alpha1.TypePodHasBeenInPendingStateForLongerThanExpected)),
			snapshots:  snapshotRefs(running),
			want:       corev1alpha1.BackupSessionFailed,
		},
		"a retention entry FailedToApply is Failed": {
			conditions: conds(pushed),
			snapshots:  snapshotRefs(succeeded, succeeded),
			retention:  retention(corev1alpha1.RetentionPolicyApplied, corev1alpha1.RetentionPolicyFailedToApply),
			want:       corev1alpha1.BackupSessionFailed,
		},
		"all retention entries applied is Succeeded": {
			conditions: conds(pushed),
			snapshots:  snapshotRefs(succeeded, succeeded),
			retention:  retention(corev1alpha1.RetentionPolicyApplied, corev1alpha1.RetentionPolicyApplied),
			want:       corev1alpha1.BackupSessionSucceeded,
		},
		"a step condition Unknown is not a failure": {
			conditions: conds(pushed, condUnknown(corev1alpha1.TypeSnapshotsEnsured)),
			snapshots:  snapshotRefs(succeeded),
			want:       corev1alpha1.BackupSessionSucceeded,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := &corev1alpha1.BackupSessionStatus{
				Conditions:      tc.conditions,
				TotalSnapshots:  tc.total,
				Snapshots:       tc.snapshots,
				RetentionPolicy: tc.retention,
			}
			if got := corev1alpha1.BackupSessionPhaseFor(st); got != tc.want {
				t.Errorf("BackupSessionPhaseFor() = %q, want %q", got, tc.want)
			}
		})
	}
}

func restoreComponents(phases ...storagev1alpha1.ComponentPhase) map[string]corev1alpha1.ComponentRestoreStatus {
	if len(phases) == 0 {
		return nil
	}
	m := make(map[string]corev1alpha1.ComponentRestoreStatus, len(phases))
	for i, p := range phases {
		m["c"+strconv.Itoa(i)] = corev1alpha1.ComponentRestoreStatus{Phase: p}
	}
	return m
}

func TestRestoreSessionPhaseFor(t *testing.T) {
	const (
		pending   = storagev1alpha1.ComponentPending
		running   = storagev1alpha1.ComponentRunning
		succeeded = storagev1alpha1.ComponentSucceeded
		failed    = storagev1alpha1.ComponentFailed
	)
	pushed := condTrue(corev1alpha1.TypeMetricsPushed)
	tests := map[string]struct {
		conditions []metav1.Condition
		total      int32
		components map[string]corev1alpha1.ComponentRestoreStatus
		want       corev1alpha1.RestorePhase
	}{
		"a listed component still running keeps the restore Running though the expected count is lower": {
			conditions: conds(pushed),
			total:      1, components: restoreComponents(succeeded, running),
			want: corev1alpha1.RestoreRunning,
		},
		// Invalid and Unknown.
		"validation failed is Invalid": {
			conditions: conds(condWithReason(corev1alpha1.TypeValidationPassed, metav1.ConditionFalse, corev1alpha1.ReasonResourceValidationFailed)),
			want:       corev1alpha1.RestoreInvalid,
		},
		"validation failed wins over metrics push failed": {
			conditions: conds(condFalse(corev1alpha1.TypeValidationPassed), condFalse(corev1alpha1.TypeMetricsPushed)),
			want:       corev1alpha1.RestoreInvalid,
		},
		"validation failed wins over unknown target": {
			conditions: conds(condFalse(corev1alpha1.TypeValidationPassed), condUnknown(corev1alpha1.TypeRestoreTargetFound)),
			want:       corev1alpha1.RestoreInvalid,
		},
		"validation passed is not Invalid": {
			conditions: conds(condTrue(corev1alpha1.TypeValidationPassed)),
			want:       corev1alpha1.RestorePending,
		},
		"target availability Unknown is Unknown": {
			conditions: conds(condUnknown(corev1alpha1.TypeRestoreTargetFound)),
			total:      1, components: restoreComponents(running),
			want: corev1alpha1.RestoreUnknown,
		},
		"unable to check the target is Unknown": {
			conditions: conds(condWithReason(corev1alpha1.TypeRestoreTargetFound, metav1.ConditionFalse, corev1alpha1.ReasonUnableToCheckTargetAvailability)),
			want:       corev1alpha1.RestoreUnknown,
		},
		"unknown target wins over metrics push failed": {
			conditions: conds(condUnknown(corev1alpha1.TypeRestoreTargetFound), condFalse(corev1alpha1.TypeMetricsPushed)),
			want:       corev1alpha1.RestoreUnknown,
		},

		// MetricsPushed=False.
		"metrics push failed is Failed": {
			conditions: conds(condFalse(corev1alpha1.TypeMetricsPushed)),
			total:      1, components: restoreComponents(succeeded),
			want: corev1alpha1.RestoreFailed,
		},

		// From the components.
		"nothing yet is Pending": {
			want: corev1alpha1.RestorePending,
		},
		"all components pending is Pending": {
			total: 2, components: restoreComponents(pending, ""),
			want: corev1alpha1.RestorePending,
		},
		"a running component is Running": {
			total: 2, components: restoreComponents(running, pending),
			want: corev1alpha1.RestoreRunning,
		},
		"fewer components reported than total is Running after metrics push": {
			conditions: conds(pushed),
			total:      3, components: restoreComponents(succeeded, succeeded),
			want: corev1alpha1.RestoreRunning,
		},
		"a failed component while another runs is Running after metrics push": {
			conditions: conds(pushed),
			total:      2, components: restoreComponents(failed, running),
			want: corev1alpha1.RestoreRunning,
		},
		"all components succeeded and metrics pushed is Succeeded": {
			conditions: conds(pushed),
			total:      2, components: restoreComponents(succeeded, succeeded),
			want: corev1alpha1.RestoreSucceeded,
		},
		"total unset counts the components present": {
			conditions: conds(pushed),
			total:      0, components: restoreComponents(succeeded, succeeded),
			want: corev1alpha1.RestoreSucceeded,
		},
		"every step True, target found and metrics pushed is Succeeded": {
			conditions: conds(
				condTrue(corev1alpha1.TypeValidationPassed),
				condWithReason(corev1alpha1.TypeRestoreTargetFound, metav1.ConditionTrue, corev1alpha1.ReasonRestoreTargetFound),
				condTrue(corev1alpha1.TypeRestoreExecutorEnsured),
				condTrue(corev1alpha1.TypePreRestoreHooksExecutionSucceeded),
				condTrue(corev1alpha1.TypePostRestoreHooksExecutionSucceeded),
				condFalse(corev1alpha1.TypeRestoreIncomplete),
				pushed,
			),
			total: 1, components: restoreComponents(succeeded),
			want: corev1alpha1.RestoreSucceeded,
		},
		"all done with a failed component and metrics pushed is Failed": {
			conditions: conds(pushed),
			total:      2, components: restoreComponents(succeeded, failed),
			want: corev1alpha1.RestoreFailed,
		},

		// A terminal phase shows only after MetricsPushed is set.
		"all components succeeded before metrics push is Running": {
			total: 2, components: restoreComponents(succeeded, succeeded),
			want: corev1alpha1.RestoreRunning,
		},
		"a failed component before metrics push is Running": {
			total: 1, components: restoreComponents(failed),
			want: corev1alpha1.RestoreRunning,
		},
		"a failed step before metrics push is not yet Failed": {
			conditions: conds(condFalse(corev1alpha1.TypeRestoreExecutorEnsured)),
			total:      1, components: restoreComponents(succeeded),
			want: corev1alpha1.RestoreRunning,
		},

		// A failed step after MetricsPushed fails the restore.
		"restore executor not ensured is Failed": {
			conditions: conds(pushed, condFalse(corev1alpha1.TypeRestoreExecutorEnsured)),
			want:       corev1alpha1.RestoreFailed,
		},
		"pre-restore hooks failed is Failed": {
			conditions: conds(pushed, condFalse(corev1alpha1.TypePreRestoreHooksExecutionSucceeded)),
			total:      1, components: restoreComponents(pending),
			want: corev1alpha1.RestoreFailed,
		},
		"post-restore hooks failed is Failed": {
			conditions: conds(pushed, condFalse(corev1alpha1.TypePostRestoreHooksExecutionSucceeded)),
			total:      1, components: restoreComponents(succeeded),
			want: corev1alpha1.RestoreFailed,
		},
		"restore incomplete is Failed": {
			conditions: conds(pushed, condTrue(corev1alpha1.TypeRestoreIncomplete)),
			total:      1, components: restoreComponents(succeeded),
			want: corev1alpha1.RestoreFailed,
		},
		"target not found is Failed": {
			conditions: conds(pushed, condWithReason(corev1alpha1.TypeRestoreTargetFound, metav1.ConditionFalse, corev1alpha1.ReasonRestoreTargetNotFound)),
			want:       corev1alpha1.RestoreFailed,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := &corev1alpha1.RestoreSessionStatus{
				Conditions:      tc.conditions,
				TotalComponents: tc.total,
				Components:      tc.components,
			}
			if got := corev1alpha1.RestoreSessionPhaseFor(st); got != tc.want {
				t.Errorf("RestoreSessionPhaseFor() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBackupVerificationSessionPhaseFor(t *testing.T) {
	cleaned := condTrue(corev1alpha1.TypeVerificationSessionHistoryCleaned)
	restored := condTrue(corev1alpha1.TypeRestoreSucceeded)
	verified := condTrue(corev1alpha1.TypeBackupVerified)
	tests := map[string]struct {
		conditions []metav1.Condition
		want       corev1alpha1.BackupVerificationSessionPhase
	}{
		"nothing yet is Running": {
			want: corev1alpha1.VerificationRunning,
		},
		"executor not ensured fails once history is cleaned": {
			conditions: conds(condFalse(corev1alpha1.TypeVerificationExecutorEnsured), cleaned),
			want:       corev1alpha1.VerificationFailed,
		},
		"history cleanup failed is Failed": {
			conditions: conds(condFalse(corev1alpha1.TypeVerificationSessionHistoryCleaned), restored, verified),
			want:       corev1alpha1.VerificationFailed,
		},
		"history cleanup failed wins over skipped": {
			conditions: conds(condFalse(corev1alpha1.TypeVerificationSessionHistoryCleaned), condTrue(corev1alpha1.TypeBackupVerificationSkipped)),
			want:       corev1alpha1.VerificationFailed,
		},
		"already verified snapshot is Skipped": {
			conditions: conds(condWithReason(corev1alpha1.TypeBackupVerificationSkipped, metav1.ConditionTrue, corev1alpha1.ReasonSnapshotAlreadyVerified)),
			want:       corev1alpha1.VerificationSkipped,
		},
		"skipped after history cleanup is Skipped": {
			conditions: conds(condTrue(corev1alpha1.TypeBackupVerificationSkipped), cleaned),
			want:       corev1alpha1.VerificationSkipped,
		},
		"BackupVerificationSkipped False is not skipped": {
			conditions: conds(condFalse(corev1alpha1.TypeBackupVerificationSkipped), cleaned, restored, verified),
			want:       corev1alpha1.VerificationSucceeded,
		},

		// Terminal only once history cleanup ran.
		"restored and verified before history cleanup is Running": {
			conditions: conds(restored, verified),
			want:       corev1alpha1.VerificationRunning,
		},
		"restore failed before history cleanup is Running": {
			conditions: conds(condFalse(corev1alpha1.TypeRestoreSucceeded)),
			want:       corev1alpha1.VerificationRunning,
		},
		"verification failed before history cleanup is Running": {
			conditions: conds(restored, condFalse(corev1alpha1.TypeBackupVerified)),
			want:       corev1alpha1.VerificationRunning,
		},
		"history cleanup Unknown is Running": {
			conditions: conds(condUnknown(corev1alpha1.TypeVerificationSessionHistoryCleaned), restored, verified),
			want:       corev1alpha1.VerificationRunning,
		},

		// After history cleanup.
		"restored and verified after history cleanup is Succeeded": {
			conditions: conds(condTrue(corev1alpha1.TypeVerificationExecutorEnsured), restored, verified, cleaned),
			want:       corev1alpha1.VerificationSucceeded,
		},
		"restore failed after history cleanup is Failed": {
			conditions: conds(condWithReason(corev1alpha1.TypeRestoreSucceeded, metav1.ConditionFalse, corev1alpha1.ReasonFailedToRestoreBackup), cleaned),
			want:       corev1alpha1.VerificationFailed,
		},
		"restore failed wins over a verified backup": {
			conditions: conds(condFalse(corev1alpha1.TypeRestoreSucceeded), verified, cleaned),
			want:       corev1alpha1.VerificationFailed,
		},
		"verification failed after history cleanup is Failed": {
			conditions: conds(restored, condWithReason(corev1alpha1.TypeBackupVerified, metav1.ConditionFalse, corev1alpha1.ReasonFailedToVerifyBackup), cleaned),
			want:       corev1alpha1.VerificationFailed,
		},
		// Coffer, unlike KubeStash, needs BackupVerified=True to report Succeeded.
		"history cleaned with nothing else is not Succeeded": {
			conditions: conds(cleaned),
			want:       corev1alpha1.VerificationRunning,
		},
		"restored but not verified after history cleanup is not Succeeded": {
			conditions: conds(restored, cleaned),
			want:       corev1alpha1.VerificationRunning,
		},
		"verification Unknown after history cleanup is not Succeeded": {
			conditions: conds(restored, condUnknown(corev1alpha1.TypeBackupVerified), cleaned),
			want:       corev1alpha1.VerificationRunning,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := corev1alpha1.BackupVerificationSessionPhaseFor(tc.conditions); got != tc.want {
				t.Errorf("BackupVerificationSessionPhaseFor() = %q, want %q", got, tc.want)
			}
		})
	}
}
