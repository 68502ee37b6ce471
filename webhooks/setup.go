package webhooks

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/blueprints"
)

// Options configure the webhooks.
type Options struct {
	// Selection says whose blueprint selectors may pick up whose workloads.
	Selection blueprints.SelectionPolicy
}

// Setup registers every webhook with the manager's webhook server, at the paths the
// +kubebuilder:webhook markers give config/webhook.
func Setup(mgr manager.Manager, o Options) error {
	core, storage := corev1alpha1.GroupVersion.Group, storagev1alpha1.GroupVersion.Group
	if err := register(mgr, core, "BackupBlueprint", pure(ValidateBackupBlueprint)); err != nil {
		return err
	}
	if err := register(mgr, core, "BackupVerifier", pure(ValidateBackupVerifier)); err != nil {
		return err
	}
	defaults := Defaults{Reader: mgr.GetClient()}
	if err := register(mgr, storage, "BackupStorage", defaults.ValidateBackupStorage); err != nil {
		return err
	}
	if err := register(mgr, storage, "RetentionPolicy", defaults.ValidateRetentionPolicy); err != nil {
		return err
	}
	mgr.GetWebhookServer().Register(WorkloadPath, &webhook.Admission{Handler: &WorkloadMutator{Reader: mgr.GetClient(), Policy: o.Selection}})
	return nil
}

// pure adapts rules that read nothing else.
func pure[T any](rules Rules[T]) ContextRules[T] {
	return func(_ context.Context, obj T) field.ErrorList { return rules(obj) }
}

func register[T object[O], O any](mgr manager.Manager, group, kind string, rules ContextRules[T]) error {
	var obj O
	return ctrl.NewWebhookManagedBy(mgr, T(&obj)).
		WithValidator(validator[T, O]{kind: schema.GroupKind{Group: group, Kind: kind}, rules: rules}).
		RecoverPanic(true).
		Complete()
}
