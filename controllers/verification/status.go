package verification

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
)

// apply writes the facts into the session's status; the phase is derived from the conditions.
func (f *facts) apply(bvs *corev1alpha1.BackupVerificationSession) {
	st := &bvs.Status
	gen := bvs.Generation
	set := func(t shared.ConditionType, ok bool, trueReason, falseReason shared.ConditionReason, msg string) {
		status, reason := metav1.ConditionTrue, trueReason
		if !ok {
			status, reason = metav1.ConditionFalse, falseReason
		}
		meta.SetStatusCondition(&st.Conditions, shared.NewCondition(t, status, reason, msg, gen))
	}
	if f.historyErr != "" {
		set(corev1alpha1.TypeVerificationSessionHistoryCleaned, false, "", corev1alpha1.ReasonFailedToCleanVerificationSessionHistory, f.historyErr)
	} else {
		set(corev1alpha1.TypeVerificationSessionHistoryCleaned, true, corev1alpha1.ReasonSuccessfullyCleanedVerificationSessionHistory, "",
			"Older finished sessions beyond sessionHistoryLimit were removed")
	}
	if f.snapshot != nil {
		st.Snapshot = f.snapshot.Name
	}
	switch {
	case f.executorErr != "":
		set(corev1alpha1.TypeVerificationExecutorEnsured, false, "", corev1alpha1.ReasonFailedToEnsureVerificationExecutor, f.executorErr)
	case f.skippedBy != "":
		meta.SetStatusCondition(&st.Conditions, shared.NewCondition(corev1alpha1.TypeBackupVerificationSkipped, metav1.ConditionTrue,
			corev1alpha1.ReasonSnapshotAlreadyVerified, fmt.Sprintf("Snapshot %s was already verified by %s", f.snapshot.Name, f.skippedBy), gen))
	case f.snapshotErr != "":
		set(corev1alpha1.TypeRestoreSucceeded, false, "", corev1alpha1.ReasonFailedToRestoreBackup, f.snapshotErr)
	case f.verifierJob != "":
		set(corev1alpha1.TypeVerificationExecutorEnsured, true, corev1alpha1.ReasonSuccessfullyEnsuredVerificationExecutor, "",
			fmt.Sprintf("RestoreSession %s restored Snapshot %s; Job %s judges the restored data", f.restoreSession, f.snapshot.Name, f.verifierJob))
	case f.restoreSession != "":
		set(corev1alpha1.TypeVerificationExecutorEnsured, true, corev1alpha1.ReasonSuccessfullyEnsuredVerificationExecutor, "",
			fmt.Sprintf("RestoreSession %s restores Snapshot %s", f.restoreSession, f.snapshot.Name))
	}
	if f.restore != nil {
		if st.Observations == nil {
			st.Observations = &corev1alpha1.VerificationObservations{}
		}
		st.Observations.Restore = f.restore
		if f.restore.Phase == corev1alpha1.RestoreSucceeded {
			set(corev1alpha1.TypeRestoreSucceeded, true, corev1alpha1.ReasonSuccessfullyRestoredBackup, "",
				fmt.Sprintf("RestoreSession %s restored Snapshot %s", f.restore.RestoreSession, f.snapshot.Name))
		} else {
			msg := fmt.Sprintf("RestoreSession %s ended %s", f.restore.RestoreSession, f.restore.Phase)
			if f.restore.Error != "" {
				msg += ": " + f.restore.Error
			}
			set(corev1alpha1.TypeRestoreSucceeded, false, "", corev1alpha1.ReasonFailedToRestoreBackup, msg)
		}
	}
	if f.verified != nil {
		st.ConditionResults = f.results
		if *f.verified {
			set(corev1alpha1.TypeBackupVerified, true, corev1alpha1.ReasonSuccessfullyVerifiedBackup, "", verifiedMessage(f.results))
		} else {
			msg := failedMessage(f.results)
			if f.verifierErr != "" {
				msg = truncate(f.verifierErr+"; "+msg, corev1alpha1.MaxConditionMessageBytes)
			}
			set(corev1alpha1.TypeBackupVerified, false, "", corev1alpha1.ReasonFailedToVerifyBackup, msg)
		}
	}
	st.Phase = corev1alpha1.BackupVerificationSessionPhaseFor(st.Conditions)
	if finished(st.Phase) && st.Duration == "" {
		st.Duration = f.now.Sub(bvs.CreationTimestamp.Time).Round(time.Second).String()
	}
	st.ObservedGeneration = gen
}

func verifiedMessage(results []corev1alpha1.ConditionResult) string {
	if len(results) == 0 {
		return "The snapshot was restored; the verifier has no conditions"
	}
	names := make([]string, len(results))
	for i, r := range results {
		names[i] = r.Name
	}
	return "Every condition holds: " + strings.Join(names, ", ")
}

// failedMessage names each condition that does not hold, with its message.
func failedMessage(results []corev1alpha1.ConditionResult) string {
	var failed []string
	for _, r := range results {
		if !r.Passed {
			failed = append(failed, fmt.Sprintf("%s: %s", r.Name, r.Message))
		}
	}
	return truncate(strings.Join(failed, "; "), corev1alpha1.MaxConditionMessageBytes)
}
