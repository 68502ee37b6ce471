package blueprints_test

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
	"github.com/cofferhq/coffer/blueprints"
)

func exampleBlueprint() *corev1alpha1.BackupBlueprint {
	schedule := "0 1 * * *"
	return &corev1alpha1.BackupBlueprint{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly", Namespace: "shop", Generation: 4},
		Spec: corev1alpha1.BackupBlueprintSpec{
			Variables: []corev1alpha1.BlueprintVariable{{Name: "schedule", Default: &schedule}},
			BackupConfigurationTemplate: corev1alpha1.BackupConfigurationTemplate{
				Sessions: []corev1alpha1.Session{{
					SessionConfig: corev1alpha1.SessionConfig{
						Name:      "nightly",
						Scheduler: &shared.SchedulerSpec{Schedule: "{{ .Variables.schedule }}"},
					},
					Addon: &corev1alpha1.AddonInfo{Name: "workload-addon", Tasks: []corev1alpha1.TaskReference{{Name: "logical-backup"}}},
					Repositories: []corev1alpha1.RepositoryInfo{{
						Name:      "{{ .Workload.Name }}",
						Directory: "{{ .Namespace.Name }}/{{ .Workload.Name }}",
					}},
				}},
			},
		},
	}
}

func exampleWorkload(annotations map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("apps/v1")
	u.SetKind("Deployment")
	u.SetName("web")
	u.SetNamespace("shop")
	u.SetAnnotations(annotations)
	return u
}

// Resolve renders the configuration a blueprint generates for a workload.
func ExampleResolve() {
	workload := exampleWorkload(map[string]string{
		shared.AnnotationBlueprintName:               "nightly",
		shared.VariableAnnotationPrefix + "schedule": "30 3 * * *",
	})
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}
	bc, errs := blueprints.Resolve(exampleBlueprint(), workload, ns)
	if len(errs) > 0 {
		fmt.Println(errs.ToAggregate())
		return
	}
	s := bc.Spec.Sessions[0]
	fmt.Println(bc.Namespace+"/"+bc.Name, bc.Annotations[shared.AnnotationBlueprintResolved])
	fmt.Println(s.Scheduler.Schedule, s.Repositories[0].Name, s.Repositories[0].Directory)
	// Output:
	// shop/deployment-web shop/nightly@4
	// 30 3 * * * web shop/web
}

// Every problem with a workload's annotations is reported at once, each at its annotation.
func ExampleResolve_errors() {
	workload := exampleWorkload(map[string]string{
		shared.AnnotationBlueprintName:               "nightly",
		shared.AnnotationBlueprintSessionNames:       "hourly",
		shared.VariableAnnotationPrefix + "schedlue": "@daily",
	})
	_, errs := blueprints.Resolve(exampleBlueprint(), workload, nil)
	for _, e := range errs {
		fmt.Println(e)
	}
	// Output:
	// metadata.annotations[variables.coffer.dev/schedlue]: Invalid value: "@daily": BackupBlueprint shop/nightly declares no variable "schedlue"; it declares: schedule
	// metadata.annotations[blueprint.coffer.dev/session-names]: Unsupported value: "hourly": supported values: "nightly"
}

// ValidateBlueprint is what admission runs on a blueprint: templates parse and use only declared
// variables, the selector is a bool.
func ExampleValidateBlueprint() {
	bp := exampleBlueprint()
	bp.Spec.Selector = `object.metadata.labels.tier`
	bp.Spec.BackupConfigurationTemplate.Sessions[0].Repositories[0].Directory = "{{ .Variables.team }}/{{ .Workload.Name }}"
	for _, e := range blueprints.ValidateBlueprint(bp, field.NewPath("spec")) {
		fmt.Println(e)
	}
	// Output:
	// spec.backupConfigurationTemplate.sessions[0].repositories[0].directory: Invalid value: "{{ .Variables.team }}/{{ .Workload.Name }}": variable "team" is not declared in spec.variables (declared: schedule)
}
