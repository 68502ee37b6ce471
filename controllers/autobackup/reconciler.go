package autobackup

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	"github.com/cofferhq/coffer/blueprints"
	"github.com/cofferhq/coffer/controllers/internal/flow"
)

// FieldOwner is the server-side apply manager of generated configurations.
const FieldOwner = "coffer-autobackup"

// Kinds are the workload kinds blueprints apply to, with an empty object of each.
var Kinds = map[schema.GroupVersionKind]func() client.Object{
	appsv1.SchemeGroupVersion.WithKind("Deployment"):            func() client.Object { return &appsv1.Deployment{} },
	appsv1.SchemeGroupVersion.WithKind("StatefulSet"):           func() client.Object { return &appsv1.StatefulSet{} },
	appsv1.SchemeGroupVersion.WithKind("DaemonSet"):             func() client.Object { return &appsv1.DaemonSet{} },
	corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"): func() client.Object { return &corev1.PersistentVolumeClaim{} },
}

// +kubebuilder:rbac:groups=core.coffer.dev,resources=backupconfigurations,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=core.coffer.dev,resources=backupblueprints,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets,verbs=get;list;watch

// Reconciler keeps the generated configurations of one workload kind.
type Reconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	Kind     schema.GroupVersionKind
	Policy   blueprints.SelectionPolicy
}

// SetupWithManager watches the kind, blueprints (every workload of the kind is reconsidered
// when one changes: a selector may now match, a template may render differently) and the
// generated configurations (drift and deletion are repaired).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("autobackup-"+strings.ToLower(r.Kind.Kind)).
		For(Kinds[r.Kind]()).
		Watches(&corev1alpha1.BackupBlueprint{}, handler.EnqueueRequestsFromMapFunc(r.allWorkloads)).
		Watches(&corev1alpha1.BackupConfiguration{}, handler.EnqueueRequestsFromMapFunc(r.workloadOf)).
		Complete(r)
}

func (r *Reconciler) allWorkloads(ctx context.Context, _ client.Object) []reconcile.Request {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(r.Kind.GroupVersion().WithKind(r.Kind.Kind + "List"))
	if err := r.Client.List(ctx, list); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, w := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&w)})
	}
	return out
}

func (r *Reconciler) workloadOf(_ context.Context, o client.Object) []reconcile.Request {
	l := o.GetLabels()
	if l[shared.LabelInvokerKind] != blueprints.BlueprintKind || l[shared.LabelAppRefKind] != r.Kind.Kind {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: l[shared.LabelAppRefNamespace], Name: l[shared.LabelAppRefName]}}}
}

// Reconcile resolves the workload and applies, keeps or deletes its generated configurations.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := Kinds[r.Kind]()
	err := r.Client.Get(ctx, req.NamespacedName, obj)
	if apierrors.IsNotFound(err) || (err == nil && !obj.GetDeletionTimestamp().IsZero()) {
		return ctrl.Result{}, r.retire(ctx, req.NamespacedName, nil, "its "+r.Kind.Kind+" was deleted")
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	workload, err := toUnstructured(obj, r.Kind)
	if err != nil {
		return ctrl.Result{}, err
	}
	var ns corev1.Namespace
	if err := r.Client.Get(ctx, client.ObjectKey{Name: req.Namespace}, &ns); err != nil {
		return ctrl.Result{}, err
	}
	var candidates corev1alpha1.BackupBlueprintList
	if err := r.Client.List(ctx, &candidates); err != nil {
		return ctrl.Result{}, err
	}
	bc, sel, errs := blueprints.ResolveWorkload(ctx, workload, &ns, candidates.Items, r.Policy)
	for _, s := range sel.Skipped {
		flow.Eventf(r.Recorder, obj, corev1.EventTypeWarning, "BlueprintSkipped", "Resolve", "%s", s)
	}
	if len(errs) > 0 {
		// The configuration already generated (if any) stays as it was: a broken edit of the
		// workload's annotations must not stop its backups.
		flow.Eventf(r.Recorder, obj, corev1.EventTypeWarning, "BlueprintResolutionFailed", "Resolve", "%s", errs.ToAggregate().Error())
		return ctrl.Result{}, nil
	}
	if bc == nil {
		return ctrl.Result{}, r.retire(ctx, req.NamespacedName, nil, "no BackupBlueprint applies to it any more")
	}
	if err := r.apply(ctx, obj, bc, sel.Blueprint); err != nil {
		return ctrl.Result{}, err
	}
	// A configuration generated earlier under another name or blueprint is no longer this
	// workload's.
	return ctrl.Result{}, r.retire(ctx, req.NamespacedName, bc, "the workload now uses "+blueprints.ResolvedAnnotation(sel.Blueprint))
}

// apply writes bc with server-side apply as FieldOwner; an Event says what produced it when it
// is created or changes.
func (r *Reconciler) apply(ctx context.Context, workload client.Object, bc *corev1alpha1.BackupConfiguration, bp *corev1alpha1.BackupBlueprint) error {
	var before corev1alpha1.BackupConfiguration
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(bc), &before)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	existed := err == nil
	if existed && !generatedBy(&before) {
		flow.Eventf(r.Recorder, workload, corev1.EventTypeWarning, "BackupConfigurationConflict", "Apply",
			"BackupConfiguration %s/%s exists and was not generated from a blueprint; left as it is", bc.Namespace, bc.Name)
		return nil
	}
	u, err := toUnstructured(bc, corev1alpha1.GroupVersion.WithKind("BackupConfiguration"))
	if err != nil {
		return err
	}
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	if err := r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return fmt.Errorf("applying BackupConfiguration %s/%s: %w", bc.Namespace, bc.Name, err)
	}
	switch {
	case !existed:
		flow.Eventf(r.Recorder, workload, corev1.EventTypeNormal, "BackupConfigurationCreated", "Apply",
			"Created BackupConfiguration %s/%s from BackupBlueprint %s", bc.Namespace, bc.Name, blueprints.ResolvedAnnotation(bp))
	case !equality.Semantic.DeepEqual(before.Spec, bc.Spec):
		flow.Eventf(r.Recorder, workload, corev1.EventTypeNormal, "BackupConfigurationUpdated", "Apply",
			"Re-rendered BackupConfiguration %s/%s from BackupBlueprint %s", bc.Namespace, bc.Name, blueprints.ResolvedAnnotation(bp))
	}
	return nil
}

// retire handles the generated configurations of a workload other than keep: deleted when the
// blueprint that made them says OnDelete (or is gone), kept otherwise.
func (r *Reconciler) retire(ctx context.Context, workload client.ObjectKey, keep *corev1alpha1.BackupConfiguration, why string) error {
	var list corev1alpha1.BackupConfigurationList
	if err := r.Client.List(ctx, &list, client.MatchingLabels{
		shared.LabelInvokerKind:     blueprints.BlueprintKind,
		shared.LabelAppRefKind:      r.Kind.Kind,
		shared.LabelAppRefNamespace: workload.Namespace,
		shared.LabelAppRefName:      shared.TruncateName(workload.Name, shared.MaxNameLength),
	}); err != nil {
		return err
	}
	for i := range list.Items {
		bc := &list.Items[i]
		if keep != nil && bc.Namespace == keep.Namespace && bc.Name == keep.Name {
			continue
		}
		if bc.Spec.Target == nil || bc.Spec.Target.Name != workload.Name {
			continue // a truncated label shared with another workload
		}
		var bp corev1alpha1.BackupBlueprint
		err := r.Client.Get(ctx, client.ObjectKey{Namespace: bc.Labels[shared.LabelInvokerNamespace], Name: bc.Labels[shared.LabelInvokerName]}, &bp)
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if err == nil && bp.Spec.BackupConfigurationTemplate.DeletionPolicy != corev1alpha1.BlueprintOnDelete {
			continue
		}
		if err := r.Client.Delete(ctx, bc); client.IgnoreNotFound(err) != nil {
			return err
		}
		flow.Eventf(r.Recorder, bc, corev1.EventTypeNormal, "BackupConfigurationDeleted", "Delete",
			"Deleted the generated BackupConfiguration %s/%s: %s", bc.Namespace, bc.Name, why)
	}
	return nil
}

func generatedBy(bc *corev1alpha1.BackupConfiguration) bool {
	return bc.Labels[shared.LabelInvokerKind] == blueprints.BlueprintKind
}

func toUnstructured(obj runtime.Object, gvk schema.GroupVersionKind) (*unstructured.Unstructured, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal(data, &u.Object); err != nil {
		return nil, err
	}
	u.SetGroupVersionKind(gvk)
	return u, nil
}
