package blueprints

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
)

func TestRepositoriesOwnership(t *testing.T) {
	bc := &corev1alpha1.BackupConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "demo"},
		Spec: corev1alpha1.BackupConfigurationSpec{
			Target:   &shared.TypedObjectReference{Kind: "Deployment", Name: "app"},
			Backends: []corev1alpha1.BackendReference{{Name: "local", StorageRef: &shared.ObjectReference{Name: "local"}}},
			Sessions: []corev1alpha1.Session{{
				SessionConfig: corev1alpha1.SessionConfig{Name: "daily", Scheduler: &shared.SchedulerSpec{Schedule: "0 2 * * *"}},
				Repositories: []corev1alpha1.RepositoryInfo{{Name: "app", Backend: "local", Directory: "app"},
					{Name: "kept", Directory: "kept", DeletionPolicy: corev1alpha1.RepositoryRetain}},
			}},
		},
	}
	repos := Repositories(bc)
	if len(repos) != 2 {
		t.Fatalf("%d repositories", len(repos))
	}
	if len(repos[0].OwnerReferences) != 1 || len(repos[1].OwnerReferences) != 0 {
		t.Fatalf("owners %v / %v: Retain must leave the repository unowned", repos[0].OwnerReferences, repos[1].OwnerReferences)
	}
	if repos[0].Spec.StorageRef.Namespace != "demo" || repos[0].Spec.AppRef.Namespace != "demo" {
		t.Fatalf("references not defaulted to the configuration's namespace: %+v", repos[0].Spec)
	}
	if repos[1].Spec.StorageRef.Name != "local" {
		t.Fatalf("a repository naming no backend must use the only one, got %+v", repos[1].Spec.StorageRef)
	}
}
