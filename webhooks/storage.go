package webhooks

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

// +kubebuilder:webhook:path=/mutate-storage-coffer-dev-v1alpha1-backupstorage,mutating=true,failurePolicy=fail,sideEffects=None,timeoutSeconds=5,groups=storage.coffer.dev,resources=backupstorages,verbs=create;update,versions=v1alpha1,name=mbackupstorage.coffer.dev,admissionReviewVersions=v1,reinvocationPolicy=Never
// +kubebuilder:webhook:path=/validate-storage-coffer-dev-v1alpha1-backupstorage,mutating=false,failurePolicy=fail,sideEffects=None,timeoutSeconds=5,groups=storage.coffer.dev,resources=backupstorages,verbs=create;update,versions=v1alpha1,name=vbackupstorage.coffer.dev,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-storage-coffer-dev-v1alpha1-retentionpolicy,mutating=false,failurePolicy=fail,sideEffects=None,timeoutSeconds=5,groups=storage.coffer.dev,resources=retentionpolicies,verbs=create;update,versions=v1alpha1,name=vretentionpolicy.coffer.dev,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-storage-coffer-dev-v1alpha1-repository,mutating=false,failurePolicy=fail,sideEffects=None,timeoutSeconds=5,groups=storage.coffer.dev,resources=repositories,verbs=create;update,versions=v1alpha1,name=vrepository.coffer.dev,admissionReviewVersions=v1

// DefaultBackupStorage trims trailing slashes from buckets, endpoints and prefixes, so that one
// location has one spelling (and the uniqueness check sees it).
func DefaultBackupStorage(_ context.Context, bs *storagev1alpha1.BackupStorage) error {
	trim := func(s *string) { *s = strings.TrimRight(*s, "/") }
	st := &bs.Spec.Storage
	if st.S3 != nil {
		trim(&st.S3.Endpoint)
		trim(&st.S3.Bucket)
		trim(&st.S3.Prefix)
	}
	if st.GCS != nil {
		trim(&st.GCS.Bucket)
		trim(&st.GCS.Prefix)
	}
	if st.Azure != nil {
		trim(&st.Azure.Prefix)
	}
	return nil
}

// ValidateBackupStorage admits at most one default BackupStorage per namespace (backends that
// name no storage take it, so it must be unambiguous) and no two storages on one location (each
// writes metadata.yaml at its root and finds repositories below it). Two writes racing past the
// default check are still reported by the storage controller's DefaultStorageConflict condition.
func (r References) ValidateBackupStorage(ctx context.Context, bs *storagev1alpha1.BackupStorage) (admission.Warnings, field.ErrorList) {
	var list storagev1alpha1.BackupStorageList
	if err := r.Reader.List(ctx, &list); err != nil {
		return nil, field.ErrorList{field.InternalError(field.NewPath("spec"), err)}
	}
	var errs field.ErrorList
	if bs.Spec.Default {
		errs = append(errs, oneDefault("BackupStorage", bs.Namespace, otherDefaults(list.Items, bs,
			func(o *storagev1alpha1.BackupStorage) bool { return o.Spec.Default }))...)
	}
	if here := location(bs); here != "" {
		for i := range list.Items {
			o := &list.Items[i]
			if sameObject(o, bs) || location(o) != here {
				continue
			}
			errs = append(errs, field.Forbidden(field.NewPath("spec", "storage"),
				fmt.Sprintf("%s is already the location of BackupStorage %s/%s; two storages must not share one (give this one another prefix or subPath)", here, o.Namespace, o.Name)))
		}
	}
	return nil, errs
}

// ValidateBackupStorageUpdate keeps spec.storage while repositories live on it: moving the
// storage would strand their data and make the next backup start an empty repository elsewhere.
func ValidateBackupStorageUpdate(_ context.Context, old, bs *storagev1alpha1.BackupStorage) field.ErrorList {
	if len(old.Status.Repositories) == 0 || equality.Semantic.DeepEqual(old.Spec.Storage, bs.Spec.Storage) {
		return nil
	}
	return field.ErrorList{field.Forbidden(field.NewPath("spec", "storage"), fmt.Sprintf(
		"may not change while %d repositories are stored here (status.repositories); create another BackupStorage instead", len(old.Status.Repositories)))}
}

// location is where a BackupStorage writes, one string per place; "" for a local volume of a
// kind whose identity cannot be compared.
func location(bs *storagev1alpha1.BackupStorage) string {
	dir := func(s string) string { return strings.Trim(path.Clean("/"+s), "/") }
	st := bs.Spec.Storage
	switch {
	case st.S3 != nil:
		host := st.S3.Endpoint
		if u, err := url.Parse(st.S3.Endpoint); err == nil && u.Host != "" {
			host = u.Host
		}
		return fmt.Sprintf("s3 %s bucket %s prefix %q", host, st.S3.Bucket, dir(st.S3.Prefix))
	case st.GCS != nil:
		return fmt.Sprintf("gcs bucket %s prefix %q", st.GCS.Bucket, dir(st.GCS.Prefix))
	case st.Azure != nil:
		return fmt.Sprintf("azure account %s container %s prefix %q", st.Azure.StorageAccount, st.Azure.Container, dir(st.Azure.Prefix))
	case st.Local != nil && st.Local.HostPath != nil:
		return fmt.Sprintf("hostPath %s subPath %q", path.Clean(st.Local.HostPath.Path), dir(st.Local.SubPath))
	case st.Local != nil && st.Local.PersistentVolumeClaim != nil:
		return fmt.Sprintf("claim %s/%s subPath %q", bs.Namespace, st.Local.PersistentVolumeClaim.ClaimName, dir(st.Local.SubPath))
	case st.Local != nil && st.Local.NFS != nil:
		return fmt.Sprintf("nfs %s:%s subPath %q", st.Local.NFS.Server, path.Clean(st.Local.NFS.Path), dir(st.Local.SubPath))
	}
	return ""
}

// ValidateRetentionPolicy checks that maxRetentionPeriod parses as retention will read it and
// admits at most one default RetentionPolicy per namespace.
func (r References) ValidateRetentionPolicy(ctx context.Context, rp *storagev1alpha1.RetentionPolicy) (admission.Warnings, field.ErrorList) {
	var errs field.ErrorList
	if p := rp.Spec.MaxRetentionPeriod; p != "" {
		if _, err := p.Duration(); err != nil {
			errs = append(errs, field.Invalid(field.NewPath("spec", "maxRetentionPeriod"), string(p), err.Error()))
		}
	}
	if rp.Spec.Default {
		var list storagev1alpha1.RetentionPolicyList
		if err := r.Reader.List(ctx, &list, client.InNamespace(rp.Namespace)); err != nil {
			return nil, append(errs, field.InternalError(field.NewPath("spec", "default"), err))
		}
		errs = append(errs, oneDefault("RetentionPolicy", rp.Namespace, otherDefaults(list.Items, rp,
			func(o *storagev1alpha1.RetentionPolicy) bool { return o.Spec.Default }))...)
	}
	return nil, errs
}

// ValidateRepository checks that the Repository's BackupStorage allows its namespace: a
// Repository written by hand must not reach a storage its namespace may not use.
func (r References) ValidateRepository(ctx context.Context, repo *storagev1alpha1.Repository) (admission.Warnings, field.ErrorList) {
	from, err := r.namespace(ctx, repo.Namespace)
	if err != nil {
		return nil, field.ErrorList{field.InternalError(field.NewPath("metadata", "namespace"), err)}
	}
	var f findings
	r.usable(ctx, &storagev1alpha1.BackupStorage{}, "BackupStorage", repo.Spec.StorageRef, from, field.NewPath("spec", "storageRef"), &f)
	return f.warnings, f.errs
}

// sameObject reports whether two objects are one: the same namespace and name.
func sameObject(a, b client.Object) bool {
	return a.GetNamespace() == b.GetNamespace() && a.GetName() == b.GetName()
}

// otherDefaults names the items of obj's namespace, other than obj, that are its default.
func otherDefaults[T any, P interface {
	*T
	client.Object
}](items []T, obj client.Object, isDefault func(P) bool) []string {
	var others []string
	for i := range items {
		if o := P(&items[i]); isDefault(o) && o.GetNamespace() == obj.GetNamespace() && !sameObject(o, obj) && o.GetDeletionTimestamp().IsZero() {
			others = append(others, o.GetName())
		}
	}
	return others
}

func oneDefault(kind, namespace string, others []string) field.ErrorList {
	if len(others) == 0 {
		return nil
	}
	return field.ErrorList{field.Forbidden(field.NewPath("spec", "default"), fmt.Sprintf("%s %s is already the default of namespace %s; at most one may be (set default: false on one of them)",
		kind, strings.Join(others, ", "), namespace))}
}
