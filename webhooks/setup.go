package webhooks

import (
	"context"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

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
	refs := References{Reader: mgr.GetClient(), APIReader: mgr.GetAPIReader()}
	core, storage := corev1alpha1.GroupVersion.Group, storagev1alpha1.GroupVersion.Group
	for _, err := range []error{
		register(mgr, kindHooks[*corev1alpha1.BackupBlueprint]{group: core, kind: "BackupBlueprint", check: pure(ValidateBackupBlueprint)}),
		register(mgr, kindHooks[*corev1alpha1.BackupVerifier]{group: core, kind: "BackupVerifier", check: pure(ValidateBackupVerifier)}),
		register(mgr, kindHooks[*corev1alpha1.BackupConfiguration]{group: core, kind: "BackupConfiguration",
			defaults: refs.DefaultBackupConfiguration, check: refs.ValidateBackupConfiguration}),
		register(mgr, kindHooks[*corev1alpha1.BackupSession]{group: core, kind: "BackupSession", check: refs.ValidateBackupSession}),
		register(mgr, kindHooks[*corev1alpha1.RestoreSession]{group: core, kind: "RestoreSession",
			check: refs.ValidateRestoreSession, update: ValidateRestoreSessionUpdate}),
		register(mgr, kindHooks[*corev1alpha1.HookTemplate]{group: core, kind: "HookTemplate", check: pure(ValidateHookTemplate)}),
		register(mgr, kindHooks[*storagev1alpha1.BackupStorage]{group: storage, kind: "BackupStorage",
			defaults: DefaultBackupStorage, check: refs.ValidateBackupStorage, update: ValidateBackupStorageUpdate}),
		register(mgr, kindHooks[*storagev1alpha1.RetentionPolicy]{group: storage, kind: "RetentionPolicy", check: refs.ValidateRetentionPolicy}),
		register(mgr, kindHooks[*storagev1alpha1.Repository]{group: storage, kind: "Repository", check: refs.ValidateRepository}),
	} {
		if err != nil {
			return err
		}
	}
	mgr.GetWebhookServer().Register(WorkloadPath, &webhook.Admission{Handler: &WorkloadMutator{Reader: mgr.GetClient(), Policy: o.Selection}})
	return nil
}

// kindHooks are the admission functions of one kind; defaults and update are optional.
type kindHooks[T any] struct {
	group, kind string
	defaults    func(ctx context.Context, obj T) error
	check       Check[T]
	update      UpdateCheck[T]
}

// pure adapts rules that read nothing else.
func pure[T any](rules Rules[T]) Check[T] {
	return func(_ context.Context, obj T) (admission.Warnings, field.ErrorList) { return nil, rules(obj) }
}

// defaulter adapts a defaulting function to controller-runtime's interface.
type defaulter[T any] func(ctx context.Context, obj T) error

func (d defaulter[T]) Default(ctx context.Context, obj T) error { return d(ctx, obj) }

func register[T object[O], O any](mgr manager.Manager, h kindHooks[T]) error {
	var obj O
	b := ctrl.NewWebhookManagedBy(mgr, T(&obj)).
		WithValidator(validator[T, O]{kind: schema.GroupKind{Group: h.group, Kind: h.kind}, check: h.check, update: h.update}).
		RecoverPanic(true)
	if h.defaults != nil {
		b = b.WithDefaulter(defaulter[T](h.defaults))
	}
	return b.Complete()
}
