package repository

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/controllers/backends"
	"github.com/cofferhq/coffer/controllers/internal/flow"
	"github.com/cofferhq/coffer/engine"
	"github.com/cofferhq/coffer/engine/blob"
)

// IndexSnapshotRepository indexes Snapshots by spec.repository.
const IndexSnapshotRepository = "spec.repository"

// ResyncInterval is how often the size is refreshed while nothing changes.
const ResyncInterval = 5 * time.Minute

// Reconciler reconciles Repositories.
type Reconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	// BlobOptions are passed to blob.Open (tests route requests to emulators).
	BlobOptions []blob.Option
}

// +kubebuilder:rbac:groups=storage.coffer.dev,resources=repositories,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=storage.coffer.dev,resources=repositories/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=storage.coffer.dev,resources=repositories/finalizers,verbs=update
// +kubebuilder:rbac:groups=storage.coffer.dev,resources=backupstorages,verbs=get;list;watch
// +kubebuilder:rbac:groups=storage.coffer.dev,resources=snapshots,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the controller and its Snapshot index.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &storagev1alpha1.Snapshot{}, IndexSnapshotRepository, func(o client.Object) []string {
		return []string{o.(*storagev1alpha1.Snapshot).Spec.Repository}
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&storagev1alpha1.Repository{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		// Snapshots matter when they come, go or change phase; their progress reports (every
		// few seconds while a backup runs) would only make the repository re-measure itself.
		Watches(&storagev1alpha1.Snapshot{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: o.(*storagev1alpha1.Snapshot).Spec.Repository}}}
		}), builder.WithPredicates(snapshotPhaseChanged)).
		Watches(&storagev1alpha1.BackupStorage{}, handler.EnqueueRequestsFromMapFunc(r.repositoriesOfStorage)).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.repositoriesUsingSecret)).
		Named("repository").
		Complete(r)
}

func (r *Reconciler) repositoriesOfStorage(ctx context.Context, o client.Object) []reconcile.Request {
	var list storagev1alpha1.RepositoryList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, repo := range list.Items {
		ns := repo.Spec.StorageRef.Namespace
		if ns == "" {
			ns = repo.Namespace
		}
		if ns == o.GetNamespace() && repo.Spec.StorageRef.Name == o.GetName() {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&repo)})
		}
	}
	return out
}

func (r *Reconciler) repositoriesUsingSecret(ctx context.Context, o client.Object) []reconcile.Request {
	var list storagev1alpha1.RepositoryList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, repo := range list.Items {
		ref := repo.Spec.EncryptionSecret
		if ref == nil {
			continue
		}
		ns := ref.Namespace
		if ns == "" {
			ns = repo.Namespace
		}
		if ns == o.GetNamespace() && ref.Name == o.GetName() {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&repo)})
		}
	}
	return out
}

// snapshotPhaseChanged passes creations, deletions and updates that change a Snapshot's phase,
// integrity or size.
var snapshotPhaseChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld.(*storagev1alpha1.Snapshot), e.ObjectNew.(*storagev1alpha1.Snapshot)
		return o.Status.Phase != n.Status.Phase || o.Status.Size != n.Status.Size ||
			!equality.Semantic.DeepEqual(o.Status.Integrity, n.Status.Integrity) || !n.DeletionTimestamp.Equal(o.DeletionTimestamp)
	},
}

type scope struct {
	repo    *storagev1alpha1.Repository
	storage *storagev1alpha1.BackupStorage
	backend engine.Backend
	facts   facts
}

// Reconcile runs the phases and writes status once.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	var repo storagev1alpha1.Repository
	if err := r.Client.Get(ctx, req.NamespacedName, &repo); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	s := &scope{repo: &repo}
	if !repo.DeletionTimestamp.IsZero() {
		return flow.Run(ctx, s, r.deleteSnapshots, r.wipeOut, r.removeFinalizer)
	}
	if controllerutil.AddFinalizer(&repo, shared.Finalizer) {
		if err := r.Client.Update(ctx, &repo); err != nil {
			return ctrl.Result{}, err
		}
	}
	orig := repo.DeepCopy()
	defer func() {
		if err := r.patchStatus(ctx, orig, s, retErr == nil); err != nil {
			retErr = kerrors.NewAggregate([]error{retErr, err})
		}
	}()
	result, retErr = flow.Run(ctx, s, r.observeSnapshots, r.checkStorage, r.checkEncryptionSecret, r.writeRepositoryFile)
	if retErr == nil && result.IsZero() {
		result.RequeueAfter = ResyncInterval
	}
	return result, retErr
}

func (r *Reconciler) snapshotsOf(ctx context.Context, repo *storagev1alpha1.Repository) ([]storagev1alpha1.Snapshot, error) {
	var list storagev1alpha1.SnapshotList
	err := r.Client.List(ctx, &list, client.InNamespace(repo.Namespace), client.MatchingFields{IndexSnapshotRepository: repo.Name})
	return list.Items, err
}

func (r *Reconciler) observeSnapshots(ctx context.Context, s *scope) (ctrl.Result, error) {
	snaps, err := r.snapshotsOf(ctx, s.repo)
	s.facts.snapshots = snaps
	return ctrl.Result{}, err
}

// checkStorage requires a ready BackupStorage whose usage policy admits this namespace.
func (r *Reconciler) checkStorage(ctx context.Context, s *scope) (ctrl.Result, error) {
	bs, err := backends.StorageOf(ctx, r.Client, s.repo)
	if err != nil {
		s.facts.notReady = err.Error()
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	s.storage = bs
	if bs.Status.Phase != storagev1alpha1.BackupStorageReady {
		s.facts.notReady = fmt.Sprintf("BackupStorage %s/%s is not Ready", bs.Namespace, bs.Name)
		if c := shared.FindCondition(bs.Status.Conditions, storagev1alpha1.TypeBackendInitialized); c != nil && c.Status == "False" {
			s.facts.notReady += ": " + c.Message
		}
		// The storage watch brings the repository back when the storage becomes ready.
		return ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	{
		var ns corev1.Namespace
		if err := r.Client.Get(ctx, client.ObjectKey{Name: s.repo.Namespace}, &ns); err != nil {
			return ctrl.Result{}, err
		}
		ok, err := backends.UsagePolicyOf(bs).Allows(bs.Namespace, s.repo.Namespace, ns.Labels)
		if err != nil {
			s.facts.notReady = fmt.Sprintf("BackupStorage %s/%s has a broken spec.usagePolicy: %v", bs.Namespace, bs.Name, err)
			return ctrl.Result{}, reconcile.TerminalError(err)
		}
		if !ok {
			s.facts.notReady = fmt.Sprintf("BackupStorage %s/%s does not allow namespace %q (spec.usagePolicy)", bs.Namespace, bs.Name, s.repo.Namespace)
			return ctrl.Result{RequeueAfter: ResyncInterval}, nil
		}
	}
	b, err := backends.ForStorage(ctx, r.Client, bs)
	if err != nil {
		s.facts.notReady = err.Error()
		return ctrl.Result{}, err
	}
	s.backend = b
	return ctrl.Result{}, nil
}

func (r *Reconciler) checkEncryptionSecret(ctx context.Context, s *scope) (ctrl.Result, error) {
	if _, err := backends.Password(ctx, r.Client, s.repo.Namespace, s.repo.Spec.EncryptionSecret); err != nil {
		s.facts.notReady = err.Error()
		// The Secret watch brings the repository back when the Secret is created or filled.
		return ctrl.Result{RequeueAfter: ResyncInterval}, nil
	}
	return ctrl.Result{}, nil
}

// writeRepositoryFile writes repository.yaml and measures the directory.
func (r *Reconciler) writeRepositoryFile(ctx context.Context, s *scope) (ctrl.Result, error) {
	b, err := blob.Open(ctx, s.backend, r.BlobOptions...)
	if err != nil {
		s.facts.notReady = err.Error()
		return ctrl.Result{}, err
	}
	defer b.Close()
	dir := backends.RepoDir(s.repo)
	if err := backends.WriteYAML(ctx, b, engine.RepositoryFile(dir), backends.StoreRepository(s.repo)); err != nil {
		s.facts.notReady = fmt.Sprintf("writing %s to %s: %v", engine.RepositoryFile(dir), s.backend.Name(), err)
		return ctrl.Result{}, err
	}
	if !shared.IsTrue(s.repo.Status.Conditions, storagev1alpha1.TypeRepositoryInitialized) {
		flow.Eventf(r.Recorder, s.repo, corev1.EventTypeNormal, "RepositoryInitialized", "Initialize", "wrote %s to %s", engine.RepositoryFile(dir), s.backend.Name())
	}
	s.facts.initialized = true
	if size, err := b.Size(ctx, dir); err == nil {
		s.facts.size, s.facts.sized = size, true
	}
	return ctrl.Result{}, nil
}

// deleteSnapshots deletes the repository's Snapshots; their files go with the directory.
func (r *Reconciler) deleteSnapshots(ctx context.Context, s *scope) (ctrl.Result, error) {
	snaps, err := r.snapshotsOf(ctx, s.repo)
	if err != nil {
		return ctrl.Result{}, err
	}
	for i := range snaps {
		if !snaps[i].DeletionTimestamp.IsZero() {
			continue
		}
		if err := r.Client.Delete(ctx, &snaps[i]); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, err
		}
	}
	if len(snaps) > 0 {
		// Their finalizers need this Repository to find the backend; wait for them.
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	return ctrl.Result{}, nil
}

// wipeOut deletes the repository's directory when its policy says so.
func (r *Reconciler) wipeOut(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.repo.Spec.DeletionPolicy != storagev1alpha1.DeletionPolicyWipeOut {
		return ctrl.Result{}, nil
	}
	bs, err := backends.StorageOf(ctx, r.Client, s.repo)
	var backend engine.Backend
	if err == nil {
		backend, err = backends.ForStorage(ctx, r.Client, bs)
	}
	if apierrors.IsNotFound(err) || backends.IsSecretError(err) {
		// Nothing can reach the data any more (the storage or its credentials are gone, as when
		// a namespace is deleted): keeping the finalizer would block the deletion forever.
		flow.Eventf(r.Recorder, s.repo, corev1.EventTypeWarning, "WipeOutSkipped", "WipeOut",
			"cannot delete %s from the backend: %v; the data stays", backends.RepoDir(s.repo), err)
		return ctrl.Result{}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	b, err := blob.Open(ctx, backend, r.BlobOptions...)
	if err != nil {
		return ctrl.Result{}, err
	}
	defer b.Close()
	n, err := b.DeletePrefix(ctx, backends.RepoDir(s.repo))
	if err != nil {
		flow.Eventf(r.Recorder, s.repo, corev1.EventTypeWarning, "WipeOutFailed", "WipeOut", "deleting %s: %v", backends.RepoDir(s.repo), err)
		return ctrl.Result{}, err
	}
	flow.Eventf(r.Recorder, s.repo, corev1.EventTypeNormal, "RepositoryWipedOut", "WipeOut", "deleted %d object(s) under %s", n, backends.RepoDir(s.repo))
	return ctrl.Result{}, nil
}

func (r *Reconciler) removeFinalizer(ctx context.Context, s *scope) (ctrl.Result, error) {
	if controllerutil.RemoveFinalizer(s.repo, shared.Finalizer) {
		return ctrl.Result{}, r.Client.Update(ctx, s.repo)
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) patchStatus(ctx context.Context, orig *storagev1alpha1.Repository, s *scope, succeeded bool) error {
	repo := s.repo
	for _, c := range conditions(&s.facts, repo.Generation) {
		meta.SetStatusCondition(&repo.Status.Conditions, c)
	}
	snapshotStatus(s.facts.snapshots, &repo.Status)
	if s.facts.sized {
		repo.Status.Size = backends.HumanBytes(s.facts.size)
	}
	repo.Status.Phase = storagev1alpha1.RepositoryPhaseFor(repo.Status.Conditions)
	if succeeded {
		repo.Status.ObservedGeneration = repo.Generation
	}
	if orig.Status.Phase != repo.Status.Phase && repo.Status.Phase == storagev1alpha1.RepositoryNotReady && s.facts.notReady != "" {
		flow.Eventf(r.Recorder, repo, corev1.EventTypeWarning, string(storagev1alpha1.ReasonRepositoryInitializationFailed), "Initialize", "%s", s.facts.notReady)
	}
	return client.IgnoreNotFound(r.Client.Status().Patch(ctx, repo, client.MergeFrom(orig)))
}
