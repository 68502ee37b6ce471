package webhooks

import (
	"context"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/blueprints"
	"github.com/cofferhq/coffer/cel"
)

// object is a pointer to a Coffer kind O.
type object[O any] interface {
	*O
	client.Object
}

// Rules is a kind's validation that reads nothing else: every problem of obj, with its field.
type Rules[T any] func(obj T) field.ErrorList

// Check is a kind's admission check, which may read other objects (through the manager's cache):
// problems reject the write, warnings are shown to the client.
type Check[T any] func(ctx context.Context, obj T) (admission.Warnings, field.ErrorList)

// UpdateCheck compares an update with the stored object (fields that may not change).
type UpdateCheck[T any] func(ctx context.Context, old, obj T) field.ErrorList

// validator admits an object of kind T on create and update when its checks find no problem,
// and otherwise rejects it with a 422 Invalid listing every problem; deletes are always admitted.
type validator[T object[O], O any] struct {
	kind   schema.GroupKind
	check  Check[T]
	update UpdateCheck[T]
}

func (v validator[T, O]) verdict(obj T, warnings admission.Warnings, errs field.ErrorList) (admission.Warnings, error) {
	if len(errs) > 0 {
		return warnings, apierrors.NewInvalid(v.kind, obj.GetName(), errs)
	}
	return warnings, nil
}

func (v validator[T, O]) ValidateCreate(ctx context.Context, obj T) (admission.Warnings, error) {
	warnings, errs := v.check(ctx, obj)
	return v.verdict(obj, warnings, errs)
}

func (v validator[T, O]) ValidateUpdate(ctx context.Context, old, obj T) (admission.Warnings, error) {
	warnings, errs := v.check(ctx, obj)
	if v.update != nil {
		errs = append(errs, v.update(ctx, old, obj)...)
	}
	return v.verdict(obj, warnings, errs)
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
// environment of the verifier's shape, as the verification session will evaluate them, and
// parses the schedule of its CronJobs.
func ValidateBackupVerifier(v *corev1alpha1.BackupVerifier) field.ErrorList {
	_, errs := cel.CompileVerifier(&v.Spec, field.NewPath("spec"))
	if v.Spec.Scheduler != nil {
		errs = append(errs, blueprints.ValidateScheduler(v.Spec.Scheduler, field.NewPath("spec", "scheduler"))...)
	}
	return errs
}
