package backupsession

import (
	"context"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/controllers/internal/flow"
)

// facts are what the phases observed and did; status is computed from them alone.
type facts struct {
	now              time.Time
	invokerProblem   string
	skipped          string
	deadline         *metav1.Time
	targetProblem    string
	snapshotsEnsured bool
	snapshotsErr     string
	preHooks         []corev1alpha1.HookExecutionStatus
	preHooksErr      string
	executorEnsured  bool
	executorErr      string
	postHooks        []corev1alpha1.HookExecutionStatus
	postHooksErr     string
	retention        []corev1alpha1.RetentionPolicyApplyStatus
	retentionEnsured bool
	retentionErr     string
	metricsPushed    bool
	historyCleaned   bool
	historyErr       string
	retried          bool
	nextRetry        *metav1.Time
}

// stopped: the session will not back anything up (no invoker, or skipped).
func (f *facts) stopped() bool { return f.invokerProblem != "" || f.skipped != "" }

func (f *facts) hooksFailed() bool { return f.preHooksErr != "" }

// sawJobsBefore: Jobs were created by an earlier reconcile, so a missing one was deleted.
func (f *facts) sawJobsBefore(bs *corev1alpha1.BackupSession) bool {
	return shared.IsTrue(bs.Status.Conditions, corev1alpha1.TypeBackupExecutorEnsured)
}

func (f *facts) snapshotsSucceeded(s *scope) bool {
	if len(s.snapshots) == 0 {
		return false
	}
	for _, snap := range s.snapshots {
		if snap.Status.Phase != storagev1alpha1.SnapshotSucceeded {
			return false
		}
	}
	return true
}

// phase is the phase the session will have once these facts are written.
func (s *scope) phase() corev1alpha1.BackupSessionPhase {
	bs := s.bs.DeepCopy()
	s.apply(bs)
	return corev1alpha1.BackupSessionPhaseFor(&bs.Status)
}

func (s *scope) failureSummary() string {
	var why []string
	for _, m := range []string{s.facts.invokerProblem, s.facts.targetProblem, s.facts.snapshotsErr, s.facts.preHooksErr, s.facts.postHooksErr} {
		if m != "" {
			why = append(why, m)
		}
	}
	for _, snap := range s.snapshots {
		for name, c := range snap.Status.Components {
			if c.Phase == storagev1alpha1.ComponentFailed {
				why = append(why, "snapshot "+snap.Name+" component "+name+": "+c.Error)
			}
		}
	}
	for _, r := range s.facts.retention {
		if r.Error != "" {
			why = append(why, "retention of "+r.Repository+": "+r.Error)
		}
	}
	return strings.Join(why, "; ")
}

func setCond(conds *[]metav1.Condition, gen int64, t shared.ConditionType, ok bool, yes, no shared.ConditionReason, yesMsg, noMsg string) {
	if ok {
		meta.SetStatusCondition(conds, shared.NewCondition(t, metav1.ConditionTrue, yes, yesMsg, gen))
	} else {
		meta.SetStatusCondition(conds, shared.NewCondition(t, metav1.ConditionFalse, no, noMsg, gen))
	}
}

// apply writes the facts into bs.Status.
func (s *scope) apply(bs *corev1alpha1.BackupSession) {
	f := &s.facts
	st := &bs.Status
	gen := bs.Generation
	c := &st.Conditions
	if f.invokerProblem != "" {
		setCond(c, gen, corev1alpha1.TypeBackupExecutorEnsured, false, "", corev1alpha1.ReasonFailedToEnsureBackupExecutor, "", f.invokerProblem)
	}
	if f.skipped != "" {
		meta.SetStatusCondition(c, shared.NewCondition(corev1alpha1.TypeBackupSkipped, metav1.ConditionTrue, corev1alpha1.ReasonPreRequisitesNotSatisfied, f.skipped, gen))
	}
	if f.deadline != nil {
		st.BackupDeadline = f.deadline
	}
	switch {
	case f.targetProblem != "":
		setCond(c, gen, corev1alpha1.TypeSnapshotsEnsured, false, "", corev1alpha1.ReasonFailedToEnsureSnapshots, "", f.targetProblem)
	case f.snapshotsErr != "":
		setCond(c, gen, corev1alpha1.TypeSnapshotsEnsured, false, "", corev1alpha1.ReasonFailedToEnsureSnapshots, "", f.snapshotsErr)
	case f.snapshotsEnsured:
		setCond(c, gen, corev1alpha1.TypeSnapshotsEnsured, true, corev1alpha1.ReasonSuccessfullyEnsuredSnapshots, "", "A Snapshot exists for every repository", "")
	}
	if f.preHooks != nil || f.preHooksErr != "" {
		st.Hooks.PreHooks = f.preHooks
		setCond(c, gen, corev1alpha1.TypePreBackupHooksExecutionSucceeded, f.preHooksErr == "",
			corev1alpha1.ReasonSuccessfullyExecutedPreBackupHooks, corev1alpha1.ReasonFailedToExecutePreBackupHooks, "Every pre-backup hook succeeded", f.preHooksErr)
	}
	switch {
	case f.executorErr != "":
		setCond(c, gen, corev1alpha1.TypeBackupExecutorEnsured, false, "", corev1alpha1.ReasonFailedToEnsureBackupExecutor, "", f.executorErr)
	case f.executorEnsured:
		setCond(c, gen, corev1alpha1.TypeBackupExecutorEnsured, true, corev1alpha1.ReasonSuccessfullyEnsuredBackupExecutor, "", "A backup Job exists for every component", "")
	}
	if s.snapshots != nil {
		refs := make([]corev1alpha1.SnapshotRef, 0, len(s.snapshots))
		for _, snap := range s.snapshots {
			refs = append(refs, corev1alpha1.SnapshotRef{Name: snap.Name, Phase: snap.Status.Phase, AppRef: snap.Spec.AppRef, Repository: snap.Spec.Repository})
		}
		st.Snapshots = refs
	}
	if s.bc != nil && f.invokerProblem == "" && f.skipped == "" && f.targetProblem == "" {
		st.TotalSnapshots = ptr.To(int32(len(s.session.Repositories)))
	}
	if f.postHooks != nil || f.postHooksErr != "" {
		st.Hooks.PostHooks = f.postHooks
		setCond(c, gen, corev1alpha1.TypePostBackupHooksExecutionSucceeded, f.postHooksErr == "",
			corev1alpha1.ReasonSuccessfullyExecutedPostBackupHooks, corev1alpha1.ReasonFailedToExecutePostBackupHooks, "Every post-backup hook succeeded", f.postHooksErr)
	}
	if f.retention != nil {
		st.RetentionPolicy = f.retention
	}
	switch {
	case f.retentionErr != "":
		setCond(c, gen, corev1alpha1.TypeRetentionPolicyExecutorEnsured, false, "", corev1alpha1.ReasonFailedToEnsureRetentionPolicyExecutor, "", f.retentionErr)
	case f.retentionEnsured && len(f.retention) > 0:
		setCond(c, gen, corev1alpha1.TypeRetentionPolicyExecutorEnsured, true, corev1alpha1.ReasonSuccessfullyEnsuredRetentionPolicyExecutor, "", "A retention Job exists for every repository with a policy", "")
	}
	if f.metricsPushed {
		meta.SetStatusCondition(c, shared.NewCondition(corev1alpha1.TypeMetricsPushed, metav1.ConditionTrue, corev1alpha1.ReasonSuccessfullyPushedMetrics, "Session metrics recorded", gen))
	}
	switch {
	case f.historyErr != "":
		setCond(c, gen, corev1alpha1.TypeSessionHistoryCleaned, false, "", corev1alpha1.ReasonFailedToCleanSessionHistory, "", f.historyErr)
	case f.historyCleaned:
		setCond(c, gen, corev1alpha1.TypeSessionHistoryCleaned, true, corev1alpha1.ReasonSuccessfullyCleanedSessionHistory, "", "Older sessions beyond sessionHistoryLimit were removed", "")
	}
	if f.retried {
		st.Retried = ptr.To(true)
	}
	if f.nextRetry != nil {
		st.NextRetry = f.nextRetry
	}
	st.Phase = corev1alpha1.BackupSessionPhaseFor(st)
	if st.Duration == "" && (st.Phase == corev1alpha1.BackupSessionSucceeded || st.Phase == corev1alpha1.BackupSessionFailed) {
		st.Duration = f.now.Sub(bs.CreationTimestamp.Time).Round(time.Second).String()
	}
}

func (r *Reconciler) patchStatus(ctx context.Context, orig *corev1alpha1.BackupSession, s *scope) error {
	s.apply(s.bs)
	s.bs.Status.ObservedGeneration = s.bs.Generation
	if equality.Semantic.DeepEqual(orig.Status, s.bs.Status) {
		return nil
	}
	if orig.Status.Phase != s.bs.Status.Phase {
		typ := corev1.EventTypeNormal
		if s.bs.Status.Phase == corev1alpha1.BackupSessionFailed {
			typ = corev1.EventTypeWarning
		}
		flow.Eventf(r.Recorder, s.bs, typ, "Phase"+string(s.bs.Status.Phase), "Backup", "BackupSession is %s", s.bs.Status.Phase)
	}
	return r.Client.Status().Patch(ctx, s.bs, client.MergeFrom(orig))
}
