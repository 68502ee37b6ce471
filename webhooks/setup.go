package webhooks

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
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
	if err := register(mgr, "BackupBlueprint", ValidateBackupBlueprint); err != nil {
		return err
	}
	if err := register(mgr, "BackupVerifier", ValidateBackupVerifier); err != nil {
		return err
	}
	mgr.GetWebhookServer().Register(WorkloadPath, &webhook.Admission{Handler: &WorkloadMutator{Reader: mgr.GetClient(), Policy: o.Selection}})
	return nil
}

func register[T object[O], O any](mgr manager.Manager, kind string, rules Rules[T]) error {
	var obj O
	return ctrl.NewWebhookManagedBy(mgr, T(&obj)).
		WithValidator(validator[T, O]{kind: schema.GroupKind{Group: corev1alpha1.GroupVersion.Group, Kind: kind}, rules: rules}).
		RecoverPanic(true).
		Complete()
}
