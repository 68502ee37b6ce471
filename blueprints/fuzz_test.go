package blueprints

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
)

// FuzzRender executes arbitrary template text: no panic, no unbounded output, and every problem a
// field error at the field's path.
func FuzzRender(f *testing.F) {
	for _, seed := range []string{
		`{{ .Workload.Name }}`, `{{ range until 10 }}x{{ end }}`, `{{ .Variables.s | upper | repeat 3 }}`,
		`{{ template "x" }}`, `{{ define "a" }}{{ end }}`, `{{ range 100000000 }}{{ end }}`,
		`{{ fromJson "{\"a\":1}" | toJson }}`, `{{ regexReplaceAll "a+" "aaa" "b" }}`, `{{ index .Workload.Labels "x" }}`,
		`{{ $x := dict "a" 1 }}{{ set $x "b" 2 | toJson }}`, `{{ printf "%0999999d" 1 }}`, `{{`, `}}{{`,
		`{{ untilStep 9223372036854775800 9223372036854775807 10 }}`, `{{ seq -9223372036854775808 1 9223372036854775807 }}`,
		`{{ $s := "xx" }}{{ range until 30 }}{{ $s = print $s $s }}{{ end }}`, `{{ replace "" .Workload.Name .Workload.Name }}`,
		`{{ $d := list }}{{ range 100 }}{{ $d = list $d $d }}{{ end }}{{ toJson $d }}`, `{{ printf "%*d" 999999 1 }}`,
		`{{ with .Workload }}{{ .Name }}{{ end }}`, `{{ dict "b" 1 "a" 2 | keys }}`, `{{ printf "%p %d %v" $ $ $ }}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		out, ferr := render(t, text)
		if ferr != nil {
			if ferr.Field != "spec.f" {
				t.Fatalf("error at %q: %v", ferr.Field, ferr)
			}
			return
		}
		if len(out) > MaxFieldOutputBytes {
			t.Fatalf("output of %d bytes", len(out))
		}
	})
}

// FuzzResolve resolves a workload with arbitrary annotations against a blueprint with an
// arbitrary template field: no panic, and every problem is at a workload annotation or a field of
// the blueprint.
func FuzzResolve(f *testing.F) {
	f.Add("keep", "7", "daily", "{{ .Variables.keep }}/{{ .Workload.Name }}")
	f.Add("unknown", "x", "nope,daily", "{{ .Workload.Labels.app }}")
	f.Add("keep", "seven", "", "{{ range until (int .Variables.keep) }}a{{ end }}")
	f.Add("", "", ",,", "plain")
	f.Fuzz(func(t *testing.T, varName, varValue, sessions, directory string) {
		keep := "3"
		bp := &corev1alpha1.BackupBlueprint{
			ObjectMeta: metav1.ObjectMeta{Name: "bp", Namespace: "shop"},
			Spec: corev1alpha1.BackupBlueprintSpec{
				Variables: []corev1alpha1.BlueprintVariable{{Name: "keep", Type: corev1alpha1.VariableInt, Default: &keep}},
				BackupConfigurationTemplate: corev1alpha1.BackupConfigurationTemplate{Sessions: []corev1alpha1.Session{{
					SessionConfig: corev1alpha1.SessionConfig{Name: "daily", Scheduler: &shared.SchedulerSpec{Schedule: "@daily"}},
					Addon:         &corev1alpha1.AddonInfo{Name: "a", Tasks: []corev1alpha1.TaskReference{{Name: "t"}}},
					Repositories:  []corev1alpha1.RepositoryInfo{{Name: "repo", Directory: directory}},
				}}},
			},
		}
		annotations := map[string]string{
			shared.AnnotationBlueprintName:            "bp",
			shared.VariableAnnotationPrefix + varName: varValue,
		}
		if sessions != "" {
			annotations[shared.AnnotationBlueprintSessionNames] = sessions
		}
		w := deployment(annotations)
		bc, errs := Resolve(bp, w, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}})
		for _, e := range errs {
			if !strings.HasPrefix(e.Field, "metadata.annotations[") && !strings.HasPrefix(e.Field, "BackupBlueprint[shop/bp]") {
				t.Fatalf("error at unexpected path %q: %v", e.Field, e)
			}
		}
		if len(errs) == 0 && (bc == nil || len(bc.Spec.Sessions) == 0) {
			t.Fatal("no errors and no configuration")
		}
	})
}
