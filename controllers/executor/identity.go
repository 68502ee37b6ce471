package executor

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cofferhq/coffer/api/shared"
)

// Identity names the executor's ServiceAccount and the ClusterRole it is bound to.
type Identity struct {
	ServiceAccount string
	ClusterRole    string
}

// EnsureIdentity creates the executor ServiceAccount in namespace and binds it to the executor
// ClusterRole there and in every namespace of extra (a BackupStorage's Secret may live in the
// storage's namespace). Existing objects are left as they are, so an admin may tighten them.
func EnsureIdentity(ctx context.Context, c client.Client, id Identity, namespace string, extra ...string) error {
	labels := map[string]string{shared.LabelManagedBy: shared.ManagedByCoffer}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: id.ServiceAccount, Namespace: namespace, Labels: labels}}
	if err := c.Create(ctx, sa); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating ServiceAccount %s/%s: %w", namespace, id.ServiceAccount, err)
	}
	seen := map[string]bool{}
	for _, ns := range append([]string{namespace}, extra...) {
		if ns == "" || seen[ns] {
			continue
		}
		seen[ns] = true
		name := id.ServiceAccount
		if ns != namespace {
			name = shared.TruncateName(id.ServiceAccount+"-"+namespace, shared.MaxNameLength)
		}
		rb := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: id.ClusterRole},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: id.ServiceAccount, Namespace: namespace}},
		}
		if err := c.Create(ctx, rb); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("binding the executor ServiceAccount in namespace %s: %w", ns, err)
		}
	}
	return nil
}
