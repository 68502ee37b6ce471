package webhooks

import (
	"context"
	"encoding/json"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/cofferhq/coffer/api"
	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
)

// FuzzWorkloadMutator sends workloads with arbitrary annotations, against a blueprint with
// arbitrary templates, selector and variable default, through the mutator: it must answer (allow
// with a patch, or deny with a status) and never panic. The reader is an in-memory snapshot of
// the two objects the handler reads; nothing the API server owns is faked.
func FuzzWorkloadMutator(f *testing.F) {
	f.Add("daily", "", "7", "{{ .Variables.schedule }}", "{{ .Namespace.Name }}/{{ .Workload.Name }}", "object.metadata.name == 'web'", "0 2 * * *")
	f.Add("daily", "daily", "many", "{{ .Variables.nope }}", "../x", "object.metadata.name +", "")
	f.Add("", "x,y", "", "{{ index .Workload.Labels \"a\" }}", "{{ .Workload.Name | upper }}", "true", "{{")
	f.Add("daily", "daily", "9", "{{ repeat 100000 \"x\" }}", "{{ .Variables.keep | int | add 1 }}", "object.?metadata.?labels.?x.orValue('') == 'y'", "@every 1s")
	f.Fuzz(func(t *testing.T, name, sessions, keep, schedule, directory, selector, scheduleVar string) {
		scheme := runtime.NewScheme()
		_ = clientgoscheme.AddToScheme(scheme)
		_ = api.AddToScheme(scheme)
		bp := &corev1alpha1.BackupBlueprint{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "daily", Generation: 1},
			Spec: corev1alpha1.BackupBlueprintSpec{
				Selector: selector,
				Variables: []corev1alpha1.BlueprintVariable{
					{Name: "keep", Type: corev1alpha1.VariableInt, Default: ptr.To("7")},
					{Name: "schedule", Default: ptr.To(scheduleVar)},
				},
				BackupConfigurationTemplate: corev1alpha1.BackupConfigurationTemplate{
					Backends: []corev1alpha1.BackendReference{{Name: "local", StorageRef: &shared.ObjectReference{Name: "local"}}},
					Sessions: []corev1alpha1.Session{{
						SessionConfig: corev1alpha1.SessionConfig{Name: "daily", Scheduler: &shared.SchedulerSpec{Schedule: schedule}},
						Addon:         &corev1alpha1.AddonInfo{Name: "workload-addon", Tasks: []corev1alpha1.TaskReference{{Name: "logical-backup"}}},
						Repositories:  []corev1alpha1.RepositoryInfo{{Name: "{{ .Workload.Name }}", Backend: "local", Directory: directory}},
					}}},
			}}
		reader := fake.NewClientBuilder().WithScheme(scheme).
			WithObjects(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "demo"}}, bp).Build()
		ann := map[string]string{shared.VariableAnnotationPrefix + "keep": keep}
		if name != "" {
			ann[shared.AnnotationBlueprintName] = name
		}
		if sessions != "" {
			ann[shared.AnnotationBlueprintSessionNames] = sessions
		}
		d := &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "web", Annotations: ann}}
		raw, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		m := &WorkloadMutator{Reader: reader}
		resp := m.Handle(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
			Operation: admissionv1.Create, Namespace: "demo", DryRun: ptr.To(true),
			Kind:   metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"},
			Object: runtime.RawExtension{Raw: raw},
		}})
		if !resp.Allowed && (resp.Result == nil || resp.Result.Code == 0) {
			t.Fatalf("a denial without a status: %+v", resp)
		}
	})
}
