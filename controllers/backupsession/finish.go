package backupsession

import (
	"context"
	"fmt"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/controllers/backupconfiguration"
	"github.com/cofferhq/coffer/controllers/executor"
	"github.com/cofferhq/coffer/controllers/internal/flow"
)

// applyRetention runs one retention Job per repository whose backend has a RetentionPolicy,
// after a successful session, and records each outcome in status.retentionPolicy.
func (r *Reconciler) applyRetention(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.facts.stopped() || finished(s.bs) || !s.facts.snapshotsSucceeded(s) {
		return ctrl.Result{}, nil
	}
	backends := map[string]corev1alpha1.BackendReference{}
	for _, b := range s.bc.Spec.Backends {
		backends[b.Name] = b
	}
	waiting := false
	for _, ri := range s.session.Repositories {
		b, ok := backends[ri.Backend]
		if !ok && len(s.bc.Spec.Backends) == 1 {
			b = s.bc.Spec.Backends[0]
		}
		if b.RetentionPolicy == nil {
			continue
		}
		ref := *b.RetentionPolicy
		ref.Namespace = shared.NamespaceOr(ref.Namespace, s.bc.Namespace)
		entry := corev1alpha1.RetentionPolicyApplyStatus{Ref: &ref, Repository: ri.Name, Phase: corev1alpha1.RetentionPolicyPending}
		if prev := previousRetention(s.bs, ri.Name); prev != nil && prev.Phase != corev1alpha1.RetentionPolicyPending {
			s.facts.retention = append(s.facts.retention, *prev)
			continue
		}
		var repo storagev1alpha1.Repository
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: s.bs.Namespace, Name: ri.Name}, &repo); err != nil {
			return ctrl.Result{}, err
		}
		local, err := r.localStorageOf(ctx, s.bs.Namespace, ri.Name)
		if err != nil {
			return ctrl.Result{}, err
		}
		job := executor.RetentionJob(r.Executor, s.bs, &repo, ref, local)
		if err := r.createOwned(ctx, s.bs, job); err != nil {
			s.facts.retentionErr = err.Error()
			return ctrl.Result{}, err
		}
		var got batchv1.Job
		if err := r.Client.Get(ctx, client.ObjectKeyFromObject(job), &got); err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
		switch {
		case executor.Succeeded(&got):
			entry.Phase = corev1alpha1.RetentionPolicyApplied
		case jobFailure(&got, nil) != "":
			entry.Phase = corev1alpha1.RetentionPolicyFailedToApply
			entry.Error = jobFailure(&got, nil) + executor.PodMessage(ctx, r.Client, &got)
			flow.Eventf(r.Recorder, s.bs, corev1.EventTypeWarning, "RetentionFailed", "Retention", "Repository %s: %s", ri.Name, entry.Error)
		default:
			waiting = true
		}
		s.facts.retention = append(s.facts.retention, entry)
	}
	s.facts.retentionEnsured = true
	if waiting {
		return ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	return ctrl.Result{}, nil
}

func previousRetention(bs *corev1alpha1.BackupSession, repo string) *corev1alpha1.RetentionPolicyApplyStatus {
	for i := range bs.Status.RetentionPolicy {
		if bs.Status.RetentionPolicy[i].Repository == repo {
			return &bs.Status.RetentionPolicy[i]
		}
	}
	return nil
}

// pushMetrics is the session's last bookkeeping step: once it is recorded the phase may turn
// terminal (BackupSessionPhaseFor).
func (r *Reconciler) pushMetrics(_ context.Context, s *scope) (ctrl.Result, error) {
	if shared.IsTrue(s.bs.Status.Conditions, corev1alpha1.TypeMetricsPushed) {
		s.facts.metricsPushed = true
		return ctrl.Result{}, nil
	}
	s.facts.metricsPushed = true
	phase := s.phase()
	recordSession(s.bs, phase, s.snapshots, s.facts.now)
	if phase == corev1alpha1.BackupSessionFailed {
		flow.Eventf(r.Recorder, s.bs, corev1.EventTypeWarning, "BackupFailed", "Backup", "%s", s.failureSummary())
	} else {
		flow.Eventf(r.Recorder, s.bs, corev1.EventTypeNormal, "Backup"+string(phase), "Backup", "BackupSession %s", phase)
	}
	return ctrl.Result{}, nil
}

// cleanHistory keeps the newest sessionHistoryLimit finished sessions of this configuration's
// session and deletes older ones (their Jobs go with them; Snapshots belong to Repositories).
// A failed session whose retry is still due is kept.
func (r *Reconciler) cleanHistory(ctx context.Context, s *scope) (ctrl.Result, error) {
	if shared.IsTrue(s.bs.Status.Conditions, corev1alpha1.TypeSessionHistoryCleaned) {
		s.facts.historyCleaned = true
		return ctrl.Result{}, nil
	}
	limit := DefaultSessionHistoryLimit
	if s.session.SessionHistoryLimit > 0 {
		limit = int(s.session.SessionHistoryLimit)
	}
	var list corev1alpha1.BackupSessionList
	if err := r.Client.List(ctx, &list, client.InNamespace(s.bs.Namespace)); err != nil {
		s.facts.historyErr = err.Error()
		return ctrl.Result{}, err
	}
	var done []corev1alpha1.BackupSession
	for _, o := range list.Items {
		if o.Spec.Invoker != s.bs.Spec.Invoker || o.Spec.Session != s.bs.Spec.Session || o.Name == s.bs.Name || !finished(&o) {
			continue
		}
		if o.Status.Phase == corev1alpha1.BackupSessionFailed && o.Spec.RetryLeft > 0 && (o.Status.Retried == nil || !*o.Status.Retried) {
			continue
		}
		done = append(done, o)
	}
	sort.Slice(done, func(i, j int) bool { return done[j].CreationTimestamp.Before(&done[i].CreationTimestamp) })
	// This session counts as the newest.
	for i := limit - 1; i < len(done); i++ {
		if i < 0 {
			continue
		}
		if err := r.Client.Delete(ctx, &done[i], client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
			s.facts.historyErr = err.Error()
			return ctrl.Result{}, err
		}
	}
	s.facts.historyCleaned = true
	return ctrl.Result{}, nil
}

// retry starts a new session with one retry fewer, after the configured delay, when this one
// failed and has retries left; this session is marked retried.
func (r *Reconciler) retry(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.phase() != corev1alpha1.BackupSessionFailed || s.bs.Spec.RetryLeft <= 0 || (s.bs.Status.Retried != nil && *s.bs.Status.Retried) || s.bc == nil {
		return ctrl.Result{}, nil
	}
	endedAt := s.facts.now
	if c := shared.FindCondition(s.bs.Status.Conditions, corev1alpha1.TypeMetricsPushed); c != nil {
		endedAt = c.LastTransitionTime.Time
	}
	next := endedAt
	if rc := s.session.RetryConfig; rc != nil && rc.Delay != nil {
		next = endedAt.Add(rc.Delay.Duration)
	}
	s.facts.nextRetry = &metav1.Time{Time: next}
	if s.facts.now.Before(next) {
		return ctrl.Result{RequeueAfter: next.Sub(s.facts.now)}, nil
	}
	nbs := backupconfiguration.NewBackupSession(s.bc, s.session, s.facts.now)
	nbs.Spec.RetryLeft = s.bs.Spec.RetryLeft - 1
	if nbs.Name == s.bs.Name {
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	if err := r.Client.Create(ctx, nbs); err != nil && !apierrors.IsAlreadyExists(err) {
		return ctrl.Result{}, fmt.Errorf("creating the retry session: %w", err)
	}
	s.facts.retried = true
	flow.Eventf(r.Recorder, s.bs, corev1.EventTypeNormal, "Retried", "Retry", "Retrying as BackupSession %s (%d retries left)", nbs.Name, nbs.Spec.RetryLeft)
	return ctrl.Result{}, nil
}
