package blueprints

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

// Repositories are the Repositories a configuration asks for, as its controller creates them
// and its admission checks them against those that exist. Each is owned by the
// configuration, except under deletionPolicy Retain, which keeps the Repository (and its
// Snapshots) when the configuration goes.
func Repositories(bc *corev1alpha1.BackupConfiguration) []*storagev1alpha1.Repository {
	var out []*storagev1alpha1.Repository
	seen := map[string]bool{}
	for _, sess := range bc.Spec.Sessions {
		for _, ri := range sess.Repositories {
			if seen[ri.Name] {
				continue
			}
			seen[ri.Name] = true
			b, _ := BackendFor(bc.Spec.Backends, ri.Backend)
			repo := &storagev1alpha1.Repository{
				ObjectMeta: metav1.ObjectMeta{Name: ri.Name, Namespace: bc.Namespace,
					Labels: shared.OwnerLabels("BackupConfiguration", bc.Name, bc.Namespace)},
				Spec: storagev1alpha1.RepositorySpec{
					AppRef:           *bc.Spec.Target,
					Path:             ri.Directory,
					EncryptionSecret: ri.EncryptionSecret,
					DeletionPolicy:   storagev1alpha1.DeletionPolicyDelete,
				},
			}
			if repo.Spec.AppRef.Namespace == "" {
				repo.Spec.AppRef.Namespace = bc.Namespace
			}
			if b.StorageRef != nil {
				repo.Spec.StorageRef = shared.ObjectReference{Name: b.StorageRef.Name, Namespace: shared.NamespaceOr(b.StorageRef.Namespace, bc.Namespace)}
			}
			if ri.DeletionPolicy == corev1alpha1.RepositoryWipeOut {
				repo.Spec.DeletionPolicy = storagev1alpha1.DeletionPolicyWipeOut
			}
			if ri.DeletionPolicy != corev1alpha1.RepositoryRetain {
				repo.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(bc, corev1alpha1.GroupVersion.WithKind("BackupConfiguration"))}
			}
			out = append(out, repo)
		}
	}
	return out
}
