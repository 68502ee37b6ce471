package webhooks

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
	"github.com/cofferhq/coffer/blueprints"
)

// +kubebuilder:webhook:path=/mutate-core-coffer-dev-v1alpha1-backupconfiguration,mutating=true,failurePolicy=fail,sideEffects=None,timeoutSeconds=5,groups=core.coffer.dev,resources=backupconfigurations,verbs=create;update,versions=v1alpha1,name=mbackupconfiguration.coffer.dev,admissionReviewVersions=v1,reinvocationPolicy=Never
// +kubebuilder:webhook:path=/validate-core-coffer-dev-v1alpha1-backupconfiguration,mutating=false,failurePolicy=fail,sideEffects=None,timeoutSeconds=5,groups=core.coffer.dev,resources=backupconfigurations,verbs=create;update,versions=v1alpha1,name=vbackupconfiguration.coffer.dev,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-core-coffer-dev-v1alpha1-backupsession,mutating=false,failurePolicy=fail,sideEffects=None,timeoutSeconds=5,groups=core.coffer.dev,resources=backupsessions,verbs=create,versions=v1alpha1,name=vbackupsession.coffer.dev,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-core-coffer-dev-v1alpha1-restoresession,mutating=false,failurePolicy=fail,sideEffects=None,timeoutSeconds=5,groups=core.coffer.dev,resources=restoresessions,verbs=create;update,versions=v1alpha1,name=vrestoresession.coffer.dev,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-core-coffer-dev-v1alpha1-hooktemplate,mutating=false,failurePolicy=fail,sideEffects=None,timeoutSeconds=5,groups=core.coffer.dev,resources=hooktemplates,verbs=create;update,versions=v1alpha1,name=vhooktemplate.coffer.dev,admissionReviewVersions=v1

var configurationGK = corev1alpha1.GroupVersion.WithKind("BackupConfiguration").GroupKind()

// DefaultBackupConfiguration gives a configuration that names no backend one unnamed backend,
// and every backend without a BackupStorage or RetentionPolicy the default its namespace may
// use (its own namespace's, then one shared with it by label, then one shared with all). With
// no storage to use, the configuration is rejected naming the backend: run time has no other
// default. The validator repeats the warning about a missing retention policy, since a
// defaulter's warnings are not passed on.
func (r References) DefaultBackupConfiguration(ctx context.Context, bc *corev1alpha1.BackupConfiguration) error {
	from, err := r.namespace(ctx, bc.Namespace)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	var f findings
	r.defaultBackends(ctx, &bc.Spec.Backends, from, field.NewPath("spec"), &f)
	if len(f.errs) > 0 {
		return apierrors.NewInvalid(configurationGK, bc.Name, f.errs)
	}
	return nil
}

// ValidateBackupConfiguration runs the checks the controller runs (blueprints.ValidateBackupConfiguration)
// and those that need other objects: every BackupStorage, RetentionPolicy and HookTemplate
// allows the configuration's namespace, and no Repository it asks for is already another's.
func (r References) ValidateBackupConfiguration(ctx context.Context, bc *corev1alpha1.BackupConfiguration) (admission.Warnings, field.ErrorList) {
	f := findings{errs: blueprints.ValidateBackupConfiguration(bc)}
	from, err := r.namespace(ctx, bc.Namespace)
	if err != nil {
		return nil, append(f.errs, field.InternalError(field.NewPath("metadata", "namespace"), err))
	}
	spec := field.NewPath("spec")
	for i, b := range bc.Spec.Backends {
		if b.RetentionPolicy == nil {
			f.warnings = append(f.warnings, fmt.Sprintf("%s: no RetentionPolicy is named and none is a default usable from namespace %q; snapshots are kept until deleted by hand",
				spec.Child("backends").Index(i).Child("retentionPolicy"), bc.Namespace))
		}
	}
	r.backendReferences(ctx, bc.Spec.Backends, from, spec, &f)
	for i, s := range bc.Spec.Sessions {
		if s.Hooks != nil {
			p := spec.Child("sessions").Index(i).Child("hooks")
			r.hookReferences(ctx, s.Hooks.PreBackup, from, p.Child("preBackup"), &f)
			r.hookReferences(ctx, s.Hooks.PostBackup, from, p.Child("postBackup"), &f)
		}
	}
	if bc.Spec.Target != nil && len(f.errs) == 0 {
		f.errs = append(f.errs, r.repositoryConflicts(ctx, bc)...)
	}
	return f.warnings, f.errs
}

// repositoryConflicts finds the Repositories the configuration asks for that are already
// something else: a Repository of the same name on another storage or directory or for another
// target, or another Repository in the same directory of the same storage (two restic writers
// of one repository, each pruning what the other wrote).
func (r References) repositoryConflicts(ctx context.Context, bc *corev1alpha1.BackupConfiguration) field.ErrorList {
	paths := repositoryPaths(bc)
	var all storagev1alpha1.RepositoryList
	if err := r.Reader.List(ctx, &all); err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("spec", "sessions"), err)}
	}
	var errs field.ErrorList
	for _, want := range blueprints.Repositories(bc) {
		p := paths[want.Name]
		wantDir, _ := shared.CleanDirectory(want.Spec.Path)
		for i := range all.Items {
			have := &all.Items[i]
			if owner := metav1.GetControllerOf(have); owner != nil && owner.UID == bc.UID {
				continue // its own, from an earlier generation
			}
			haveDir, _ := shared.CleanDirectory(have.Spec.Path)
			sameStorage := have.Spec.StorageRef.Name == want.Spec.StorageRef.Name &&
				shared.NamespaceOr(have.Spec.StorageRef.Namespace, have.Namespace) == want.Spec.StorageRef.Namespace
			switch {
			case sameObject(have, want):
				haveTarget := have.Spec.AppRef
				haveTarget.Namespace = shared.NamespaceOr(haveTarget.Namespace, have.Namespace)
				if !sameStorage || haveDir != wantDir || !sameTarget(haveTarget, want.Spec.AppRef) {
					errs = append(errs, field.Forbidden(p.Child("name"), fmt.Sprintf(
						"%s is taken: Repository %s/%s already exists for %s %s/%s in directory %q of BackupStorage %s/%s; choose another name",
						want.Name, have.Namespace, have.Name, haveTarget.Kind, haveTarget.Namespace, haveTarget.Name,
						have.Spec.Path, shared.NamespaceOr(have.Spec.StorageRef.Namespace, have.Namespace), have.Spec.StorageRef.Name)))
				}
			case sameStorage && haveDir == wantDir:
				errs = append(errs, field.Forbidden(p.Child("directory"), fmt.Sprintf(
					"%s is the directory of Repository %s/%s on BackupStorage %s/%s; choose another directory",
					want.Spec.Path, have.Namespace, have.Name, want.Spec.StorageRef.Namespace, want.Spec.StorageRef.Name)))
			}
		}
	}
	return errs
}

// repositoryPaths is the path of the first entry of each repository name in the sessions.
func repositoryPaths(bc *corev1alpha1.BackupConfiguration) map[string]*field.Path {
	out := map[string]*field.Path{}
	for i, s := range bc.Spec.Sessions {
		for j, ri := range s.Repositories {
			if _, ok := out[ri.Name]; !ok {
				out[ri.Name] = field.NewPath("spec", "sessions").Index(i).Child("repositories").Index(j)
			}
		}
	}
	return out
}

func sameTarget(a, b shared.TypedObjectReference) bool {
	return a.Kind == b.Kind && a.Name == b.Name && a.Namespace == b.Namespace
}

// ValidateBackupSession checks a new session against its configuration: it must exist and have
// the session named, or the session would wait for ever for a configuration that cannot run it.
func (r References) ValidateBackupSession(ctx context.Context, s *corev1alpha1.BackupSession) (admission.Warnings, field.ErrorList) {
	p := field.NewPath("spec")
	if s.Spec.Invoker.Kind != "BackupConfiguration" {
		return nil, field.ErrorList{field.NotSupported(p.Child("invoker", "kind"), s.Spec.Invoker.Kind, []string{"BackupConfiguration"})}
	}
	var bc corev1alpha1.BackupConfiguration
	found, err := r.get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: s.Spec.Invoker.Name}, &bc)
	switch {
	case err != nil:
		return nil, field.ErrorList{field.InternalError(p.Child("invoker"), err)}
	case !found:
		return nil, field.ErrorList{field.NotFound(p.Child("invoker", "name"), s.Spec.Invoker.Name)}
	}
	var names []string
	for _, sess := range bc.Spec.Sessions {
		if sess.Name == s.Spec.Session {
			return nil, nil
		}
		names = append(names, sess.Name)
	}
	return nil, field.ErrorList{field.NotSupported(p.Child("session"), s.Spec.Session, names)}
}

// ValidateRestoreSession checks the target kind, the HookTemplates, and a data source in
// another namespace: restoring from it reads that namespace's backups, so its BackupStorage
// must allow the restoring namespace.
func (r References) ValidateRestoreSession(ctx context.Context, rs *corev1alpha1.RestoreSession) (admission.Warnings, field.ErrorList) {
	var f findings
	spec := field.NewPath("spec")
	if rs.Spec.Target != nil {
		f.errs = append(f.errs, blueprints.ValidateTarget(*rs.Spec.Target, spec.Child("target"))...)
	}
	from, err := r.namespace(ctx, rs.Namespace)
	if err != nil {
		return nil, append(f.errs, field.InternalError(field.NewPath("metadata", "namespace"), err))
	}
	if h := rs.Spec.Hooks; h != nil {
		r.hookReferences(ctx, h.PreRestore, from, spec.Child("hooks", "preRestore"), &f)
		r.hookReferences(ctx, h.PostRestore, from, spec.Child("hooks", "postRestore"), &f)
	}
	ds := rs.Spec.DataSource
	if ds.Namespace != "" && ds.Namespace != rs.Namespace && ds.Repository != "" {
		var repo storagev1alpha1.Repository
		found, err := r.get(ctx, client.ObjectKey{Namespace: ds.Namespace, Name: ds.Repository}, &repo)
		switch {
		case err != nil:
			f.add(field.InternalError(spec.Child("dataSource", "repository"), err))
		case !found:
			f.warnings = append(f.warnings, fmt.Sprintf("spec.dataSource.repository: Repository %s/%s does not exist yet", ds.Namespace, ds.Repository))
		default:
			r.usable(ctx, &storagev1alpha1.BackupStorage{}, "BackupStorage", shared.ObjectReference{
				Name: repo.Spec.StorageRef.Name, Namespace: shared.NamespaceOr(repo.Spec.StorageRef.Namespace, repo.Namespace),
			}, from, spec.Child("dataSource", "namespace"), &f)
		}
	}
	return f.warnings, f.errs
}

// ValidateRestoreSessionUpdate keeps what a running restore reads and writes.
func ValidateRestoreSessionUpdate(_ context.Context, old, rs *corev1alpha1.RestoreSession) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if !equality.Semantic.DeepEqual(old.Spec.Target, rs.Spec.Target) {
		errs = append(errs, field.Forbidden(spec.Child("target"), "is immutable; create another RestoreSession"))
	}
	if !equality.Semantic.DeepEqual(old.Spec.DataSource, rs.Spec.DataSource) {
		errs = append(errs, field.Forbidden(spec.Child("dataSource"), "is immutable; create another RestoreSession"))
	}
	return errs
}

// ValidateHookTemplate parses the pod selector as the hook executor will.
func ValidateHookTemplate(ht *corev1alpha1.HookTemplate) field.ErrorList {
	if pod := ht.Spec.Executor.Pod; pod != nil && pod.Selector != "" {
		if _, err := labels.Parse(pod.Selector); err != nil {
			return field.ErrorList{field.Invalid(field.NewPath("spec", "executor", "pod", "selector"), pod.Selector, "not a label selector (k=v,...): "+err.Error())}
		}
	}
	return nil
}
