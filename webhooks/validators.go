package webhooks

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/blueprints"
	"github.com/cofferhq/coffer/cel"
)

// object is a pointer to a Coffer kind O.
type object[O any] interface {
	*O
	client.Object
}

// Rules is a kind's validation: every problem of obj, with its field.
type Rules[T any] func(obj T) field.ErrorList

// ContextRules is a validation that reads other objects (through the manager's cache).
type ContextRules[T any] func(ctx context.Context, obj T) field.ErrorList

// validator admits an object of kind T on create and update when its Rules find nothing, and
// otherwise rejects it with a 422 Invalid listing every problem; deletes are always admitted.
type validator[T object[O], O any] struct {
	kind  schema.GroupKind
	rules ContextRules[T]
}

func (v validator[T, O]) check(ctx context.Context, obj T) error {
	if errs := v.rules(ctx, obj); len(errs) > 0 {
		return apierrors.NewInvalid(v.kind, obj.GetName(), errs)
	}
	return nil
}

func (v validator[T, O]) ValidateCreate(ctx context.Context, obj T) (admission.Warnings, error) {
	return nil, v.check(ctx, obj)
}

func (v validator[T, O]) ValidateUpdate(ctx context.Context, _, obj T) (admission.Warnings, error) {
	return nil, v.check(ctx, obj)
}

func (v validator[T, O]) ValidateDelete(context.Context, T) (admission.Warnings, error) {
	return nil, nil
}

// +kubebuilder:webhook:path=/validate-core-coffer-dev-v1alpha1-backupblueprint,mutating=false,failurePolicy=fail,sideEffects=None,timeoutSeconds=5,groups=core.coffer.dev,resources=backupblueprints,verbs=create;update,versions=v1alpha1,name=vbackupblueprint.coffer.dev,admissionReviewVersions=v1

// ValidateBackupBlueprint compiles the selector with the run-time CEL environment, parses
// every template with the run-time renderer and checks defaults and literal schedules
// (blueprints.ValidateBlueprint: the rules the auto-backup controller relies on).
func ValidateBackupBlueprint(bp *corev1alpha1.BackupBlueprint) field.ErrorList {
	return blueprints.ValidateBlueprint(bp, field.NewPath("spec"))
}

// +kubebuilder:webhook:path=/validate-core-coffer-dev-v1alpha1-backupverifier,mutating=false,failurePolicy=fail,sideEffects=None,timeoutSeconds=5,groups=core.coffer.dev,resources=backupverifier,verbs=create;update,versions=v1alpha1,name=vbackupverifier.coffer.dev,admissionReviewVersions=v1

// ValidateBackupVerifier compiles every verification condition (expression and message) in the
// environment of the verifier's shape, as the verification session will evaluate them.
func ValidateBackupVerifier(v *corev1alpha1.BackupVerifier) field.ErrorList {
	_, errs := cel.CompileVerifier(&v.Spec, field.NewPath("spec"))
	return errs
}

// +kubebuilder:webhook:path=/validate-storage-coffer-dev-v1alpha1-backupstorage,mutating=false,failurePolicy=fail,sideEffects=None,timeoutSeconds=5,groups=storage.coffer.dev,resources=backupstorages,verbs=create;update,versions=v1alpha1,name=vbackupstorage.coffer.dev,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-storage-coffer-dev-v1alpha1-retentionpolicy,mutating=false,failurePolicy=fail,sideEffects=None,timeoutSeconds=5,groups=storage.coffer.dev,resources=retentionpolicies,verbs=create;update,versions=v1alpha1,name=vretentionpolicy.coffer.dev,admissionReviewVersions=v1

// Defaults enforces at most one default BackupStorage and one default RetentionPolicy per
// namespace: backends that name no storage or policy take the namespace's default, which must be
// unambiguous. Two writes racing past the check are still reported by the storage controller's
// DefaultStorageConflict condition.
type Defaults struct {
	// Reader lists the namespace's objects (the manager's cache).
	Reader client.Reader
}

// ValidateBackupStorage rejects a second default BackupStorage in a namespace.
func (d Defaults) ValidateBackupStorage(ctx context.Context, bs *storagev1alpha1.BackupStorage) field.ErrorList {
	if !bs.Spec.Default {
		return nil
	}
	var list storagev1alpha1.BackupStorageList
	err := d.Reader.List(ctx, &list, client.InNamespace(bs.Namespace))
	return oneDefault("BackupStorage", bs.Namespace, otherDefaults(list.Items, bs.Name,
		func(o *storagev1alpha1.BackupStorage) bool { return o.Spec.Default }), err)
}

// ValidateRetentionPolicy rejects a second default RetentionPolicy in a namespace.
func (d Defaults) ValidateRetentionPolicy(ctx context.Context, rp *storagev1alpha1.RetentionPolicy) field.ErrorList {
	if !rp.Spec.Default {
		return nil
	}
	var list storagev1alpha1.RetentionPolicyList
	err := d.Reader.List(ctx, &list, client.InNamespace(rp.Namespace))
	return oneDefault("RetentionPolicy", rp.Namespace, otherDefaults(list.Items, rp.Name,
		func(o *storagev1alpha1.RetentionPolicy) bool { return o.Spec.Default }), err)
}

// otherDefaults names the items other than name that are their namespace's default.
func otherDefaults[T any, P interface {
	*T
	GetName() string
}](items []T, name string, isDefault func(P) bool) []string {
	var others []string
	for i := range items {
		if o := P(&items[i]); isDefault(o) && o.GetName() != name {
			others = append(others, o.GetName())
		}
	}
	return others
}

func oneDefault(kind, namespace string, others []string, listErr error) field.ErrorList {
	p := field.NewPath("spec", "default")
	switch {
	case listErr != nil:
		return field.ErrorList{field.InternalError(p, listErr)}
	case len(others) == 0:
		return nil
	}
	return field.ErrorList{field.Forbidden(p, fmt.Sprintf("%s %s is already the default of namespace %s; at most one may be (set default: false on one of them)",
		kind, strings.Join(others, ", "), namespace))}
}
