package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

// BackupConfigurationPhaseFor is Invalid when validation failed, Ready when the target was found,
// every backend in the spec is ready and every session's scheduler is ensured, else NotReady.
func BackupConfigurationPhaseFor(bc *BackupConfiguration) BackupInvokerPhase {
	st := &bc.Status
	if shared.IsFalse(st.Conditions, TypeValidationPassed) {
		return BackupInvokerInvalid
	}
	if st.TargetFound == nil || !*st.TargetFound {
		return BackupInvokerNotReady
	}
	if len(st.Backends) != len(bc.Spec.Backends) {
		return BackupInvokerNotReady
	}
	for _, b := range st.Backends {
		if b.Ready == nil || !*b.Ready {
			return BackupInvokerNotReady
		}
	}
	if len(st.Sessions) != len(bc.Spec.Sessions) {
		return BackupInvokerNotReady
	}
	for _, s := range st.Sessions {
		if !shared.IsTrue(s.Conditions, TypeSchedulerEnsured) {
			return BackupInvokerNotReady
		}
	}
	return BackupInvokerReady
}

// backupSessionSteps are the steps whose False condition fails a BackupSession.
var backupSessionSteps = []shared.ConditionType{
	TypeSessionHistoryCleaned,
	TypePreBackupHooksExecutionSucceeded,
	TypePostBackupHooksExecutionSucceeded,
	TypeBackupExecutorEnsured,
	TypeRetentionPolicyExecutorEnsured,
	TypeSnapshotsEnsured,
}

// BackupSessionPhaseFor derives a backup session's phase. Skipped and a failed metrics push win;
// a terminal phase is shown only once MetricsPushed is set (the last step), so a session is never
// reported finished while its bookkeeping still runs.
func BackupSessionPhaseFor(st *BackupSessionStatus) BackupSessionPhase {
	c := st.Conditions
	if shared.IsFalse(c, TypeMetricsPushed) {
		return BackupSessionFailed
	}
	if shared.IsTrue(c, TypeBackupSkipped) {
		return BackupSessionSkipped
	}
	pushed := shared.IsTrue(c, TypeMetricsPushed)
	if pushed && backupStepFailed(st) {
		return BackupSessionFailed
	}
	phase := phaseFromSnapshots(st)
	if !pushed && (phase == BackupSessionSucceeded || phase == BackupSessionFailed) {
		return BackupSessionRunning
	}
	return phase
}

func backupStepFailed(st *BackupSessionStatus) bool {
	for _, t := range backupSessionSteps {
		if shared.IsFalse(st.Conditions, t) {
			return true
		}
	}
	if shared.IsTrue(st.Conditions, TypeSnapshotCleanupIncomplete) ||
		shared.IsTrue(st.Conditions, TypePodHasBeenInPendingStateForLongerThanExpected) {
		return true
	}
	for _, r := range st.RetentionPolicy {
		if r.Phase == RetentionPolicyFailedToApply {
			return true
		}
	}
	return false
}

func phaseFromSnapshots(st *BackupSessionStatus) BackupSessionPhase {
	// Done means every expected snapshot and every listed one finished: a listed snapshot that
	// still runs keeps the session Running even if the expected count is lower.
	total := len(st.Snapshots)
	if st.TotalSnapshots != nil {
		total = max(total, int(*st.TotalSnapshots))
	}
	var pending, failed, done int
	for _, s := range st.Snapshots {
		switch s.Phase {
		case storagev1alpha1.SnapshotPending, "":
			pending++
		case storagev1alpha1.SnapshotFailed:
			failed++
			done++
		case storagev1alpha1.SnapshotSucceeded:
			done++
		}
	}
	switch {
	case len(st.Snapshots) == 0 || pending == len(st.Snapshots):
		return BackupSessionPending
	case done < total:
		return BackupSessionRunning
	case failed > 0:
		return BackupSessionFailed
	default:
		return BackupSessionSucceeded
	}
}

var restoreSteps = []shared.ConditionType{
	TypeRestoreExecutorEnsured,
	TypePreRestoreHooksExecutionSucceeded,
	TypePostRestoreHooksExecutionSucceeded,
}

// RestoreSessionPhaseFor derives a restore session's phase with the backup session's scheme,
// plus Invalid (validation failed) and Unknown (the target's existence could not be checked).
func RestoreSessionPhaseFor(st *RestoreSessionStatus) RestorePhase {
	c := st.Conditions
	if shared.IsFalse(c, TypeValidationPassed) {
		return RestoreInvalid
	}
	if t := shared.FindCondition(c, TypeRestoreTargetFound); t != nil &&
		(t.Status == metav1.ConditionUnknown || t.Reason == string(ReasonUnableToCheckTargetAvailability)) {
		return RestoreUnknown
	}
	if shared.IsFalse(c, TypeMetricsPushed) {
		return RestoreFailed
	}
	pushed := shared.IsTrue(c, TypeMetricsPushed)
	if pushed && restoreStepFailed(c) {
		return RestoreFailed
	}
	phase := phaseFromComponents(st)
	if !pushed && (phase == RestoreSucceeded || phase == RestoreFailed) {
		return RestoreRunning
	}
	return phase
}

func restoreStepFailed(c []metav1.Condition) bool {
	for _, t := range restoreSteps {
		if shared.IsFalse(c, t) {
			return true
		}
	}
	return shared.IsTrue(c, TypeRestoreIncomplete) || shared.IsFalse(c, TypeRestoreTargetFound)
}

func phaseFromComponents(st *RestoreSessionStatus) RestorePhase {
	total := max(int(st.TotalComponents), len(st.Components))
	var pending, failed, done int
	for _, comp := range st.Components {
		switch comp.Phase {
		case storagev1alpha1.ComponentPending, "":
			pending++
		case storagev1alpha1.ComponentFailed:
			failed++
			done++
		case storagev1alpha1.ComponentSucceeded:
			done++
		}
	}
	switch {
	case len(st.Components) == 0 || pending == len(st.Components):
		return RestorePending
	case done < total:
		return RestoreRunning
	case failed > 0:
		return RestoreFailed
	default:
		return RestoreSucceeded
	}
}

// BackupVerificationSessionPhaseFor derives a verification session's phase: Skipped when the
// snapshot was already verified; terminal only once history cleanup (the last step) ran.
// KubeStash reports Succeeded once cleanup ran and nothing failed; Coffer also requires
// BackupVerified=True, so a session can never claim success for a verification that was not made,
// and fails it when the verifier executor could not be ensured, so it cannot stay Running forever.
func BackupVerificationSessionPhaseFor(c []metav1.Condition) BackupVerificationSessionPhase {
	if shared.IsFalse(c, TypeVerificationSessionHistoryCleaned) {
		return VerificationFailed
	}
	if shared.IsTrue(c, TypeBackupVerificationSkipped) {
		return VerificationSkipped
	}
	if !shared.IsTrue(c, TypeVerificationSessionHistoryCleaned) {
		return VerificationRunning
	}
	switch {
	case shared.IsFalse(c, TypeRestoreSucceeded) || shared.IsFalse(c, TypeBackupVerified) ||
		shared.IsFalse(c, TypeVerificationExecutorEnsured):
		return VerificationFailed
	case shared.IsTrue(c, TypeBackupVerified):
		return VerificationSucceeded
	default:
		return VerificationRunning
	}
}
