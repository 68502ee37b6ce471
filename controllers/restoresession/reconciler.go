package restoresession

import (
	"context"
	"fmt"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/controllers/backends"
	"github.com/cofferhq/coffer/controllers/backupconfiguration"
	"github.com/cofferhq/coffer/controllers/executor"
	"github.com/cofferhq/coffer/controllers/hooks"
	"github.com/cofferhq/coffer/controllers/internal/flow"
	"github.com/cofferhq/coffer/controllers/targets"
)

// AnnotationPausedBy marks a BackupConfiguration paused by a running restore, so only that
// restore resumes it (a configuration a user paused stays paused).
const AnnotationPausedBy = "coffer.dev/paused-by-restore"

// Reconciler reconciles RestoreSessions.
type Reconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	Executor executor.Config
	Identity executor.Identity
	Hooks    *hooks.Runner
	Now      func() time.Time
}

// +kubebuilder:rbac:groups=core.coffer.dev,resources=restoresessions,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=core.coffer.dev,resources=restoresessions/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=core.coffer.dev,resources=restoresessions/finalizers,verbs=update
// +kubebuilder:rbac:groups=core.coffer.dev,resources=backupconfigurations,verbs=get;list;watch;update;patch

// SetupWithManager registers the controller.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1alpha1.RestoreSession{}).
		Owns(&batchv1.Job{}).
		Watches(&storagev1alpha1.Snapshot{}, handler.EnqueueRequestsFromMapFunc(r.waitingForSnapshot)).
		Named("restoresession").
		Complete(r)
}

// waitingForSnapshot brings back unfinished restores of a repository when one of its snapshots
// changes (a restore of `latest` may be waiting for the first successful one).
func (r *Reconciler) waitingForSnapshot(ctx context.Context, o client.Object) []reconcile.Request {
	var list corev1alpha1.RestoreSessionList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, rs := range list.Items {
		if rs.Spec.DataSource.Repository == o.(*storagev1alpha1.Snapshot).Spec.Repository && !rs.Status.Phase.Finished() {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&rs)})
		}
	}
	return out
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

type facts struct {
	now             time.Time
	invalid         string
	targetFound     *bool
	targetProblem   string
	snapshot        *storagev1alpha1.Snapshot
	components      []string
	deadline        *metav1.Time
	paused          []shared.TypedObjectReference
	preHooks        []corev1alpha1.HookExecutionStatus
	preHooksErr     string
	executorEnsured bool
	executorErr     string
	failed          map[string]string
	postHooks       []corev1alpha1.HookExecutionStatus
	postHooksErr    string
	resumed         bool
	finished        bool
}

type scope struct {
	rs      *corev1alpha1.RestoreSession
	targets []targets.Component
	facts   facts
}

// Reconcile runs the phases and writes status once. The finalizer makes sure backups a
// restore paused are resumed even when the restore is deleted half-way.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	var rs corev1alpha1.RestoreSession
	if err := r.Client.Get(ctx, req.NamespacedName, &rs); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	s := &scope{rs: &rs, facts: facts{now: r.now()}}
	if !rs.DeletionTimestamp.IsZero() {
		if err := r.resumeBackups(ctx, s); err != nil {
			return ctrl.Result{}, err
		}
		if controllerutil.RemoveFinalizer(&rs, shared.Finalizer) {
			return ctrl.Result{}, r.Client.Update(ctx, &rs)
		}
		return ctrl.Result{}, nil
	}
	if rs.Status.Phase.Finished() {
		return ctrl.Result{}, nil
	}
	if controllerutil.AddFinalizer(&rs, shared.Finalizer) {
		if err := r.Client.Update(ctx, &rs); err != nil {
			return ctrl.Result{}, err
		}
	}
	orig := rs.DeepCopy()
	defer func() {
		if err := r.patchStatus(ctx, orig, s); err != nil {
			retErr = kerrors.NewAggregate([]error{retErr, err})
		}
	}()
	return flow.Run(ctx, s, r.validate, r.checkTarget, r.resolveSnapshot, r.setDeadline, r.pauseBackups, r.preRestoreHooks,
		r.ensureRestoreJobs, r.observeRestoreJobs, r.waitForComponents, r.postRestoreHooks, r.finish)
}

func (r *Reconciler) validate(_ context.Context, s *scope) (ctrl.Result, error) {
	switch {
	case s.rs.Spec.Target == nil:
		s.facts.invalid = "spec.target: Required value: the workload or volume to restore into"
	case !targets.Supported(s.rs.Spec.Target.Kind):
		s.facts.invalid = fmt.Sprintf("spec.target.kind: Unsupported value: %q", s.rs.Spec.Target.Kind)
	case s.rs.Spec.DataSource.Repository == "":
		s.facts.invalid = "spec.dataSource.repository: Required value"
	}
	if s.facts.invalid != "" {
		return ctrl.Result{}, reconcile.TerminalError(fmt.Errorf("%s", s.facts.invalid))
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) checkTarget(ctx context.Context, s *scope) (ctrl.Result, error) {
	comps, err := targets.Resolve(ctx, r.Client, s.rs.Namespace, *s.rs.Spec.Target)
	if err != nil {
		if apierrors.IsForbidden(err) {
			return ctrl.Result{}, err
		}
		f := false
		s.facts.targetFound, s.facts.targetProblem = &f, err.Error()
		return ctrl.Result{}, nil
	}
	t := true
	s.facts.targetFound = &t
	s.targets = comps
	return ctrl.Result{}, nil
}

func (r *Reconciler) dataNamespace(s *scope) string {
	if ns := s.rs.Spec.DataSource.Namespace; ns != "" {
		return ns
	}
	return s.rs.Namespace
}

// resolveSnapshot picks the snapshot and the components to restore. `latest` waits (Pending)
// until the repository has a Succeeded snapshot.
func (r *Reconciler) resolveSnapshot(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.facts.targetProblem != "" {
		return ctrl.Result{}, nil
	}
	ds := s.rs.Spec.DataSource
	ns := r.dataNamespace(s)
	name := ds.Snapshot
	if name == "" || name == corev1alpha1.LatestSnapshot {
		var list storagev1alpha1.SnapshotList
		if err := r.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return ctrl.Result{}, err
		}
		latest := storagev1alpha1.LatestSnapshot(list.Items, ds.Repository, "")
		if latest == nil {
			s.facts.targetProblem = fmt.Sprintf("Repository %s/%s has no Succeeded snapshot yet", ns, ds.Repository)
			return ctrl.Result{RequeueAfter: time.Minute}, nil
		}
		s.facts.snapshot = latest
	} else {
		var snap storagev1alpha1.Snapshot
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &snap); err != nil {
			if apierrors.IsNotFound(err) {
				s.facts.invalid = fmt.Sprintf("spec.dataSource.snapshot: Not found: %q", name)
				return ctrl.Result{}, reconcile.TerminalError(err)
			}
			return ctrl.Result{}, err
		}
		s.facts.snapshot = &snap
	}
	comps := ds.Components
	if len(comps) == 0 {
		for c := range s.facts.snapshot.Status.Components {
			comps = append(comps, c)
		}
		sort.Strings(comps)
	}
	for _, c := range comps {
		if _, err := r.targetFor(s, c); err != nil {
			s.facts.invalid = err.Error()
			return ctrl.Result{}, reconcile.TerminalError(err)
		}
	}
	s.facts.components = comps
	return ctrl.Result{}, nil
}

// targetFor is the target component a snapshot component restores into: the one of the same
// name, or the only one (a PVC backed up from a Deployment restores into a new PVC).
func (r *Reconciler) targetFor(s *scope, component string) (targets.Component, error) {
	for _, t := range s.targets {
		if t.Name == component {
			return t, nil
		}
	}
	if len(s.targets) == 1 && s.targets[0].Database != nil {
		return targets.Component{}, fmt.Errorf("spec.target: %s %s is a database: it restores a snapshot's %q component, not %q",
			s.rs.Spec.Target.Kind, s.rs.Spec.Target.Name, targets.DumpComponent, component)
	}
	if len(s.targets) == 1 {
		return s.targets[0], nil
	}
	return targets.Component{}, fmt.Errorf("spec.target: %s %s has no component %q to restore into", s.rs.Spec.Target.Kind, s.rs.Spec.Target.Name, component)
}

func (r *Reconciler) setDeadline(_ context.Context, s *scope) (ctrl.Result, error) {
	if s.rs.Status.RestoreDeadline == nil && s.rs.Spec.RestoreTimeout != nil && s.rs.Spec.RestoreTimeout.Duration > 0 {
		s.facts.deadline = &metav1.Time{Time: s.rs.CreationTimestamp.Add(s.rs.Spec.RestoreTimeout.Duration)}
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) deadline(s *scope) *metav1.Time {
	if s.facts.deadline != nil {
		return s.facts.deadline
	}
	return s.rs.Status.RestoreDeadline
}

// pauseBackups pauses every BackupConfiguration of the target, so no backup reads a half-
// restored volume; resumeBackups undoes exactly that.
func (r *Reconciler) pauseBackups(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.facts.snapshot == nil {
		return ctrl.Result{}, nil
	}
	var list corev1alpha1.BackupConfigurationList
	key := backupconfiguration.TargetKey(s.rs.Namespace, *s.rs.Spec.Target)
	if err := r.Client.List(ctx, &list, client.MatchingFields{backupconfiguration.IndexTarget: key}); err != nil {
		return ctrl.Result{}, err
	}
	for i := range list.Items {
		bc := &list.Items[i]
		ref := shared.TypedObjectReference{APIGroup: corev1alpha1.GroupVersion.Group, Kind: "BackupConfiguration", Name: bc.Name, Namespace: bc.Namespace}
		if bc.Annotations[AnnotationPausedBy] == s.rs.Namespace+"/"+s.rs.Name {
			s.facts.paused = append(s.facts.paused, ref)
			continue
		}
		if bc.Spec.Paused {
			continue
		}
		before := bc.DeepCopy()
		bc.Spec.Paused = true
		metav1.SetMetaDataAnnotation(&bc.ObjectMeta, AnnotationPausedBy, s.rs.Namespace+"/"+s.rs.Name)
		if err := r.Client.Patch(ctx, bc, client.MergeFrom(before)); err != nil {
			return ctrl.Result{}, fmt.Errorf("pausing BackupConfiguration %s: %w", bc.Name, err)
		}
		flow.Eventf(r.Recorder, s.rs, corev1.EventTypeNormal, "BackupsPaused", "Restore", "Paused BackupConfiguration %s while restoring", bc.Name)
		s.facts.paused = append(s.facts.paused, ref)
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) resumeBackups(ctx context.Context, s *scope) error {
	var list corev1alpha1.BackupConfigurationList
	if err := r.Client.List(ctx, &list); err != nil {
		return err
	}
	for i := range list.Items {
		bc := &list.Items[i]
		if bc.Annotations[AnnotationPausedBy] != s.rs.Namespace+"/"+s.rs.Name {
			continue
		}
		before := bc.DeepCopy()
		bc.Spec.Paused = false
		delete(bc.Annotations, AnnotationPausedBy)
		if err := r.Client.Patch(ctx, bc, client.MergeFrom(before)); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("resuming BackupConfiguration %s: %w", bc.Name, err)
		}
		flow.Eventf(r.Recorder, s.rs, corev1.EventTypeNormal, "BackupsResumed", "Restore", "Resumed BackupConfiguration %s", bc.Name)
	}
	s.facts.resumed = true
	return nil
}

func (r *Reconciler) preRestoreHooks(ctx context.Context, s *scope) (ctrl.Result, error) {
	h := s.rs.Spec.Hooks
	if s.facts.snapshot == nil || h == nil || len(h.PreRestore) == 0 {
		return ctrl.Result{}, nil
	}
	var ran bool
	s.facts.preHooks, s.facts.preHooksErr, ran = hooks.Recorded(s.rs.Status.Hooks.PreHooks, s.rs.Status.Conditions, corev1alpha1.TypePreRestoreHooksExecutionSucceeded)
	if !ran {
		s.facts.preHooks, s.facts.preHooksErr = r.Hooks.RunAll(ctx, s.rs.Namespace, *s.rs.Spec.Target, h.PreRestore)
	}
	if s.facts.preHooksErr != "" {
		return ctrl.Result{}, r.finishNow(ctx, s)
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) ensureRestoreJobs(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.facts.snapshot == nil || s.facts.finished {
		return ctrl.Result{}, nil
	}
	var repo storagev1alpha1.Repository
	ns := r.dataNamespace(s)
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: s.rs.Spec.DataSource.Repository}, &repo); err != nil {
		s.facts.executorErr = err.Error()
		return ctrl.Result{}, err
	}
	bs, err := backends.StorageOf(ctx, r.Client, &repo)
	if err != nil {
		s.facts.executorErr = err.Error()
		return ctrl.Result{}, err
	}
	if err := executor.EnsureIdentity(ctx, r.Client, r.Identity, s.rs.Namespace, bs.Namespace, ns); err != nil {
		s.facts.executorErr = err.Error()
		return ctrl.Result{}, err
	}
	cfg, imageResolved := r.Executor, false
	for _, c := range s.facts.components {
		if st, ok := s.rs.Status.Components[c]; ok && st.Phase.Finished() {
			continue
		}
		if !imageResolved {
			image, warning, err := executor.TaskImage(ctx, r.Client, r.Executor, s.rs.Spec.Addon, true)
			if err != nil {
				s.facts.executorErr = err.Error()
				return ctrl.Result{}, err
			}
			if warning != "" {
				flow.Eventf(r.Recorder, s.rs, corev1.EventTypeWarning, "AddonImage", "Restore", "%s", warning)
			}
			cfg.Image, imageResolved = image, true
		}
		tc, _ := r.targetFor(s, c)
		job := executor.RestoreJob(cfg, s.rs, c, tc, executor.Storage(bs), r.deadline(s), s.facts.now)
		job.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(s.rs, corev1alpha1.GroupVersion.WithKind("RestoreSession"))}
		if err := r.Client.Create(ctx, job); err != nil && !apierrors.IsAlreadyExists(err) {
			s.facts.executorErr = err.Error()
			return ctrl.Result{}, err
		}
	}
	s.facts.executorEnsured = true
	return ctrl.Result{}, nil
}

// observeRestoreJobs fails components whose Job ended without the executor reporting.
func (r *Reconciler) observeRestoreJobs(ctx context.Context, s *scope) (ctrl.Result, error) {
	if !s.facts.executorEnsured {
		return ctrl.Result{}, nil
	}
	var jobs batchv1.JobList
	if err := r.Client.List(ctx, &jobs, client.InNamespace(s.rs.Namespace),
		client.MatchingLabels{executor.LabelRestoreSession: shared.TruncateName(s.rs.Name, shared.MaxNameLength)}); err != nil {
		return ctrl.Result{}, err
	}
	for _, job := range jobs.Items {
		c := job.Labels[executor.LabelComponent]
		if st, ok := s.rs.Status.Components[c]; ok && st.Phase.Finished() {
			continue
		}
		if cond := executor.Failed(&job); cond != nil {
			why := fmt.Sprintf("the restore executor ended without reporting a result (%s: %s)", cond.Reason, cond.Message)
			if cond.Reason == batchv1.JobReasonDeadlineExceeded && r.deadline(s) != nil {
				why = fmt.Sprintf("restoreTimeout exceeded: the restore did not finish by %s", r.deadline(s).UTC().Format(time.RFC3339))
			}
			if s.facts.failed == nil {
				s.facts.failed = map[string]string{}
			}
			s.facts.failed[c] = why
		}
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) componentPhase(s *scope, c string) storagev1alpha1.ComponentPhase {
	if _, ok := s.facts.failed[c]; ok {
		return storagev1alpha1.ComponentFailed
	}
	return s.rs.Status.Components[c].Phase
}

func (r *Reconciler) waitForComponents(_ context.Context, s *scope) (ctrl.Result, error) {
	if s.facts.snapshot == nil || s.facts.finished {
		return ctrl.Result{}, nil
	}
	for _, c := range s.facts.components {
		if !r.componentPhase(s, c).Finished() {
			return ctrl.Result{RequeueAfter: time.Minute}, nil
		}
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) postRestoreHooks(ctx context.Context, s *scope) (ctrl.Result, error) {
	h := s.rs.Spec.Hooks
	if s.facts.snapshot == nil || s.facts.finished || h == nil || len(h.PostRestore) == 0 {
		return ctrl.Result{}, nil
	}
	succeeded := true
	for _, c := range s.facts.components {
		succeeded = succeeded && r.componentPhase(s, c) == storagev1alpha1.ComponentSucceeded
	}
	var run []corev1alpha1.HookInfo
	for _, hk := range h.PostRestore {
		if (hk.ExecutionPolicy == corev1alpha1.ExecuteOnSuccess && !succeeded) || (hk.ExecutionPolicy == corev1alpha1.ExecuteOnFailure && succeeded) {
			continue
		}
		run = append(run, hk)
	}
	if len(run) > 0 {
		s.facts.postHooks, s.facts.postHooksErr = r.Hooks.RunAll(ctx, s.rs.Namespace, *s.rs.Spec.Target, run)
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) finish(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.facts.snapshot == nil || s.facts.finished {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, r.finishNow(ctx, s)
}

// finishNow resumes paused backups and marks the restore's bookkeeping done (MetricsPushed),
// after which the phase may turn terminal.
func (r *Reconciler) finishNow(ctx context.Context, s *scope) error {
	if err := r.resumeBackups(ctx, s); err != nil {
		return err
	}
	s.facts.finished = true
	return nil
}

func (r *Reconciler) patchStatus(ctx context.Context, orig *corev1alpha1.RestoreSession, s *scope) error {
	rs, f := s.rs, &s.facts
	st := &rs.Status
	gen := rs.Generation
	c := &st.Conditions
	if f.invalid != "" {
		meta.SetStatusCondition(c, shared.NewCondition(corev1alpha1.TypeValidationPassed, metav1.ConditionFalse, corev1alpha1.ReasonResourceValidationFailed, f.invalid, gen))
	} else {
		meta.SetStatusCondition(c, shared.NewCondition(corev1alpha1.TypeValidationPassed, metav1.ConditionTrue, corev1alpha1.ReasonResourceValidationPassed, "The restore is valid", gen))
	}
	if f.targetFound != nil {
		st.TargetFound = f.targetFound
		if *f.targetFound {
			meta.SetStatusCondition(c, shared.NewCondition(corev1alpha1.TypeRestoreTargetFound, metav1.ConditionTrue, corev1alpha1.ReasonRestoreTargetFound, "The restore target exists", gen))
		} else {
			meta.SetStatusCondition(c, shared.NewCondition(corev1alpha1.TypeRestoreTargetFound, metav1.ConditionFalse, corev1alpha1.ReasonRestoreTargetNotFound, f.targetProblem, gen))
		}
	}
	if f.deadline != nil {
		st.RestoreDeadline = f.deadline
	}
	if f.paused != nil {
		st.PausedBackups = f.paused
	}
	if len(f.components) > 0 {
		st.TotalComponents = int32(len(f.components))
		if st.Components == nil {
			st.Components = map[string]corev1alpha1.ComponentRestoreStatus{}
		}
		for _, name := range f.components {
			cs := st.Components[name]
			if cs.Phase == "" {
				cs.Phase = storagev1alpha1.ComponentPending
			}
			if why, ok := f.failed[name]; ok {
				cs.Phase, cs.Error = storagev1alpha1.ComponentFailed, why
			}
			if f.preHooksErr != "" && !cs.Phase.Finished() {
				cs.Phase, cs.Error = storagev1alpha1.ComponentFailed, "not started: "+f.preHooksErr
			}
			st.Components[name] = cs
		}
	}
	if f.preHooks != nil {
		st.Hooks.PreHooks = f.preHooks
		if f.preHooksErr == "" {
			meta.SetStatusCondition(c, shared.NewCondition(corev1alpha1.TypePreRestoreHooksExecutionSucceeded, metav1.ConditionTrue, corev1alpha1.ReasonSuccessfullyExecutedPreRestoreHooks, "Every pre-restore hook succeeded", gen))
		} else {
			meta.SetStatusCondition(c, shared.NewCondition(corev1alpha1.TypePreRestoreHooksExecutionSucceeded, metav1.ConditionFalse, corev1alpha1.ReasonFailedToExecutePreRestoreHooks, f.preHooksErr, gen))
		}
	}
	switch {
	case f.executorErr != "":
		meta.SetStatusCondition(c, shared.NewCondition(corev1alpha1.TypeRestoreExecutorEnsured, metav1.ConditionFalse, corev1alpha1.ReasonFailedToEnsureRestoreExecutor, f.executorErr, gen))
	case f.executorEnsured:
		meta.SetStatusCondition(c, shared.NewCondition(corev1alpha1.TypeRestoreExecutorEnsured, metav1.ConditionTrue, corev1alpha1.ReasonSuccessfullyEnsuredRestoreExecutor, "A restore Job exists for every component", gen))
	}
	if f.postHooks != nil {
		st.Hooks.PostHooks = f.postHooks
		if f.postHooksErr != "" {
			meta.SetStatusCondition(c, shared.NewCondition(corev1alpha1.TypePostRestoreHooksExecutionSucceeded, metav1.ConditionFalse, corev1alpha1.ReasonFailedToExecutePostRestoreHooks, f.postHooksErr, gen))
		} else {
			meta.SetStatusCondition(c, shared.NewCondition(corev1alpha1.TypePostRestoreHooksExecutionSucceeded, metav1.ConditionTrue, corev1alpha1.ReasonSuccessfullyExecutedPostRestoreHooks, "Every post-restore hook succeeded", gen))
		}
	}
	if f.finished {
		meta.SetStatusCondition(c, shared.NewCondition(corev1alpha1.TypeMetricsPushed, metav1.ConditionTrue, corev1alpha1.ReasonSuccessfullyPushedMetrics, "Restore finished", gen))
	}
	st.Phase = corev1alpha1.RestoreSessionPhaseFor(st)
	if st.Duration == "" && (st.Phase == corev1alpha1.RestoreSucceeded || st.Phase == corev1alpha1.RestoreFailed) {
		st.Duration = f.now.Sub(rs.CreationTimestamp.Time).Round(time.Second).String()
	}
	st.ObservedGeneration = gen
	if equality.Semantic.DeepEqual(orig.Status, rs.Status) {
		return nil
	}
	if orig.Status.Phase != st.Phase {
		typ := corev1.EventTypeNormal
		if st.Phase == corev1alpha1.RestoreFailed || st.Phase == corev1alpha1.RestoreInvalid {
			typ = corev1.EventTypeWarning
		}
		flow.Eventf(r.Recorder, rs, typ, "Phase"+string(st.Phase), "Restore", "RestoreSession is %s", st.Phase)
	}
	return r.Client.Status().Patch(ctx, rs, client.MergeFrom(orig))
}
