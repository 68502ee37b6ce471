//go:build e2e

package e2e

import (
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
)

// The API server of the local cluster calls Coffer's webhooks through their Service, trusting
// the CA the manager injected: a bad blueprint is rejected with every problem named.
func TestWebhookRejectsABadBlueprint(t *testing.T) {
	e := newEnv(t, "webhook")
	bp := &corev1alpha1.BackupBlueprint{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "bad"},
		Spec: corev1alpha1.BackupBlueprintSpec{
			Selector:  "object.metadata.labels.app ==",
			Variables: []corev1alpha1.BlueprintVariable{{Name: "keep", Type: corev1alpha1.VariableInt, Default: ptr.To("many")}},
			BackupConfigurationTemplate: corev1alpha1.BackupConfigurationTemplate{Sessions: []corev1alpha1.Session{{
				SessionConfig: corev1alpha1.SessionConfig{Name: "daily", Scheduler: &shared.SchedulerSpec{Schedule: "every day"}},
				Repositories:  []corev1alpha1.RepositoryInfo{{Name: "{{ .Workload.Name }}", Backend: "local", Directory: "x"}},
			}}},
		}}
	err := kube.Create(e.ctx, bp)
	if !apierrors.IsInvalid(err) {
		t.Fatalf("creating a bad blueprint: %v, want Invalid from the webhook", err)
	}
	for _, want := range []string{`admission webhook "vbackupblueprint.coffer.dev" denied`, "spec.selector", "spec.variables[0].default",
		"spec.backupConfigurationTemplate.sessions[0].scheduler.schedule"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("rejection %q does not name %q", err, want)
		}
	}
}
