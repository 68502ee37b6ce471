package backupconfiguration

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
)

func config(mut func(*corev1alpha1.BackupConfiguration)) *corev1alpha1.BackupConfiguration {
	bc := &corev1alpha1.BackupConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "demo"},
		Spec: corev1alpha1.BackupConfigurationSpec{
			Target:   &shared.TypedObjectReference{Kind: "Deployment", Name: "app"},
			Backends: []corev1alpha1.BackendReference{{Name: "local", StorageRef: &shared.ObjectReference{Name: "local"}}},
			Sessions: []corev1alpha1.Session{{
				SessionConfig: corev1alpha1.SessionConfig{Name: "daily", Scheduler: &shared.SchedulerSpec{Schedule: "0 2 * * *"}},
				Repositories:  []corev1alpha1.RepositoryInfo{{Name: "app", Backend: "local", Directory: "app"}},
			}},
		},
	}
	if mut != nil {
		mut(bc)
	}
	return bc
}

func TestNextSchedule(t *testing.T) {
	now := time.Date(2026, 11, 22, 1, 30, 0, 0, time.UTC)
	if got := NextSchedule(&shared.SchedulerSpec{Schedule: "0 2 * * *"}, now); got != "2026-11-22T02:00:00Z" {
		t.Fatalf("next %s", got)
	}
	tz := "Europe/Berlin" // UTC+1 in November
	if got := NextSchedule(&shared.SchedulerSpec{Schedule: "0 2 * * *", TimeZone: &tz}, now); got != "2026-11-23T01:00:00Z" {
		t.Fatalf("next in Berlin %s", got)
	}
}
