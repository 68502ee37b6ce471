package webhooks

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

// References checks what an object refers to: a referenced BackupStorage, RetentionPolicy or
// HookTemplate must allow the referring namespace (its usagePolicy), and references left empty
// are filled with the defaults the referring namespace may use.
//
// A reference to an object that does not exist yet is admitted with a warning, not rejected:
// `kubectl apply -f dir/` and GitOps tools write objects in no particular order, and the
// controllers report a missing object in status until it appears.
//
// +kubebuilder:rbac:groups=storage.coffer.dev,resources=backupstorages;retentionpolicies;repositories,verbs=get;list;watch
// +kubebuilder:rbac:groups=core.coffer.dev,resources=hooktemplates;backupconfigurations,verbs=get;list;watch
type References struct {
	// Reader is the manager's cache.
	Reader client.Reader
	// APIReader reads the API server directly. An absence the cache reports is confirmed with it,
	// since the cache may not have seen an object written a moment ago.
	APIReader client.Reader
}

// findings are what a check found: problems that reject the write, and warnings that do not.
type findings struct {
	errs     field.ErrorList
	warnings []string
}

func (f *findings) add(ferr *field.Error) {
	if ferr != nil {
		f.errs = append(f.errs, ferr)
	}
}

// get reads key into obj from the cache, and from the API server when the cache has no such
// object. It reports whether the object exists.
func (r References) get(ctx context.Context, key client.ObjectKey, obj client.Object) (bool, error) {
	err := r.Reader.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) && r.APIReader != nil {
		err = r.APIReader.Get(ctx, key, obj)
	}
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// namespace reads the referring namespace, whose labels usage policies select on.
func (r References) namespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	var ns corev1.Namespace
	if _, err := r.get(ctx, client.ObjectKey{Name: name}, &ns); err != nil {
		return nil, fmt.Errorf("reading namespace %s: %w", name, err)
	}
	return &ns, nil
}

// usageOf is the usagePolicy of a kind that has one (BackupStorage, RetentionPolicy,
// HookTemplate); none means the object's own namespace only.
func usageOf(obj client.Object) shared.UsagePolicy {
	var p *shared.UsagePolicy
	switch o := obj.(type) {
	case *storagev1alpha1.BackupStorage:
		p = o.Spec.UsagePolicy
	case *storagev1alpha1.RetentionPolicy:
		p = o.Spec.UsagePolicy
	case *corev1alpha1.HookTemplate:
		p = o.Spec.UsagePolicy
	}
	if p == nil {
		return shared.UsagePolicy{}
	}
	return *p
}

// usable checks that the kind object ref names may be used from namespace from. A missing
// object is a warning; one whose usage policy leaves from out is Forbidden at p.
func (r References) usable(ctx context.Context, obj client.Object, kind string, ref shared.ObjectReference, from *corev1.Namespace, p *field.Path, f *findings) {
	ns := shared.NamespaceOr(ref.Namespace, from.Name)
	found, err := r.get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, obj)
	switch {
	case err != nil:
		f.add(field.InternalError(p, err))
		return
	case !found:
		f.warnings = append(f.warnings, fmt.Sprintf("%s: %s %s/%s does not exist yet; nothing is written until it does", p, kind, ns, ref.Name))
		return
	}
	allowed, err := usageOf(obj).Allows(ns, from.Name, from.Labels)
	switch {
	case err != nil:
		f.add(field.Forbidden(p, fmt.Sprintf("%s %s/%s has a broken usage policy: %v", kind, ns, ref.Name, err)))
	case !allowed:
		f.add(field.Forbidden(p, fmt.Sprintf("%s %s/%s does not allow use from namespace %q (its spec.usagePolicy.allowedNamespaces)", kind, ns, ref.Name, from.Name)))
	}
}

// defaultFor finds the default object (spec.default) of a kind that namespace from may use:
// its own namespace's default first, then one whose usage policy selects from by label, then
// one that allows all namespaces. Two candidates at the same step are ambiguous, an error at p;
// none at all is a nil reference and no error.
func defaultFor[T any, P interface {
	*T
	client.Object
}](items []T, isDefault func(P) bool, kind string, from *corev1.Namespace, p *field.Path) (*shared.ObjectReference, *field.Error) {
	tiers := map[shared.NamespacesFrom][]string{}
	for i := range items {
		o := P(&items[i])
		if !isDefault(o) || !o.GetDeletionTimestamp().IsZero() {
			continue
		}
		u := usageOf(o)
		if ok, err := u.Allows(o.GetNamespace(), from.Name, from.Labels); err != nil || !ok {
			continue
		}
		tier := u.AllowedNamespaces.EffectiveFrom()
		if o.GetNamespace() == from.Name {
			tier = shared.NamespacesFromSame
		}
		tiers[tier] = append(tiers[tier], o.GetNamespace()+"/"+o.GetName())
	}
	for _, tier := range []shared.NamespacesFrom{shared.NamespacesFromSame, shared.NamespacesFromSelector, shared.NamespacesFromAll} {
		found := tiers[tier]
		switch len(found) {
		case 0:
			continue
		case 1:
			ns, name, _ := strings.Cut(found[0], "/")
			return &shared.ObjectReference{Name: name, Namespace: ns}, nil
		}
		sort.Strings(found)
		return nil, field.Required(p, fmt.Sprintf("the default %ss %s all allow namespace %q; name one here", kind, strings.Join(found, ", "), from.Name))
	}
	return nil, nil
}

// defaultBackends gives a configuration without backends one unnamed backend, and each backend
// without a BackupStorage or RetentionPolicy the defaults its namespace may use. spec is the
// path of the object holding the backends. A backend left without storage is a problem (nothing
// could be written); one left without retention policy is a warning, since its snapshots are
// then only kept until someone deletes them.
func (r References) defaultBackends(ctx context.Context, backends *[]corev1alpha1.BackendReference, from *corev1.Namespace, spec *field.Path, f *findings) {
	if len(*backends) == 0 {
		*backends = []corev1alpha1.BackendReference{{}}
	}
	var storages *storagev1alpha1.BackupStorageList
	var policies *storagev1alpha1.RetentionPolicyList
	for i := range *backends {
		b := &(*backends)[i]
		p := spec.Child("backends").Index(i)
		if b.StorageRef == nil {
			if storages == nil {
				storages = &storagev1alpha1.BackupStorageList{}
				if err := r.Reader.List(ctx, storages); err != nil {
					f.add(field.InternalError(p, err))
					return
				}
			}
			ref, ferr := defaultFor(storages.Items, func(o *storagev1alpha1.BackupStorage) bool { return o.Spec.Default }, "BackupStorage", from, p.Child("storageRef"))
			if ref == nil && ferr == nil {
				ferr = field.Required(p.Child("storageRef"), fmt.Sprintf(
					"name a BackupStorage: none is the default (spec.default: true) of namespace %q or shared with it by its usagePolicy", from.Name))
			}
			f.add(ferr)
			b.StorageRef = ref
		}
		if b.RetentionPolicy == nil {
			if policies == nil {
				policies = &storagev1alpha1.RetentionPolicyList{}
				if err := r.Reader.List(ctx, policies); err != nil {
					f.add(field.InternalError(p, err))
					return
				}
			}
			ref, ferr := defaultFor(policies.Items, func(o *storagev1alpha1.RetentionPolicy) bool { return o.Spec.Default }, "RetentionPolicy", from, p.Child("retentionPolicy"))
			if ref == nil && ferr == nil {
				f.warnings = append(f.warnings, fmt.Sprintf("%s: no RetentionPolicy is named and none is a default usable from namespace %q; snapshots are kept until deleted by hand",
					p.Child("retentionPolicy"), from.Name))
			}
			f.add(ferr)
			b.RetentionPolicy = ref
		}
	}
}

// backendReferences checks that each backend's BackupStorage and RetentionPolicy allow the
// configuration's namespace.
func (r References) backendReferences(ctx context.Context, backends []corev1alpha1.BackendReference, from *corev1.Namespace, spec *field.Path, f *findings) {
	for i, b := range backends {
		p := spec.Child("backends").Index(i)
		if b.StorageRef != nil && b.StorageRef.Name != "" {
			r.usable(ctx, &storagev1alpha1.BackupStorage{}, "BackupStorage", *b.StorageRef, from, p.Child("storageRef"), f)
		}
		if b.RetentionPolicy != nil && b.RetentionPolicy.Name != "" {
			r.usable(ctx, &storagev1alpha1.RetentionPolicy{}, "RetentionPolicy", *b.RetentionPolicy, from, p.Child("retentionPolicy"), f)
		}
	}
}

// hookReferences checks that every hook's HookTemplate allows the namespace.
func (r References) hookReferences(ctx context.Context, hooks []corev1alpha1.HookInfo, from *corev1.Namespace, p *field.Path, f *findings) {
	for i, h := range hooks {
		if h.HookTemplate.Name != "" {
			r.usable(ctx, &corev1alpha1.HookTemplate{}, "HookTemplate", h.HookTemplate, from, p.Index(i).Child("hookTemplate"), f)
		}
	}
}
