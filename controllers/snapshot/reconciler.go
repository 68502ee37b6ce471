package snapshot

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/controllers/backends"
	"github.com/cofferhq/coffer/controllers/internal/flow"
	"github.com/cofferhq/coffer/engine"
	"github.com/cofferhq/coffer/engine/blob"
)

// Reconciler reconciles Snapshots.
type Reconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	// BlobOptions are passed to blob.Open (tests route requests to emulators).
	BlobOptions []blob.Option
}

// +kubebuilder:rbac:groups=storage.coffer.dev,resources=snapshots,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=storage.coffer.dev,resources=snapshots/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=storage.coffer.dev,resources=snapshots/finalizers,verbs=update

// SetupWithManager registers the controller. Status changes matter (executors report there),
// so every update of a Snapshot is reconciled.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).For(&storagev1alpha1.Snapshot{}).Named("snapshot").Complete(r)
}

// Reconcile uploads the snapshot's file and derives its status, patching status once.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var snap storagev1alpha1.Snapshot
	if err := r.Client.Get(ctx, req.NamespacedName, &snap); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !snap.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, &snap)
	}
	if controllerutil.AddFinalizer(&snap, shared.Finalizer) {
		if err := r.Client.Update(ctx, &snap); err != nil {
			return ctrl.Result{}, err
		}
	}

	if snap.Annotations[backends.SyncedAnnotation] == backends.SyncRestoring {
		// The storage controller is still putting back the status read from the backend; the
		// file must not be overwritten with an empty status meanwhile.
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	orig := snap.DeepCopy()
	summarize(&snap.Status, snap.CreationTimestamp)
	var f facts
	var result ctrl.Result
	bucket, repo, err := r.open(ctx, &snap)
	if err == nil {
		defer bucket.Close()
		// The file carries the status as it will be after this patch, phase included.
		next := snap.DeepCopy()
		setConditions(&next.Status, &facts{uploaded: true}, next.Generation)
		next.Status.Phase = storagev1alpha1.SnapshotPhaseFor(&next.Status)
		err = backends.WriteYAML(ctx, bucket, engine.SnapshotFile(backends.RepoDir(repo), snap.Name), backends.StoreSnapshot(next))
	}
	if err != nil {
		f.uploadErr = err
		// The storage may come back; an upload failure is retried with backoff.
		result.RequeueAfter = 30 * time.Second
	} else {
		f.uploaded = true
	}
	setConditions(&snap.Status, &f, snap.Generation)
	snap.Status.Phase = storagev1alpha1.SnapshotPhaseFor(&snap.Status)
	if f.uploaded {
		snap.Status.ObservedGeneration = snap.Generation
	}
	if equality.Semantic.DeepEqual(orig.Status, snap.Status) {
		return result, nil
	}
	now := metav1.Now()
	snap.Status.LastUpdateTime = &now
	if orig.Status.Phase != snap.Status.Phase {
		switch snap.Status.Phase {
		case storagev1alpha1.SnapshotSucceeded:
			flow.Eventf(r.Recorder, &snap, corev1.EventTypeNormal, "SnapshotSucceeded", "Backup", "every component succeeded (%s)", snap.Status.Size)
		case storagev1alpha1.SnapshotFailed:
			flow.Eventf(r.Recorder, &snap, corev1.EventTypeWarning, "SnapshotFailed", "Backup", "%s", failureMessage(&snap.Status))
		}
	}
	return result, client.IgnoreNotFound(r.Client.Status().Patch(ctx, &snap, client.MergeFrom(orig)))
}

// open reaches the backend of the snapshot's repository.
func (r *Reconciler) open(ctx context.Context, snap *storagev1alpha1.Snapshot) (*blob.Bucket, *storagev1alpha1.Repository, error) {
	var repo storagev1alpha1.Repository
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: snap.Namespace, Name: snap.Spec.Repository}, &repo); err != nil {
		return nil, nil, fmt.Errorf("Repository %s/%s: %w", snap.Namespace, snap.Spec.Repository, err)
	}
	bs, err := backends.StorageOf(ctx, r.Client, &repo)
	if err != nil {
		return nil, nil, err
	}
	backend, err := backends.ForStorage(ctx, r.Client, bs)
	if err != nil {
		return nil, nil, err
	}
	b, err := blob.Open(ctx, backend, r.BlobOptions...)
	if err != nil {
		return nil, nil, err
	}
	return b, &repo, nil
}

// finalize removes the snapshot's file under WipeOut; under Delete the file stays, so a
// BackupStorage created over the data later re-creates the Snapshot. Removing the restic data
// of a WipeOut snapshot is the retention Job's work, which forgets it in restic first.
func (r *Reconciler) finalize(ctx context.Context, snap *storagev1alpha1.Snapshot) error {
	if !controllerutil.ContainsFinalizer(snap, shared.Finalizer) {
		return nil
	}
	if snap.Spec.DeletionPolicy != storagev1alpha1.DeletionPolicyWipeOut {
		controllerutil.RemoveFinalizer(snap, shared.Finalizer)
		return r.Client.Update(ctx, snap)
	}
	bucket, repo, err := r.open(ctx, snap)
	switch {
	case err == nil:
		defer bucket.Close()
		if err := bucket.Delete(ctx, engine.SnapshotFile(backends.RepoDir(repo), snap.Name)); err != nil {
			return err
		}
	case apierrors.IsNotFound(err):
		// The repository or storage is gone already: so is the directory the file was in, or
		// it was kept on purpose.
	default:
		return err
	}
	controllerutil.RemoveFinalizer(snap, shared.Finalizer)
	return r.Client.Update(ctx, snap)
}

func failureMessage(st *storagev1alpha1.SnapshotStatus) string {
	for name, c := range st.Components {
		if c.Phase == storagev1alpha1.ComponentFailed {
			return fmt.Sprintf("component %s failed: %s", name, c.Error)
		}
	}
	for _, c := range st.Conditions {
		if c.Status == "False" || (c.Type == string(storagev1alpha1.TypeBackupIncomplete) && c.Status == "True") {
			return c.Message
		}
	}
	return "the snapshot failed"
}
