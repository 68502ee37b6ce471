package backupconfiguration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/blueprints"
	"github.com/cofferhq/coffer/controllers/executor"
	"github.com/cofferhq/coffer/controllers/internal/flow"
	"github.com/cofferhq/coffer/controllers/targets"
	"github.com/cofferhq/coffer/controllers/verification"
)

// Indexes over BackupConfigurations, so a change to a target or a storage reaches exactly the
// configurations that name it.
const (
	IndexTarget  = "spec.target"
	IndexStorage = "spec.backends.storageRef"
)

// ResyncInterval refreshes nextSchedule and re-checks references while nothing changes.
const ResyncInterval = 10 * time.Minute

// Reconciler reconciles BackupConfigurations.
type Reconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	Executor executor.Config
	Identity executor.Identity
	// Now is the clock (tests pin it); time.Now when nil.
	Now func() time.Time
}

// +kubebuilder:rbac:groups=core.coffer.dev,resources=backupconfigurations,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=core.coffer.dev,resources=backupconfigurations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=core.coffer.dev,resources=backupconfigurations/finalizers,verbs=update
// +kubebuilder:rbac:groups=core.coffer.dev,resources=backupsessions,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=storage.coffer.dev,resources=repositories,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=storage.coffer.dev,resources=backupstorages;retentionpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=batch,resources=cronjobs,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims;pods,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=rolebindings,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles,verbs=bind,resourceNames=coffer-executor-role

// SetupWithManager registers the controller and its indexes.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &corev1alpha1.BackupConfiguration{}, IndexTarget, func(o client.Object) []string {
		bc := o.(*corev1alpha1.BackupConfiguration)
		if bc.Spec.Target == nil {
			return nil
		}
		return []string{TargetKey(bc.Namespace, *bc.Spec.Target)}
	}); err != nil {
		return err
	}
	if err := idx.IndexField(ctx, &corev1alpha1.BackupConfiguration{}, IndexStorage, func(o client.Object) []string {
		bc := o.(*corev1alpha1.BackupConfiguration)
		var keys []string
		for _, b := range bc.Spec.Backends {
			if b.StorageRef != nil {
				keys = append(keys, shared.NamespaceOr(b.StorageRef.Namespace, bc.Namespace)+"/"+b.StorageRef.Name)
			}
		}
		return keys
	}); err != nil {
		return err
	}
	byTarget := func(kind string) handler.EventHandler {
		return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return r.requestsFor(ctx, IndexTarget, TargetKey(o.GetNamespace(), shared.TypedObjectReference{Kind: kind, Name: o.GetName()}))
		})
	}
	// Workloads change status all the time; only their coming and going, or a new spec,
	// changes what a configuration backs up.
	specOnly := builder.WithPredicates(predicate.GenerationChangedPredicate{})
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1alpha1.BackupConfiguration{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Owns(&storagev1alpha1.Repository{}).
		Owns(&batchv1.CronJob{}, specOnly).
		Watches(&storagev1alpha1.BackupStorage{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
			return r.requestsFor(ctx, IndexStorage, o.GetNamespace()+"/"+o.GetName())
		})).
		Watches(&corev1.PersistentVolumeClaim{}, byTarget(targets.KindPVC), specOnly).
		Watches(&appsv1.Deployment{}, byTarget(targets.KindDeployment), specOnly).
		Watches(&appsv1.StatefulSet{}, byTarget(targets.KindStatefulSet), specOnly).
		Watches(&appsv1.DaemonSet{}, byTarget(targets.KindDaemonSet), specOnly).
		Named("backupconfiguration").
		Complete(r)
}

// TargetKey is the index key of a target: kind/namespace/name.
func TargetKey(namespace string, t shared.TypedObjectReference) string {
	return t.Kind + "/" + shared.NamespaceOr(t.Namespace, namespace) + "/" + t.Name
}

func (r *Reconciler) requestsFor(ctx context.Context, index, key string) []reconcile.Request {
	var list corev1alpha1.BackupConfigurationList
	if err := r.Client.List(ctx, &list, client.MatchingFields{index: key}); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, bc := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&bc)})
	}
	return out
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

type scope struct {
	bc    *corev1alpha1.BackupConfiguration
	facts facts
}

// Reconcile runs the phases and writes status once. Deletion needs no finalizer: Repositories
// and CronJobs are owned and collected by the garbage collector, and each Repository's own
// deletion policy decides what happens to the data.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	var bc corev1alpha1.BackupConfiguration
	if err := r.Client.Get(ctx, req.NamespacedName, &bc); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !bc.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	s := &scope{bc: &bc, facts: facts{now: r.now()}}
	orig := bc.DeepCopy()
	defer func() {
		if err := r.patchStatus(ctx, orig, s, retErr == nil); err != nil {
			retErr = kerrors.NewAggregate([]error{retErr, err})
		}
	}()
	result, retErr = flow.Run(ctx, s, r.validate, r.checkTarget, r.checkBackends, r.ensureIdentity,
		r.ensureRepositories, r.ensureSchedulers, r.triggerInitialBackups)
	if retErr == nil && result.IsZero() {
		result.RequeueAfter = ResyncInterval
	}
	return result, retErr
}

func (r *Reconciler) validate(_ context.Context, s *scope) (ctrl.Result, error) {
	s.facts.invalid = blueprints.ValidateBackupConfiguration(s.bc)
	if len(s.facts.invalid) > 0 {
		return ctrl.Result{}, reconcile.TerminalError(s.facts.invalid.ToAggregate())
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) checkTarget(ctx context.Context, s *scope) (ctrl.Result, error) {
	_, err := targets.Resolve(ctx, r.Client, s.bc.Namespace, *s.bc.Spec.Target)
	var nf *targets.NotFoundError
	switch {
	case errors.As(err, &nf):
		s.facts.targetProblem = err.Error()
		return ctrl.Result{}, nil // the target watch brings us back
	case err != nil && apierrors.IsForbidden(err):
		return ctrl.Result{}, err
	case err != nil:
		s.facts.targetFound = true
		s.facts.targetProblem = err.Error()
		return ctrl.Result{}, nil
	}
	s.facts.targetFound = true
	return ctrl.Result{}, nil
}

func (r *Reconciler) checkBackends(ctx context.Context, s *scope) (ctrl.Result, error) {
	for _, b := range s.bc.Spec.Backends {
		st := corev1alpha1.BackendStatus{Name: b.Name}
		ready := true
		if b.StorageRef != nil {
			ref := *b.StorageRef
			ref.Namespace = shared.NamespaceOr(ref.Namespace, s.bc.Namespace)
			st.Storage = &corev1alpha1.StorageStatus{Ref: &ref}
			var bs storagev1alpha1.BackupStorage
			err := r.Client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, &bs)
			switch {
			case apierrors.IsNotFound(err):
				st.Storage.Reason = fmt.Sprintf("BackupStorage %s/%s not found", ref.Namespace, ref.Name)
				ready = false
			case err != nil:
				return ctrl.Result{}, err
			default:
				st.Storage.Phase = string(bs.Status.Phase)
				if bs.Status.Phase != storagev1alpha1.BackupStorageReady {
					st.Storage.Reason = fmt.Sprintf("BackupStorage %s/%s is not Ready", ref.Namespace, ref.Name)
					ready = false
				}
				s.facts.storageNamespaces = append(s.facts.storageNamespaces, ref.Namespace)
			}
		}
		if b.RetentionPolicy != nil {
			ref := *b.RetentionPolicy
			ref.Namespace = shared.NamespaceOr(ref.Namespace, s.bc.Namespace)
			st.RetentionPolicy = &corev1alpha1.RetentionPolicyStatus{Ref: &ref}
			var rp storagev1alpha1.RetentionPolicy
			err := r.Client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, &rp)
			switch {
			case apierrors.IsNotFound(err):
				st.RetentionPolicy.Found = new(bool)
				st.RetentionPolicy.Reason = fmt.Sprintf("RetentionPolicy %s/%s not found", ref.Namespace, ref.Name)
				ready = false
			case err != nil:
				return ctrl.Result{}, err
			default:
				found := true
				st.RetentionPolicy.Found = &found
			}
		}
		st.Ready = &ready
		s.facts.backends = append(s.facts.backends, st)
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) ensureIdentity(ctx context.Context, s *scope) (ctrl.Result, error) {
	return ctrl.Result{}, executor.EnsureIdentity(ctx, r.Client, r.Identity, s.bc.Namespace, s.facts.storageNamespaces...)
}

// ensureRepositories creates or updates each session's Repositories. A Repository that exists
// but points elsewhere (another storage or directory) is reported, never taken over.
func (r *Reconciler) ensureRepositories(ctx context.Context, s *scope) (ctrl.Result, error) {
	for _, want := range blueprints.Repositories(s.bc) {
		st := corev1alpha1.RepositoryStatusInfo{Name: want.Name}
		var repo storagev1alpha1.Repository
		err := r.Client.Get(ctx, client.ObjectKeyFromObject(want), &repo)
		switch {
		case apierrors.IsNotFound(err):
			if err := r.Client.Create(ctx, want); err != nil {
				return ctrl.Result{}, fmt.Errorf("creating Repository %s: %w", want.Name, err)
			}
			flow.Eventf(r.Recorder, s.bc, corev1.EventTypeNormal, "RepositoryCreated", "Create", "Created Repository %s at %s", want.Name, want.Spec.Path)
			repo = *want
		case err != nil:
			return ctrl.Result{}, err
		case repo.Spec.StorageRef != want.Spec.StorageRef || repo.Spec.Path != want.Spec.Path:
			st.Reason = fmt.Sprintf("Repository %s already exists for storage %s/%s directory %q; this configuration wants %s/%s directory %q",
				repo.Name, repo.Spec.StorageRef.Namespace, repo.Spec.StorageRef.Name, repo.Spec.Path,
				want.Spec.StorageRef.Namespace, want.Spec.StorageRef.Name, want.Spec.Path)
		default:
			before := repo.DeepCopy()
			repo.Spec.AppRef = want.Spec.AppRef
			repo.Spec.EncryptionSecret = want.Spec.EncryptionSecret
			repo.Spec.DeletionPolicy = want.Spec.DeletionPolicy
			if metav1.GetControllerOf(want) != nil && metav1.GetControllerOf(&repo) == nil {
				if err := controllerutil.SetControllerReference(s.bc, &repo, r.Client.Scheme()); err != nil {
					return ctrl.Result{}, err
				}
			}
			if err := r.Client.Patch(ctx, &repo, client.MergeFrom(before)); err != nil {
				return ctrl.Result{}, err
			}
		}
		if st.Reason == "" {
			st.Phase = string(repo.Status.Phase)
			if repo.Status.Phase != storagev1alpha1.RepositoryReady {
				st.Reason = "Repository is not Ready yet"
				if c := shared.FindCondition(repo.Status.Conditions, storagev1alpha1.TypeRepositoryInitialized); c != nil && c.Status == metav1.ConditionFalse {
					st.Reason = c.Message
				}
			}
		}
		s.facts.repositories = append(s.facts.repositories, st)
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) ensureSchedulers(ctx context.Context, s *scope) (ctrl.Result, error) {
	var errs []error
	for _, sess := range s.bc.Spec.Sessions {
		st := sessionFacts{name: sess.Name}
		if sess.Scheduler != nil && sess.Scheduler.Schedule != "" {
			st.next = NextSchedule(sess.Scheduler, s.facts.now)
			want := executor.TriggerCronJob(r.Executor, s.bc, sess)
			if err := r.applyCronJob(ctx, s.bc, want); err != nil {
				st.schedulerErr = err.Error()
				errs = append(errs, err)
			} else {
				st.scheduled = true
			}
		} else {
			// A session without a schedule runs only when someone creates a BackupSession.
			st.scheduled = true
		}
		s.facts.sessions = append(s.facts.sessions, st)
		for _, ri := range sess.Repositories {
			if ri.BackupVerifier != nil {
				errs = append(errs, r.ensureVerifierCronJob(ctx, s, sess.Name, ri))
			}
		}
	}
	return ctrl.Result{}, kerrors.NewAggregate(errs)
}

// ensureVerifierCronJob gives a repository with a backupVerifier its CronJob on the verifier's
// schedule, and says in the repository's status whether verification is configured. A verifier
// without a schedule is run only by the sessions someone creates.
func (r *Reconciler) ensureVerifierCronJob(ctx context.Context, s *scope, session string, ri corev1alpha1.RepositoryInfo) error {
	status := func() *corev1alpha1.RepositoryStatusInfo {
		for i := range s.facts.repositories {
			if s.facts.repositories[i].Name == ri.Name {
				return &s.facts.repositories[i]
			}
		}
		return &corev1alpha1.RepositoryStatusInfo{}
	}()
	v, err := verification.VerifierOf(ctx, r.Client, s.bc, &ri)
	switch {
	case verification.IsConfigError(err):
		status.Reason = strings.TrimPrefix(status.Reason+"; ", "; ") + err.Error()
		return nil
	case err != nil:
		return err
	}
	if v.Spec.Scheduler != nil && v.Spec.Scheduler.Schedule != "" {
		if err := r.applyCronJob(ctx, s.bc, executor.VerifierCronJob(r.Executor, s.bc, session, ri.Name, v.Spec.Scheduler)); err != nil {
			return err
		}
	}
	status.VerificationConfigured = true
	return nil
}

func (r *Reconciler) applyCronJob(ctx context.Context, bc *corev1alpha1.BackupConfiguration, want *batchv1.CronJob) error {
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: want.Name, Namespace: want.Namespace}}
	_, err := controllerutil.CreateOrPatch(ctx, r.Client, cj, func() error {
		cj.Labels = want.Labels
		cj.Spec = want.Spec
		return controllerutil.SetControllerReference(bc, cj, r.Client.Scheme())
	})
	if err != nil {
		return fmt.Errorf("CronJob %s: %w", want.Name, err)
	}
	return nil
}

// triggerInitialBackups starts every session once, as soon as the configuration is Ready, so a
// user sees a first backup without waiting for the schedule.
func (r *Reconciler) triggerInitialBackups(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.facts.phase(s.bc) != corev1alpha1.BackupInvokerReady || s.bc.Spec.Paused {
		return ctrl.Result{}, nil
	}
	for i := range s.facts.sessions {
		st := &s.facts.sessions[i]
		if prev := previousSession(s.bc, st.name); prev != nil && shared.IsTrue(prev.Conditions, corev1alpha1.TypeInitialBackupTriggered) {
			st.initial = true
			continue
		}
		// Named after the configuration's creation, not the clock: a reconcile that reads a
		// stale status (InitialBackupTriggered not yet visible) meets AlreadyExists instead of
		// starting a second first backup.
		bs := NewBackupSession(s.bc, sessionByName(s.bc, st.name), s.bc.CreationTimestamp.Time)
		if err := r.Client.Create(ctx, bs); err != nil && !apierrors.IsAlreadyExists(err) {
			st.initialErr = err.Error()
			return ctrl.Result{}, err
		}
		st.initial = true
		flow.Eventf(r.Recorder, s.bc, corev1.EventTypeNormal, "BackupTriggered", "Trigger", "Started the first backup of session %s: BackupSession %s", st.name, bs.Name)
	}
	return ctrl.Result{}, nil
}

func previousSession(bc *corev1alpha1.BackupConfiguration, name string) *corev1alpha1.SessionStatus {
	for i := range bc.Status.Sessions {
		if bc.Status.Sessions[i].Name == name {
			return &bc.Status.Sessions[i]
		}
	}
	return nil
}

func sessionByName(bc *corev1alpha1.BackupConfiguration, name string) corev1alpha1.Session {
	for _, s := range bc.Spec.Sessions {
		if s.Name == name {
			return s
		}
	}
	return corev1alpha1.Session{}
}

// NewBackupSession is the BackupSession that runs one session of a configuration now; the
// trigger CronJob's `coffer trigger` creates the same object.
func NewBackupSession(bc *corev1alpha1.BackupConfiguration, sess corev1alpha1.Session, now time.Time) *corev1alpha1.BackupSession {
	bs := &corev1alpha1.BackupSession{
		ObjectMeta: metav1.ObjectMeta{
			Name:      shared.BackupSessionName(bc.Name, sess.Name, now.Unix()),
			Namespace: bc.Namespace,
			Labels:    shared.OwnerLabels("BackupConfiguration", bc.Name, bc.Namespace),
		},
		Spec: corev1alpha1.BackupSessionSpec{
			Invoker: shared.TypedLocalObjectReference{APIGroup: corev1alpha1.GroupVersion.Group, Kind: "BackupConfiguration", Name: bc.Name},
			Session: sess.Name,
		},
	}
	bs.Labels[shared.LabelSessionName] = shared.TruncateName(sess.Name, shared.MaxNameLength)
	if sess.RetryConfig != nil {
		bs.Spec.RetryLeft = sess.RetryConfig.MaxRetry
	}
	bs.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(bc, corev1alpha1.GroupVersion.WithKind("BackupConfiguration"))}
	return bs
}
