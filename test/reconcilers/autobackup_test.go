package reconcilers

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
)

func schedules(bc *corev1alpha1.BackupConfiguration) string {
	if len(bc.Spec.Sessions) == 0 || bc.Spec.Sessions[0].Scheduler == nil {
		return ""
	}
	return bc.Spec.Sessions[0].Scheduler.Schedule
}

// Auto-backup: a Deployment and a StatefulSet matched by a blueprint's selector, and one naming the blueprint with
// a variable, get BackupConfigurations; editing the blueprint re-renders both; losing the label
// deletes one (deletionPolicy OnDelete); with Retain, deleting the workload keeps its
// configuration.
func TestAutoBackupFollowsWorkloadsAndBlueprints(t *testing.T) {
	ns := env.Namespace(t)
	ctx := context.Background()
	bp := &corev1alpha1.BackupBlueprint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "daily"},
		Spec: corev1alpha1.BackupBlueprintSpec{
			Subjects:  []corev1alpha1.Subject{{APIVersion: "apps/v1", Kind: "Deployment"}, {APIVersion: "apps/v1", Kind: "StatefulSet"}},
			Selector:  "object.metadata.?labels.?backup.orValue('') == 'daily'",
			Variables: []corev1alpha1.BlueprintVariable{{Name: "schedule", Default: ptr.To("0 2 * * *")}},
			BackupConfigurationTemplate: corev1alpha1.BackupConfigurationTemplate{
				DeletionPolicy: corev1alpha1.BlueprintOnDelete,
				Backends:       []corev1alpha1.BackendReference{{Name: "local", StorageRef: &shared.ObjectReference{Name: "local"}}},
				Sessions: []corev1alpha1.Session{{
					SessionConfig: corev1alpha1.SessionConfig{Name: "daily", Scheduler: &shared.SchedulerSpec{Schedule: "{{ .Variables.schedule }}"}},
					Addon:         &corev1alpha1.AddonInfo{Name: "workload-addon", Tasks: []corev1alpha1.TaskReference{{Name: "logical-backup"}}},
					Repositories: []corev1alpha1.RepositoryInfo{{Name: "{{ .Workload.Name }}", Backend: "local",
						Directory: "{{ .Namespace.Name }}/{{ .Workload.Name }}", EncryptionSecret: &shared.ObjectReference{Name: "encryption"}}},
				}}},
		}}
	if err := env.Client.Create(ctx, bp); err != nil {
		t.Fatal(err)
	}
	deployment := func(name string, labels, annotations map[string]string) *appsv1.Deployment {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, Annotations: annotations},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}}}}
		if err := env.Client.Create(ctx, d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	web := deployment("web", map[string]string{"backup": "daily"}, nil)
	named := deployment("named", nil, map[string]string{shared.AnnotationBlueprintName: "daily", shared.VariableAnnotationPrefix + "schedule": "*/5 * * * *"})
	deployment("plain", nil, nil)
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db", Labels: map[string]string{"backup": "daily"}},
		Spec: appsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "db"}}}}}}
	if err := env.Client.Create(ctx, sts); err != nil {
		t.Fatal(err)
	}

	webBC := &corev1alpha1.BackupConfiguration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "deployment-web"}}
	namedBC := &corev1alpha1.BackupConfiguration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "deployment-named"}}
	webBC = eventually(t, webBC, "the selected Deployment's configuration", func(bc *corev1alpha1.BackupConfiguration) bool {
		return schedules(bc) == "0 2 * * *"
	})
	if bc := webBC; bc.Annotations[shared.AnnotationBlueprintResolved] != ns+"/daily@1" || bc.Spec.Target == nil ||
		bc.Spec.Target.Kind != "Deployment" || bc.Spec.Target.Name != "web" || bc.Spec.Sessions[0].Repositories[0].Directory != ns+"/web" {
		t.Errorf("generated configuration %+v %+v", bc.Annotations, bc.Spec)
	}
	eventually(t, namedBC, "the annotated Deployment's configuration, with its variable", func(bc *corev1alpha1.BackupConfiguration) bool {
		return schedules(bc) == "*/5 * * * *"
	})
	// A selector-only blueprint picks up a StatefulSet nobody annotated.
	eventually(t, &corev1alpha1.BackupConfiguration{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "statefulset-db"}}, "the StatefulSet's configuration",
		func(bc *corev1alpha1.BackupConfiguration) bool {
			return bc.Spec.Target != nil && bc.Spec.Target.Kind == "StatefulSet"
		})
	var all corev1alpha1.BackupConfigurationList
	if err := env.Client.List(ctx, &all, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	if len(all.Items) != 3 {
		t.Errorf("%d configurations, want 3 (none for the Deployment no blueprint applies to)", len(all.Items))
	}

	// Editing the blueprint re-renders every configuration it produced.
	updateSpec(t, bp, func(b *corev1alpha1.BackupBlueprint) { b.Spec.Variables[0].Default = ptr.To("0 3 * * *") })
	eventually(t, webBC, "re-rendered from the edited blueprint", func(bc *corev1alpha1.BackupConfiguration) bool {
		return schedules(bc) == "0 3 * * *" && bc.Annotations[shared.AnnotationBlueprintResolved] == ns+"/daily@2"
	})
	eventually(t, namedBC, "the annotated one re-rendered too, keeping its variable", func(bc *corev1alpha1.BackupConfiguration) bool {
		return bc.Annotations[shared.AnnotationBlueprintResolved] == ns+"/daily@2" && schedules(bc) == "*/5 * * * *"
	})

	// The selector no longer matches: OnDelete removes the configuration.
	updateSpec(t, web, func(d *appsv1.Deployment) { delete(d.Labels, "backup") })
	gone(t, webBC)

	// Retain keeps the configuration of a deleted workload.
	updateSpec(t, bp, func(b *corev1alpha1.BackupBlueprint) {
		b.Spec.BackupConfigurationTemplate.DeletionPolicy = corev1alpha1.BlueprintRetain
	})
	eventually(t, namedBC, "rendered from the Retain blueprint", func(bc *corev1alpha1.BackupConfiguration) bool {
		return bc.Annotations[shared.AnnotationBlueprintResolved] == ns+"/daily@3"
	})
	if err := env.Client.Delete(ctx, named); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(namedBC), namedBC); apierrors.IsNotFound(err) {
		t.Error("deletionPolicy Retain: the configuration of a deleted workload was deleted")
	}
}
