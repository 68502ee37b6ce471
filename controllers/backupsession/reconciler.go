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
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/controllers/backends"
	"github.com/cofferhq/coffer/controllers/executor"
	"github.com/cofferhq/coffer/controllers/hooks"
	"github.com/cofferhq/coffer/controllers/internal/flow"
	"github.com/cofferhq/coffer/controllers/targets"
)

// IndexSnapshotSession indexes Snapshots by spec.backupSession.
const IndexSnapshotSession = "spec.backupSession"

// DefaultSessionHistoryLimit is how many finished sessions of one session name are kept when
// the configuration does not say.
const DefaultSessionHistoryLimit = 1

// Reconciler reconciles BackupSessions.
type Reconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	Executor executor.Config
	Hooks    *hooks.Runner
	Now      func() time.Time
}

// +kubebuilder:rbac:groups=core.coffer.dev,resources=backupsessions,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=core.coffer.dev,resources=backupsessions/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=core.coffer.dev,resources=hooktemplates,verbs=get;list;watch
// +kubebuilder:rbac:groups=storage.coffer.dev,resources=snapshots,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=storage.coffer.dev,resources=snapshots/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods/exec,verbs=create

// SetupWithManager registers the controller and its Snapshot index.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	registerMetrics()
	if err := mgr.GetFieldIndexer().IndexField(ctx, &storagev1alpha1.Snapshot{}, IndexSnapshotSession, func(o client.Object) []string {
		return []string{o.(*storagev1alpha1.Snapshot).Spec.BackupSession}
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1alpha1.BackupSession{}).
		Owns(&batchv1.Job{}).
		Watches(&storagev1alpha1.Snapshot{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			bs := o.(*storagev1alpha1.Snapshot).Spec.BackupSession
			if bs == "" {
				return nil
			}
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: bs}}}
		})).
		// Hooks block a worker while they run; a few workers keep other sessions moving.
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Named("backupsession").
		Complete(r)
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

type scope struct {
	bs         *corev1alpha1.BackupSession
	bc         *corev1alpha1.BackupConfiguration
	session    corev1alpha1.Session
	components []targets.Component
	snapshots  []storagev1alpha1.Snapshot
	facts      facts
}

// Reconcile runs the phases and writes status once.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	var bs corev1alpha1.BackupSession
	if err := r.Client.Get(ctx, req.NamespacedName, &bs); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !bs.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	s := &scope{bs: &bs, facts: facts{now: r.now()}}
	orig := bs.DeepCopy()
	defer func() {
		if err := r.patchStatus(ctx, orig, s); err != nil {
			retErr = kerrors.NewAggregate([]error{retErr, err})
		}
	}()
	return flow.Run(ctx, s, r.loadInvoker, r.skipIfBusy, r.setDeadline, r.resolveTarget, r.ensureSnapshots,
		r.preBackupHooks, r.ensureBackupJobs, r.observeBackupJobs, r.waitForSnapshots,
		r.postBackupHooks, r.applyRetention, r.pushMetrics, r.cleanHistory, r.retry)
}

// finished reports whether the session ended before this reconcile (its last steps ran).
func finished(bs *corev1alpha1.BackupSession) bool {
	switch bs.Status.Phase {
	case corev1alpha1.BackupSessionSucceeded, corev1alpha1.BackupSessionFailed, corev1alpha1.BackupSessionSkipped:
		return true
	}
	return false
}

func (r *Reconciler) loadInvoker(ctx context.Context, s *scope) (ctrl.Result, error) {
	inv := s.bs.Spec.Invoker
	if inv.Kind != "BackupConfiguration" {
		s.facts.invokerProblem = fmt.Sprintf("spec.invoker.kind %q is not supported: use BackupConfiguration", inv.Kind)
		return ctrl.Result{}, nil
	}
	var bc corev1alpha1.BackupConfiguration
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: s.bs.Namespace, Name: inv.Name}, &bc); err != nil {
		if apierrors.IsNotFound(err) {
			s.facts.invokerProblem = fmt.Sprintf("BackupConfiguration %s not found", inv.Name)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	s.bc = &bc
	for _, sess := range bc.Spec.Sessions {
		if sess.Name == s.bs.Spec.Session {
			s.session = sess
			return ctrl.Result{}, nil
		}
	}
	s.facts.invokerProblem = fmt.Sprintf("BackupConfiguration %s has no session %q", inv.Name, s.bs.Spec.Session)
	return ctrl.Result{}, nil
}

// skipIfBusy skips a new session while another of the same configuration and session runs, or
// while backups of the configuration are paused (by a user or a running restore).
func (r *Reconciler) skipIfBusy(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.facts.invokerProblem != "" || finished(s.bs) || shared.HasCondition(s.bs.Status.Conditions, corev1alpha1.TypeSnapshotsEnsured) ||
		shared.IsTrue(s.bs.Status.Conditions, corev1alpha1.TypeBackupSkipped) {
		return ctrl.Result{}, nil
	}
	if s.bc.Spec.Paused {
		s.facts.skipped = fmt.Sprintf("backups of BackupConfiguration %s are paused", s.bc.Name)
		return ctrl.Result{}, nil
	}
	var list corev1alpha1.BackupSessionList
	if err := r.Client.List(ctx, &list, client.InNamespace(s.bs.Namespace)); err != nil {
		return ctrl.Result{}, err
	}
	for _, o := range list.Items {
		if o.Name == s.bs.Name || o.Spec.Invoker != s.bs.Spec.Invoker || o.Spec.Session != s.bs.Spec.Session || finished(&o) ||
			shared.IsTrue(o.Status.Conditions, corev1alpha1.TypeBackupSkipped) || !shared.HasCondition(o.Status.Conditions, corev1alpha1.TypeSnapshotsEnsured) {
			continue
		}
		s.facts.skipped = fmt.Sprintf("BackupSession %s of the same session is still running", o.Name)
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) setDeadline(_ context.Context, s *scope) (ctrl.Result, error) {
	if s.facts.stopped() || s.bs.Status.BackupDeadline != nil {
		return ctrl.Result{}, nil
	}
	timeout := s.bs.Spec.BackupTimeout
	if timeout == nil {
		timeout = s.session.BackupTimeout
	}
	if timeout != nil && timeout.Duration > 0 {
		s.facts.deadline = &metav1.Time{Time: s.bs.CreationTimestamp.Add(timeout.Duration)}
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) deadline(s *scope) *metav1.Time {
	if s.facts.deadline != nil {
		return s.facts.deadline
	}
	return s.bs.Status.BackupDeadline
}

// startWait bounds how long a session without a backupTimeout waits for its Repositories to be
// Ready: long enough for a storage that is still coming up, short enough never to hang.
const startWait = 30 * time.Minute

// startLimit is when a session that could not start yet gives up: its deadline, or startWait
// after its creation.
func (r *Reconciler) startLimit(s *scope) time.Time {
	if d := r.deadline(s); d != nil {
		return d.Time
	}
	return s.bs.CreationTimestamp.Add(startWait)
}

func (r *Reconciler) resolveTarget(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.facts.stopped() || finished(s.bs) {
		return ctrl.Result{}, nil
	}
	comps, err := targets.Resolve(ctx, r.Client, s.bs.Namespace, *s.bc.Spec.Target)
	if err != nil {
		if apierrors.IsForbidden(err) {
			return ctrl.Result{}, err
		}
		s.facts.targetProblem = err.Error()
		return ctrl.Result{}, nil
	}
	s.components = comps
	return ctrl.Result{}, nil
}

// ensureSnapshots creates one Snapshot per repository of the session, owned by its Repository
// so it outlives the session and goes with the repository.
func (r *Reconciler) ensureSnapshots(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.facts.stopped() {
		return ctrl.Result{}, nil
	}
	if !finished(s.bs) && s.facts.targetProblem == "" {
		s.facts.snapshotsEnsured = true
		for _, ri := range s.session.Repositories {
			if err := r.ensureSnapshot(ctx, s, ri); err != nil {
				s.facts.snapshotsEnsured = false
				s.facts.snapshotsErr = err.Error()
				limit := r.startLimit(s)
				if s.facts.now.Before(limit) {
					return ctrl.Result{}, err
				}
				// Past the limit the session ends Failed rather than wait for ever.
				s.facts.snapshotsErr = fmt.Sprintf("%v; gave up at %s", err, limit.UTC().Format(time.RFC3339))
				break
			}
		}
	}
	var list storagev1alpha1.SnapshotList
	if err := r.Client.List(ctx, &list, client.InNamespace(s.bs.Namespace), client.MatchingFields{IndexSnapshotSession: s.bs.Name}); err != nil {
		return ctrl.Result{}, err
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	s.snapshots = list.Items
	if s.facts.snapshotsErr != "" {
		// The Snapshots of the Repositories that were Ready will get no Job either.
		return ctrl.Result{}, r.failPendingComponents(ctx, s, "not started: "+s.facts.snapshotsErr)
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) ensureSnapshot(ctx context.Context, s *scope, ri corev1alpha1.RepositoryInfo) error {
	var repo storagev1alpha1.Repository
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: s.bs.Namespace, Name: ri.Name}, &repo); err != nil {
		return fmt.Errorf("Repository %s: %w", ri.Name, err)
	}
	if repo.Status.Phase != storagev1alpha1.RepositoryReady {
		return fmt.Errorf("Repository %s is not Ready", ri.Name)
	}
	name := shared.SnapshotName(ri.Name, s.bs.Name)
	var snap storagev1alpha1.Snapshot
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: s.bs.Namespace, Name: name}, &snap)
	if apierrors.IsNotFound(err) {
		snap = storagev1alpha1.Snapshot{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.bs.Namespace,
				Labels: shared.OwnerLabels("BackupSession", s.bs.Name, s.bs.Namespace),
				OwnerReferences: []metav1.OwnerReference{{APIVersion: storagev1alpha1.GroupVersion.String(), Kind: "Repository",
					Name: repo.Name, UID: repo.UID, BlockOwnerDeletion: ptr.To(true)}}},
			Spec: storagev1alpha1.SnapshotSpec{
				Type:           storagev1alpha1.FullBackup,
				Repository:     repo.Name,
				Session:        s.bs.Spec.Session,
				BackupSession:  s.bs.Name,
				Version:        "v1",
				AppRef:         &repo.Spec.AppRef,
				DeletionPolicy: repo.Spec.DeletionPolicy,
			},
		}
		snap.Labels[shared.LabelRepositoryName] = shared.TruncateName(repo.Name, shared.MaxNameLength)
		if err := r.Client.Create(ctx, &snap); err != nil {
			return fmt.Errorf("creating Snapshot %s: %w", name, err)
		}
	} else if err != nil {
		return err
	}
	if snap.Status.TotalComponents == 0 {
		before := snap.DeepCopy()
		snap.Status.TotalComponents = int32(len(s.components))
		if err := r.Client.Status().Patch(ctx, &snap, client.MergeFrom(before)); err != nil {
			return fmt.Errorf("Snapshot %s: %w", name, err)
		}
	}
	return nil
}

func (r *Reconciler) preBackupHooks(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.facts.stopped() || s.bc == nil || s.session.Hooks == nil || len(s.session.Hooks.PreBackup) == 0 || finished(s.bs) {
		return ctrl.Result{}, nil
	}
	var ran bool
	if s.facts.preHooks, s.facts.preHooksErr, ran = hooks.Recorded(s.bs.Status.Hooks.PreHooks, s.bs.Status.Conditions, corev1alpha1.TypePreBackupHooksExecutionSucceeded); ran {
		return ctrl.Result{}, nil
	}
	s.facts.preHooks, s.facts.preHooksErr = r.Hooks.RunAll(ctx, s.bs.Namespace, *s.bc.Spec.Target, s.session.Hooks.PreBackup)
	if s.facts.preHooksErr != "" {
		flow.Eventf(r.Recorder, s.bs, corev1.EventTypeWarning, "PreBackupHookFailed", "Hook", "%s", s.facts.preHooksErr)
		// No backup runs after a failed pre-backup hook; the snapshots fail with the reason.
		return ctrl.Result{}, r.failPendingComponents(ctx, s, "not started: "+s.facts.preHooksErr)
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) ensureBackupJobs(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.facts.stopped() || finished(s.bs) || s.facts.hooksFailed() || !s.facts.snapshotsEnsured {
		return ctrl.Result{}, nil
	}
	storages := map[string]*storagev1alpha1.LocalSpec{}
	cfg, imageResolved := r.Executor, false
	for i := range s.snapshots {
		snap := &s.snapshots[i]
		local, ok := storages[snap.Spec.Repository]
		if !ok {
			var err error
			if local, err = r.localStorageOf(ctx, snap.Namespace, snap.Spec.Repository); err != nil {
				s.facts.executorErr = err.Error()
				return ctrl.Result{}, err
			}
			storages[snap.Spec.Repository] = local
		}
		for _, comp := range s.components {
			if c, ok := snap.Status.Components[comp.Name]; ok && c.Phase.Finished() {
				continue
			}
			if !imageResolved {
				image, warning, err := executor.TaskImage(ctx, r.Client, r.Executor, s.session.Addon, false)
				if err != nil {
					s.facts.executorErr = err.Error()
					return ctrl.Result{}, err
				}
				if warning != "" {
					flow.Eventf(r.Recorder, s.bs, corev1.EventTypeWarning, "AddonImage", "Backup", "%s", warning)
				}
				cfg.Image, imageResolved = image, true
			}
			job := executor.BackupJob(cfg, s.bs, snap, comp, local, r.deadline(s), s.facts.now)
			if err := r.createOwned(ctx, s.bs, job); err != nil {
				s.facts.executorErr = err.Error()
				return ctrl.Result{}, err
			}
		}
	}
	s.facts.executorEnsured = true
	return ctrl.Result{}, nil
}

func (r *Reconciler) localStorageOf(ctx context.Context, namespace, repository string) (*storagev1alpha1.LocalSpec, error) {
	var repo storagev1alpha1.Repository
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: repository}, &repo); err != nil {
		return nil, err
	}
	bs, err := backends.StorageOf(ctx, r.Client, &repo)
	if err != nil {
		return nil, err
	}
	return executor.Storage(bs), nil
}

func (r *Reconciler) createOwned(ctx context.Context, owner client.Object, job *batchv1.Job) error {
	job.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(owner, corev1alpha1.GroupVersion.WithKind("BackupSession"))}
	if err := r.Client.Create(ctx, job); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating Job %s: %w", job.Name, err)
	}
	return nil
}

// observeBackupJobs fails every component whose Job ended without the executor reporting an
// outcome: a killed or deleted pod, a deadline, a node gone. A session is never stuck Running.
func (r *Reconciler) observeBackupJobs(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.facts.stopped() || finished(s.bs) || !s.facts.executorEnsured {
		return ctrl.Result{}, nil
	}
	var jobs batchv1.JobList
	if err := r.Client.List(ctx, &jobs, client.InNamespace(s.bs.Namespace),
		client.MatchingLabels{executor.LabelBackupSession: shared.TruncateName(s.bs.Name, shared.MaxNameLength), executor.LabelRole: executor.RoleBackup}); err != nil {
		return ctrl.Result{}, err
	}
	byName := map[string]*batchv1.Job{}
	for i := range jobs.Items {
		byName[jobs.Items[i].Name] = &jobs.Items[i]
	}
	for i := range s.snapshots {
		snap := &s.snapshots[i]
		for _, comp := range s.components {
			if c, ok := snap.Status.Components[comp.Name]; ok && c.Phase.Finished() {
				continue
			}
			name := shared.TruncateName(snap.Name+"-"+comp.Name, shared.MaxNameLength)
			job := byName[name]
			why := ""
			switch {
			case job == nil:
				// Created this reconcile but not in the cache yet, or deleted by someone.
				if !s.facts.sawJobsBefore(s.bs) {
					continue
				}
				why = "the backup Job " + name + " was deleted before the backup finished"
			default:
				why = jobFailure(job, r.deadline(s))
			}
			if why == "" {
				continue
			}
			if why != "" && job != nil {
				why += executor.PodMessage(ctx, r.Client, job)
			}
			if err := r.failComponent(ctx, snap, comp.Name, why); err != nil {
				return ctrl.Result{}, err
			}
			flow.Eventf(r.Recorder, s.bs, corev1.EventTypeWarning, "ComponentFailed", "Backup", "Snapshot %s component %s: %s", snap.Name, comp.Name, why)
		}
	}
	return ctrl.Result{}, nil
}

// jobFailure explains a failed Job, or returns "" while it runs or succeeded.
func jobFailure(job *batchv1.Job, deadline *metav1.Time) string {
	c := executor.Failed(job)
	switch {
	case c == nil:
		return ""
	case c.Reason == batchv1.JobReasonDeadlineExceeded && deadline != nil:
		return fmt.Sprintf("backupTimeout exceeded: the backup did not finish by %s", deadline.UTC().Format(time.RFC3339))
	default:
		return fmt.Sprintf("the executor pod ended without reporting a result (%s: %s)", c.Reason, c.Message)
	}
}

// failComponent records a component's failure on its Snapshot (the executor could not).
func (r *Reconciler) failComponent(ctx context.Context, snap *storagev1alpha1.Snapshot, component, why string) error {
	before := snap.DeepCopy()
	if snap.Status.Components == nil {
		snap.Status.Components = map[string]storagev1alpha1.Component{}
	}
	c := snap.Status.Components[component]
	c.Phase = storagev1alpha1.ComponentFailed
	c.Error = why
	snap.Status.Components[component] = c
	// The Snapshot controller derives the phase from the components.
	return r.Client.Status().Patch(ctx, snap, client.MergeFrom(before))
}

func (r *Reconciler) failPendingComponents(ctx context.Context, s *scope, why string) error {
	for i := range s.snapshots {
		for _, comp := range s.components {
			if c, ok := s.snapshots[i].Status.Components[comp.Name]; ok && c.Phase.Finished() {
				continue
			}
			if err := r.failComponent(ctx, &s.snapshots[i], comp.Name, why); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitForSnapshots stops here until every Snapshot of the session finished; their updates
// bring the session back.
func (r *Reconciler) waitForSnapshots(_ context.Context, s *scope) (ctrl.Result, error) {
	if s.facts.stopped() || finished(s.bs) {
		return ctrl.Result{}, nil
	}
	if len(s.snapshots) == 0 {
		if s.facts.targetProblem != "" || s.facts.snapshotsErr != "" || s.facts.hooksFailed() {
			return ctrl.Result{}, nil
		}
		return ctrl.Result{RequeueAfter: 10 * time.Second}, nil
	}
	for _, snap := range s.snapshots {
		if snap.Status.Phase != storagev1alpha1.SnapshotSucceeded && snap.Status.Phase != storagev1alpha1.SnapshotFailed {
			// Jobs and Snapshots are watched; the requeue is a safety net for a missed event.
			return ctrl.Result{RequeueAfter: time.Minute}, nil
		}
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) postBackupHooks(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.facts.stopped() || s.bc == nil || s.session.Hooks == nil || len(s.session.Hooks.PostBackup) == 0 || finished(s.bs) {
		return ctrl.Result{}, nil
	}
	var ran bool
	if s.facts.postHooks, s.facts.postHooksErr, ran = hooks.Recorded(s.bs.Status.Hooks.PostHooks, s.bs.Status.Conditions, corev1alpha1.TypePostBackupHooksExecutionSucceeded); ran {
		return ctrl.Result{}, nil
	}
	succeeded := s.facts.snapshotsSucceeded(s)
	var run []corev1alpha1.HookInfo
	for _, h := range s.session.Hooks.PostBackup {
		switch h.ExecutionPolicy {
		case corev1alpha1.ExecuteOnSuccess:
			if !succeeded {
				continue
			}
		case corev1alpha1.ExecuteOnFailure:
			if succeeded {
				continue
			}
		}
		run = append(run, h)
	}
	if len(run) == 0 {
		return ctrl.Result{}, nil
	}
	s.facts.postHooks, s.facts.postHooksErr = r.Hooks.RunAll(ctx, s.bs.Namespace, *s.bc.Spec.Target, run)
	if s.facts.postHooksErr != "" {
		flow.Eventf(r.Recorder, s.bs, corev1.EventTypeWarning, "PostBackupHookFailed", "Hook", "%s", s.facts.postHooksErr)
	}
	return ctrl.Result{}, nil
}
