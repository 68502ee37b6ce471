package backupstorage

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/controllers/backends"
	"github.com/cofferhq/coffer/controllers/internal/flow"
	"github.com/cofferhq/coffer/engine"
	"github.com/cofferhq/coffer/engine/blob"
)

// IndexRepositoryStorage indexes Repositories by "<namespace>/<name>" of their BackupStorage.
const IndexRepositoryStorage = "spec.storageRef"

// ResyncInterval is how often sizes are refreshed while nothing changes.
const ResyncInterval = 5 * time.Minute

// Reconciler reconciles BackupStorages.
type Reconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	// OperatorVersion is recorded in metadata.yaml.
	OperatorVersion string
	// BlobOptions are passed to blob.Open (tests route requests to emulators).
	BlobOptions []blob.Option
}

// +kubebuilder:rbac:groups=storage.coffer.dev,resources=backupstorages,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=storage.coffer.dev,resources=backupstorages/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=storage.coffer.dev,resources=backupstorages/finalizers,verbs=update
// +kubebuilder:rbac:groups=storage.coffer.dev,resources=repositories,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=storage.coffer.dev,resources=snapshots,verbs=get;list;watch;create
// +kubebuilder:rbac:groups=storage.coffer.dev,resources=snapshots/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the controller and the Repository index it uses.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := IndexRepositories(ctx, mgr); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&storagev1alpha1.BackupStorage{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		// Membership matters, not every status change: sizes are refreshed every ResyncInterval.
		Watches(&storagev1alpha1.Repository{}, handler.EnqueueRequestsFromMapFunc(storageOfRepository),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.storagesUsingSecret)).
		// A neighbour that becomes or stops being default changes this storage's conflict.
		Watches(&storagev1alpha1.BackupStorage{}, handler.EnqueueRequestsFromMapFunc(r.defaultNeighbours),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("backupstorage").
		Complete(r)
}

// IndexRepositories registers IndexRepositoryStorage; call it once per manager.
func IndexRepositories(ctx context.Context, mgr ctrl.Manager) error {
	return mgr.GetFieldIndexer().IndexField(ctx, &storagev1alpha1.Repository{}, IndexRepositoryStorage, func(o client.Object) []string {
		return []string{storageKey(o.(*storagev1alpha1.Repository))}
	})
}

func storageKey(repo *storagev1alpha1.Repository) string {
	ns := repo.Spec.StorageRef.Namespace
	if ns == "" {
		ns = repo.Namespace
	}
	return ns + "/" + repo.Spec.StorageRef.Name
}

func storageOfRepository(_ context.Context, o client.Object) []reconcile.Request {
	repo := o.(*storagev1alpha1.Repository)
	ns := repo.Spec.StorageRef.Namespace
	if ns == "" {
		ns = repo.Namespace
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: ns, Name: repo.Spec.StorageRef.Name}}}
}

func (r *Reconciler) storagesUsingSecret(ctx context.Context, o client.Object) []reconcile.Request {
	var list storagev1alpha1.BackupStorageList
	if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace())); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if backends.SecretName(&list.Items[i]) == o.GetName() {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return out
}

func (r *Reconciler) defaultNeighbours(ctx context.Context, o client.Object) []reconcile.Request {
	defaults, err := backends.DefaultStorages(ctx, r.Client, o.GetNamespace())
	if err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range defaults {
		if defaults[i].Name != o.GetName() {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&defaults[i])})
		}
	}
	return out
}

// scope is one reconcile's state.
type scope struct {
	bs      *storagev1alpha1.BackupStorage
	backend engine.Backend
	bucket  *blob.Bucket
	meta    *backends.BackendMeta
	facts   facts
}

// Reconcile runs the phases and writes status once.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	var bs storagev1alpha1.BackupStorage
	if err := r.Client.Get(ctx, req.NamespacedName, &bs); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	s := &scope{bs: &bs}
	defer func() {
		if s.bucket != nil {
			_ = s.bucket.Close()
		}
	}()

	if !bs.DeletionTimestamp.IsZero() {
		return flow.Run(ctx, s, r.resolveBackend, r.deleteRepositories, r.wipeOut, r.removeFinalizer)
	}
	if controllerutil.AddFinalizer(&bs, shared.Finalizer) {
		if err := r.Client.Update(ctx, &bs); err != nil {
			return ctrl.Result{}, err
		}
	}

	orig := bs.DeepCopy()
	defer func() {
		if err := r.patchStatus(ctx, orig, s, retErr == nil); err != nil {
			retErr = kerrors.NewAggregate([]error{retErr, err})
		}
	}()
	result, retErr = flow.Run(ctx, s, r.checkDefault, r.resolveBackend, r.openBackend, r.initMetadata, r.listRepositories)
	if retErr == nil && result.IsZero() {
		result.RequeueAfter = ResyncInterval
	}
	return result, retErr
}

// checkDefault finds the other default storages of the namespace when this one is default.
func (r *Reconciler) checkDefault(ctx context.Context, s *scope) (ctrl.Result, error) {
	s.facts.isDefault = s.bs.Spec.Default
	if !s.bs.Spec.Default {
		return ctrl.Result{}, nil
	}
	defaults, err := backends.DefaultStorages(ctx, r.Client, s.bs.Namespace)
	if err != nil {
		return ctrl.Result{}, err
	}
	for _, d := range defaults {
		if d.Name != s.bs.Name {
			s.facts.otherDefaults = append(s.facts.otherDefaults, d.Name)
		}
	}
	return ctrl.Result{}, nil
}

// resolveBackend reads the Secret and builds the engine backend.
func (r *Reconciler) resolveBackend(ctx context.Context, s *scope) (ctrl.Result, error) {
	s.facts.needsSecret = backends.SecretName(s.bs) != ""
	b, err := backends.ForStorage(ctx, r.Client, s.bs)
	if err != nil {
		if backends.IsSecretError(err) {
			s.facts.secretErr = err
			// The Secret watch brings the storage back when the Secret appears or changes.
			return ctrl.Result{}, nil
		}
		s.facts.backendErr = err
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	s.backend = b
	return ctrl.Result{}, nil
}

// openBackend connects and checks that the bucket exists and the credentials work.
func (r *Reconciler) openBackend(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.facts.secretErr != nil {
		return ctrl.Result{RequeueAfter: ResyncInterval}, nil
	}
	b, err := blob.Open(ctx, s.backend, r.BlobOptions...)
	if err == nil {
		err = b.Check(ctx)
		if err != nil {
			_ = b.Close()
		}
	}
	if err != nil {
		s.facts.backendErr = fmt.Errorf("%s: %w", s.backend.Name(), err)
		// Unreachable backends recover by themselves; retry with backoff.
		return ctrl.Result{}, s.facts.backendErr
	}
	s.bucket = b
	return ctrl.Result{}, nil
}

// initMetadata writes metadata.yaml, or finds it and re-creates what the backend holds.
func (r *Reconciler) initMetadata(ctx context.Context, s *scope) (ctrl.Result, error) {
	meta, err := backends.ReadBackendMeta(ctx, s.bucket)
	if err != nil {
		s.facts.backendErr = fmt.Errorf("reading %s: %w", engine.BackendMetaFile, err)
		return ctrl.Result{}, s.facts.backendErr
	}
	if meta == nil {
		meta = backends.NewBackendMeta(r.OperatorVersion, time.Now())
		if err := backends.WriteYAML(ctx, s.bucket, engine.BackendMetaFile, meta); err != nil {
			s.facts.backendErr = fmt.Errorf("writing %s: %w", engine.BackendMetaFile, err)
			return ctrl.Result{}, s.facts.backendErr
		}
		flow.Eventf(r.Recorder, s.bs, corev1.EventTypeNormal, "BackendInitialized", "Initialize", "wrote %s to %s", engine.BackendMetaFile, s.backend.Name())
	}
	if _, done := s.bs.Annotations[backends.SyncedAnnotation]; !done {
		// First sight of this backend: bring back the repositories it holds (none if this
		// reconcile just initialized it), once; later outages do not repeat it.
		if err := r.syncFromBackend(ctx, s); err != nil {
			s.facts.backendErr = fmt.Errorf("re-creating repositories from the backend: %w", err)
			return ctrl.Result{}, s.facts.backendErr
		}
		patch := client.MergeFrom(s.bs.DeepCopy())
		if s.bs.Annotations == nil {
			s.bs.Annotations = map[string]string{}
		}
		s.bs.Annotations[backends.SyncedAnnotation] = time.Now().UTC().Format(time.RFC3339)
		if err := r.Client.Patch(ctx, s.bs, patch); err != nil {
			return ctrl.Result{}, err
		}
	}
	s.meta = meta
	s.facts.initialized = true
	return ctrl.Result{}, nil
}

// syncFromBackend re-creates the Repositories and Snapshots whose files the backend holds and
// that do not exist in the cluster. A file that cannot be read, a namespace that does not exist
// or that the storage's usage policy does not admit is reported in an Event and skipped, so one
// bad directory does not keep the storage from becoming Ready; API errors are retried.
func (r *Reconciler) syncFromBackend(ctx context.Context, s *scope) error {
	found, err := backends.Discover(ctx, s.bucket)
	if err != nil {
		return err
	}
	var errs []error
	synced := 0
	for _, f := range found {
		if f.Err != nil {
			flow.Eventf(r.Recorder, s.bs, corev1.EventTypeWarning, "SyncSkipped", "Sync", "%s: %v", f.Dir, f.Err)
		}
		if f.Repository == nil {
			continue
		}
		if why := r.refuseNamespace(ctx, s.bs, f.Repository.Metadata.Namespace); why != "" {
			flow.Eventf(r.Recorder, s.bs, corev1.EventTypeWarning, "SyncSkipped", "Sync", "%s: %s", f.Dir, why)
			continue
		}
		created, err := r.recreate(ctx, s.bs, f)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Dir, err))
		}
		synced += created
	}
	if synced > 0 {
		flow.Eventf(r.Recorder, s.bs, corev1.EventTypeNormal, "RepositoriesSynced", "Sync", "re-created %d object(s) from the backend's files", synced)
	}
	return kerrors.NewAggregate(errs)
}

// refuseNamespace says why objects found on the backend may not be re-created in namespace ns:
// anyone who can write to the bucket must not be able to create objects where the storage's
// usage policy does not reach.
func (r *Reconciler) refuseNamespace(ctx context.Context, bs *storagev1alpha1.BackupStorage, ns string) string {
	var nsObj corev1.Namespace
	if err := r.Client.Get(ctx, client.ObjectKey{Name: ns}, &nsObj); err != nil {
		return fmt.Sprintf("namespace %q: %v", ns, err)
	}
	ok, err := backends.UsagePolicyOf(bs).Allows(bs.Namespace, ns, nsObj.Labels)
	if err != nil {
		return fmt.Sprintf("spec.usagePolicy: %v", err)
	}
	if !ok {
		return fmt.Sprintf("spec.usagePolicy does not admit namespace %q", ns)
	}
	return ""
}

func (r *Reconciler) recreate(ctx context.Context, bs *storagev1alpha1.BackupStorage, f backends.FoundRepository) (int, error) {
	created := 0
	stored := f.Repository
	repo := &storagev1alpha1.Repository{}
	repo.Name, repo.Namespace, repo.Labels = stored.Metadata.Name, stored.Metadata.Namespace, stored.Metadata.Labels
	repo.Annotations = map[string]string{backends.SyncedAnnotation: "true"}
	repo.Spec = stored.Spec
	// The files may come from another cluster: point the repository at this storage.
	repo.Spec.StorageRef = shared.ObjectReference{Name: bs.Name, Namespace: bs.Namespace}
	if err := r.Client.Create(ctx, repo); err == nil {
		created++
	} else if !apierrors.IsAlreadyExists(err) {
		return created, fmt.Errorf("creating Repository %s/%s: %w", repo.Namespace, repo.Name, err)
	}
	var errs []error
	for _, ss := range f.Snapshots {
		n, err := r.recreateSnapshot(ctx, ss)
		created += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	return created, kerrors.NewAggregate(errs)
}

// recreateSnapshot creates a Snapshot from its file and puts its status back. The annotation
// says "restoring" until the status is in place, so the snapshot controller does not rewrite
// the file from an empty status; a sync interrupted midway finishes on the next attempt.
func (r *Reconciler) recreateSnapshot(ctx context.Context, ss *backends.StoredSnapshot) (int, error) {
	key := client.ObjectKey{Namespace: ss.Metadata.Namespace, Name: ss.Metadata.Name}
	snap := &storagev1alpha1.Snapshot{}
	snap.Name, snap.Namespace, snap.Labels = key.Name, key.Namespace, ss.Metadata.Labels
	snap.Annotations = map[string]string{backends.SyncedAnnotation: backends.SyncRestoring}
	snap.Spec = ss.Spec
	created := 0
	if err := r.Client.Create(ctx, snap); err == nil {
		created = 1
	} else if !apierrors.IsAlreadyExists(err) {
		return 0, fmt.Errorf("creating Snapshot %s: %w", key, err)
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := r.Client.Get(ctx, key, snap); err != nil {
			return err
		}
		if snap.Annotations[backends.SyncedAnnotation] != backends.SyncRestoring {
			return nil
		}
		snap.Status = ss.Status
		snap.Status.ObservedGeneration = 0
		if err := r.Client.Status().Update(ctx, snap); err != nil {
			return err
		}
		snap.Annotations[backends.SyncedAnnotation] = "true"
		return r.Client.Update(ctx, snap)
	})
	if err != nil {
		return created, fmt.Errorf("restoring the status of Snapshot %s: %w", key, err)
	}
	return created, nil
}

// listRepositories reports the storage's Repositories with their sizes and keeps the list in
// metadata.yaml current.
func (r *Reconciler) listRepositories(ctx context.Context, s *scope) (ctrl.Result, error) {
	repos, err := r.repositoriesOf(ctx, s.bs)
	if err != nil {
		return ctrl.Result{}, err
	}
	var infos []storagev1alpha1.RepositoryInfo
	var listed []backends.BackendMetaRepo
	var total int64
	for _, repo := range repos {
		info := storagev1alpha1.RepositoryInfo{Name: repo.Name, Namespace: repo.Namespace, Path: backends.RepoDir(&repo)}
		if repo.Annotations[backends.SyncedAnnotation] == "true" {
			info.Synced = ptrTo(true)
		}
		size, err := s.bucket.Size(ctx, backends.RepoDir(&repo))
		if err != nil {
			info.Error = err.Error()
		} else {
			info.Size = backends.HumanBytes(size)
			total += size
		}
		infos = append(infos, info)
		listed = append(listed, backends.BackendMetaRepo{Name: repo.Name, Namespace: repo.Namespace, Directory: info.Path})
	}
	s.facts.repositories, s.facts.totalSize, s.facts.sized = infos, total, true

	if !sameRepos(s.meta.Repositories, listed) {
		s.meta.Repositories = listed
		if err := backends.WriteYAML(ctx, s.bucket, engine.BackendMetaFile, s.meta); err != nil {
			return ctrl.Result{}, fmt.Errorf("updating %s: %w", engine.BackendMetaFile, err)
		}
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) repositoriesOf(ctx context.Context, bs *storagev1alpha1.BackupStorage) ([]storagev1alpha1.Repository, error) {
	var list storagev1alpha1.RepositoryList
	if err := r.Client.List(ctx, &list, client.MatchingFields{IndexRepositoryStorage: bs.Namespace + "/" + bs.Name}); err != nil {
		return nil, err
	}
	sort.Slice(list.Items, func(i, j int) bool {
		a, b := list.Items[i], list.Items[j]
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	return list.Items, nil
}

func sameRepos(a, b []backends.BackendMetaRepo) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// deleteRepositories deletes the storage's Repositories and waits until they are gone (their
// own deletion policies decide about their data).
func (r *Reconciler) deleteRepositories(ctx context.Context, s *scope) (ctrl.Result, error) {
	repos, err := r.repositoriesOf(ctx, s.bs)
	if err != nil {
		return ctrl.Result{}, err
	}
	for i := range repos {
		if repos[i].DeletionTimestamp.IsZero() {
			if err := r.Client.Delete(ctx, &repos[i]); client.IgnoreNotFound(err) != nil {
				return ctrl.Result{}, err
			}
		}
	}
	if len(repos) > 0 {
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	return ctrl.Result{}, nil
}

// wipeOut deletes every repository directory listed in metadata.yaml, then metadata.yaml.
func (r *Reconciler) wipeOut(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.bs.Spec.DeletionPolicy != storagev1alpha1.BackupStorageWipeOut || s.facts.secretErr != nil {
		// Without credentials nothing can be wiped; the data stays and the storage goes.
		return ctrl.Result{}, nil
	}
	b, err := blob.Open(ctx, s.backend, r.BlobOptions...)
	if err != nil {
		return ctrl.Result{}, err
	}
	defer b.Close()
	meta, err := backends.ReadBackendMeta(ctx, b)
	if err != nil {
		return ctrl.Result{}, err
	}
	// Only what this storage recorded: another storage or a KubeStash installation may share
	// the root, and a directory Coffer never listed is not Coffer's to delete.
	dirs := map[string]bool{}
	if meta != nil {
		for _, repo := range meta.Repositories {
			dirs[engine.CleanKey(repo.Directory)] = true
		}
	}
	removed := 0
	for dir := range dirs {
		if dir == "" {
			continue
		}
		n, err := b.DeletePrefix(ctx, dir)
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("wiping %s: %w", dir, err)
		}
		removed += n
	}
	if err := b.Delete(ctx, engine.BackendMetaFile); err != nil {
		return ctrl.Result{}, err
	}
	flow.Eventf(r.Recorder, s.bs, corev1.EventTypeNormal, "BackendWipedOut", "WipeOut", "deleted %d object(s) in %d repositories and %s", removed, len(dirs), engine.BackendMetaFile)
	return ctrl.Result{}, nil
}

func (r *Reconciler) removeFinalizer(ctx context.Context, s *scope) (ctrl.Result, error) {
	if controllerutil.RemoveFinalizer(s.bs, shared.Finalizer) {
		return ctrl.Result{}, r.Client.Update(ctx, s.bs)
	}
	return ctrl.Result{}, nil
}

// patchStatus computes the status from the facts and patches it once.
func (r *Reconciler) patchStatus(ctx context.Context, orig *storagev1alpha1.BackupStorage, s *scope, succeeded bool) error {
	bs := s.bs
	for _, c := range conditions(&s.facts, bs.Generation) {
		meta.SetStatusCondition(&bs.Status.Conditions, c)
	}
	if !s.facts.needsSecret {
		meta.RemoveStatusCondition(&bs.Status.Conditions, string(storagev1alpha1.TypeBackendSecretFound))
	}
	if !s.facts.isDefault {
		meta.RemoveStatusCondition(&bs.Status.Conditions, string(storagev1alpha1.TypeDefaultStorageConflict))
	}
	if s.facts.sized {
		bs.Status.Repositories = s.facts.repositories
		bs.Status.TotalSize = backends.HumanBytes(s.facts.totalSize)
	}
	bs.Status.Phase = storagev1alpha1.BackupStoragePhaseFor(bs.Status.Conditions)
	if succeeded {
		bs.Status.ObservedGeneration = bs.Generation
	}
	if orig.Status.Phase != bs.Status.Phase && bs.Status.Phase == storagev1alpha1.BackupStorageNotReady {
		if c := shared.FindCondition(bs.Status.Conditions, storagev1alpha1.TypeBackendInitialized); c != nil {
			flow.Eventf(r.Recorder, bs, corev1.EventTypeWarning, string(c.Reason), "Initialize", "%s", c.Message)
		}
	}
	if err := r.Client.Status().Patch(ctx, bs, client.MergeFrom(orig)); err != nil {
		log.FromContext(ctx).Error(err, "patching BackupStorage status")
		return client.IgnoreNotFound(err)
	}
	return nil
}

func ptrTo[T any](v T) *T { return &v }
