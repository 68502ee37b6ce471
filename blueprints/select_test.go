package blueprints

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/api/shared"
)

type bpOption func(*corev1alpha1.BackupBlueprint)

func blueprint(ns, name string, opts ...bpOption) corev1alpha1.BackupBlueprint {
	bp := corev1alpha1.BackupBlueprint{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	for _, o := range opts {
		o(&bp)
	}
	return bp
}

func withSelector(s string) bpOption {
	return func(b *corev1alpha1.BackupBlueprint) { b.Spec.Selector = s }
}
func withPriority(p int32) bpOption {
	return func(b *corev1alpha1.BackupBlueprint) { b.Spec.Priority = p }
}
func withSubjects(kinds ...string) bpOption {
	return func(b *corev1alpha1.BackupBlueprint) {
		for _, k := range kinds {
			b.Spec.Subjects = append(b.Spec.Subjects, corev1alpha1.Subject{APIVersion: "apps/v1", Kind: k})
		}
	}
}
func withUsage(from shared.NamespacesFrom, sel *metav1.LabelSelector) bpOption {
	return func(b *corev1alpha1.BackupBlueprint) {
		b.Spec.UsagePolicy = &shared.UsagePolicy{AllowedNamespaces: shared.AllowedNamespaces{From: &from, Selector: sel}}
	}
}

func deployment(annotations map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("apps/v1")
	u.SetKind("Deployment")
	u.SetNamespace("shop")
	u.SetName("web")
	u.SetLabels(map[string]string{"app": "web"})
	u.SetAnnotations(annotations)
	return u
}

var shop = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"env": "prod"}}}

// trusted is the selection policy of these tests: platform and other are admin namespaces.
var trusted = SelectionPolicy{TrustedNamespaces: []string{"platform", "other"}}

func TestSelect(t *testing.T) {
	tests := map[string]struct {
		annotations map[string]string
		candidates  []corev1alpha1.BackupBlueprint
		want        string // ns/name, "" for none
		explicit    bool
		err         string
		skipped     string
	}{
		"no blueprint applies": {
			candidates: []corev1alpha1.BackupBlueprint{blueprint("shop", "a")},
		},
		"a blueprint without selector is only used by name": {
			candidates: []corev1alpha1.BackupBlueprint{blueprint("shop", "a"), blueprint("shop", "b", withSelector("false"))},
		},
		"selector match": {
			candidates: []corev1alpha1.BackupBlueprint{blueprint("shop", "a", withSelector(`object.metadata.labels.app == 'web'`))},
			want:       "shop/a",
		},
		"the annotation beats a higher-priority selector match": {
			annotations: map[string]string{shared.AnnotationBlueprintName: "named"},
			candidates: []corev1alpha1.BackupBlueprint{
				blueprint("shop", "selected", withSelector("true"), withPriority(100)),
				blueprint("shop", "named"),
			},
			want: "shop/named", explicit: true,
		},
		"the annotation names another namespace": {
			annotations: map[string]string{shared.AnnotationBlueprintName: "x", shared.AnnotationBlueprintNamespace: "platform"},
			candidates:  []corev1alpha1.BackupBlueprint{blueprint("shop", "x"), blueprint("platform", "x")},
			want:        "platform/x", explicit: true,
		},
		"an unknown named blueprint is an error": {
			annotations: map[string]string{shared.AnnotationBlueprintName: "missing"},
			candidates:  []corev1alpha1.BackupBlueprint{blueprint("shop", "a", withSelector("true"))},
			err:         `metadata.annotations[blueprint.coffer.dev/name]: Not found: "shop/missing"`,
		},
		"an empty name is an error": {
			annotations: map[string]string{shared.AnnotationBlueprintName: ""},
			err:         `metadata.annotations[blueprint.coffer.dev/name]: Required value`,
		},
		"highest priority wins": {
			candidates: []corev1alpha1.BackupBlueprint{
				blueprint("shop", "low", withSelector("true"), withPriority(1)),
				blueprint("shop", "high", withSelector("true"), withPriority(5)),
				blueprint("shop", "mid", withSelector("true"), withPriority(3)),
			},
			want: "shop/high",
		},
		"equal priority falls back to namespace then name": {
			candidates: []corev1alpha1.BackupBlueprint{
				blueprint("shop", "b", withSelector("true")),
				blueprint("shop", "a", withSelector("true")),
				blueprint("other", "z", withSelector("true"), withUsage(shared.NamespacesFromAll, nil)),
			},
			want: "other/z",
		},
		"subjects exclude other kinds": {
			candidates: []corev1alpha1.BackupBlueprint{
				blueprint("shop", "sts", withSelector("true"), withSubjects("StatefulSet"), withPriority(9)),
				blueprint("shop", "deploy", withSelector("true"), withSubjects("Deployment")),
			},
			want: "shop/deploy",
		},
		"usage policy excludes a blueprint of another namespace": {
			candidates: []corev1alpha1.BackupBlueprint{blueprint("platform", "p", withSelector("true"))},
		},
		"usage policy selector admits by namespace labels": {
			candidates: []corev1alpha1.BackupBlueprint{blueprint("platform", "p", withSelector("true"),
				withUsage(shared.NamespacesFromSelector, &metav1.LabelSelector{MatchLabels: map[string]string{"env": "prod"}}))},
			want: "platform/p",
		},
		"a selector over the namespace": {
			candidates: []corev1alpha1.BackupBlueprint{blueprint("shop", "p", withSelector(`namespaceObject.metadata.labels.env == 'prod'`))},
			want:       "shop/p",
		},
		"a blueprint of an untrusted namespace cannot capture workloads elsewhere": {
			candidates: []corev1alpha1.BackupBlueprint{
				blueprint("tenant-b", "grab", withSelector("true"), withPriority(1000), withUsage(shared.NamespacesFromAll, nil)),
				blueprint("shop", "own", withSelector("true")),
			},
			want: "shop/own",
		},
		"an untrusted namespace's blueprint can still be named": {
			annotations: map[string]string{shared.AnnotationBlueprintName: "shared", shared.AnnotationBlueprintNamespace: "tenant-b"},
			candidates:  []corev1alpha1.BackupBlueprint{blueprint("tenant-b", "shared", withUsage(shared.NamespacesFromAll, nil))},
			want:        "tenant-b/shared", explicit: true,
		},
		"a broken selector is skipped, not fatal": {
			candidates: []corev1alpha1.BackupBlueprint{
				blueprint("shop", "broken", withSelector(`object.metadata.labels.missing == 'x'`), withPriority(9)),
				blueprint("shop", "fine", withSelector("true")),
			},
			want:    "shop/fine",
			skipped: `BackupBlueprint[shop/broken].spec.selector`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sel, errs := Select(context.Background(), deployment(tc.annotations), shop, tc.candidates, trusted)
			if tc.err != "" {
				if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.err) {
					t.Fatalf("want error %q, got %v", tc.err, errs)
				}
				return
			}
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			got := ""
			if sel.Blueprint != nil {
				got = sel.Blueprint.Namespace + "/" + sel.Blueprint.Name
			}
			if got != tc.want || sel.Explicit != tc.explicit {
				t.Fatalf("selected %q (explicit %v), want %q (explicit %v)", got, sel.Explicit, tc.want, tc.explicit)
			}
			if tc.skipped != "" && (len(sel.Skipped) != 1 || !strings.Contains(sel.Skipped[0], tc.skipped)) {
				t.Fatalf("skipped = %v, want one containing %q", sel.Skipped, tc.skipped)
			}
			// The outcome must not depend on the order the candidates were listed in.
			reversed := slices.Clone(tc.candidates)
			slices.Reverse(reversed)
			again, _ := Select(context.Background(), deployment(tc.annotations), shop, reversed, trusted)
			if (again.Blueprint == nil) != (sel.Blueprint == nil) || again.Blueprint != nil && again.Blueprint.Name != sel.Blueprint.Name {
				t.Fatalf("listing the candidates in reverse selected %v instead of %v", again.Blueprint, sel.Blueprint)
			}
		})
	}
}

// TestSelectUnderBudgetPressure: when expensive selectors exhaust the shared budget, the result
// still depends only on the ranking, not on the order blueprints were listed.
func TestSelectUnderBudgetPressure(t *testing.T) {
	expensive := `object.metadata.name.size() > 0 && [` + strings.Repeat("1,", 400) + `1].all(x, [` + strings.Repeat("1,", 400) + `1].all(y, x == y)) && false`
	var bps []corev1alpha1.BackupBlueprint
	for i := range 12 {
		bps = append(bps, blueprint("shop", fmt.Sprintf("costly-%02d", i), withSelector(expensive), withPriority(int32(50+i))))
	}
	bps = append(bps, blueprint("shop", "cheap", withSelector("true"), withPriority(100)))
	for _, order := range []string{"as listed", "reversed"} {
		list := slices.Clone(bps)
		if order == "reversed" {
			slices.Reverse(list)
		}
		sel, errs := Select(context.Background(), deployment(nil), shop, list, trusted)
		if len(errs) > 0 || sel.Blueprint == nil || sel.Blueprint.Name != "cheap" {
			t.Fatalf("%s: selected %v, %v; want the highest priority, cheap", order, sel.Blueprint, errs)
		}
	}
}

// TestResolveWorkloadFallsThrough: a selected blueprint that cannot be resolved for a workload is
// skipped for the next match; a named one reports its errors.
func TestResolveWorkloadFallsThrough(t *testing.T) {
	good := blueprint("shop", "good", withSelector("true"), withPriority(1))
	good.Spec.BackupConfigurationTemplate.Sessions = []corev1alpha1.Session{validSession("daily")}
	broken := blueprint("shop", "broken", withSelector("true"), withPriority(9))
	broken.Spec.BackupConfigurationTemplate.Sessions = []corev1alpha1.Session{validSession("daily",
		corev1alpha1.RepositoryInfo{Name: "r", Directory: "{{ .Workload.Labels.team }}"})}
	candidates := []corev1alpha1.BackupBlueprint{broken, good}

	bc, sel, errs := ResolveWorkload(context.Background(), deployment(nil), shop, candidates, trusted)
	if len(errs) > 0 || bc == nil || sel.Blueprint.Name != "good" {
		t.Fatalf("want the next match, good; got %v %v", sel.Blueprint, errs)
	}
	if len(sel.Skipped) != 1 || !strings.Contains(sel.Skipped[0], "BackupBlueprint shop/broken matches but cannot be resolved") {
		t.Fatalf("skipped = %v", sel.Skipped)
	}

	named := deployment(map[string]string{shared.AnnotationBlueprintName: "broken"})
	_, sel, errs = ResolveWorkload(context.Background(), named, shop, candidates, trusted)
	if len(errs) != 1 || !sel.Explicit || !strings.Contains(errs[0].Error(), `map has no entry for key "team"`) {
		t.Fatalf("a named blueprint's problems must be the workload's: %v", errs)
	}
}

func TestValidateBlueprint(t *testing.T) {
	session := func(schedule, dir string) corev1alpha1.Session {
		return corev1alpha1.Session{
			SessionConfig: corev1alpha1.SessionConfig{Name: "s", Scheduler: &shared.SchedulerSpec{Schedule: schedule}},
			Addon:         &corev1alpha1.AddonInfo{Name: "a", Tasks: []corev1alpha1.TaskReference{{Name: "t"}}},
			Repositories:  []corev1alpha1.RepositoryInfo{{Name: "r", Directory: dir}},
		}
	}
	str := func(s string) *string { return &s }
	tests := map[string]struct {
		spec corev1alpha1.BackupBlueprintSpec
		errs []string
	}{
		"valid": {spec: corev1alpha1.BackupBlueprintSpec{
			Selector:  `object.kind == 'Deployment'`,
			Variables: []corev1alpha1.BlueprintVariable{{Name: "dir", Default: str("x")}},
			BackupConfigurationTemplate: corev1alpha1.BackupConfigurationTemplate{
				Sessions: []corev1alpha1.Session{session("@daily", "{{ .Variables.dir }}/{{ .Workload.Name }}")}},
		}},
		"every problem at once": {
			spec: corev1alpha1.BackupBlueprintSpec{
				Selector: `object.kind + '!'`,
				Variables: []corev1alpha1.BlueprintVariable{
					{Name: "n", Type: corev1alpha1.VariableInt, Default: str("ten")},
					{Name: "q", Type: corev1alpha1.VariableQuantity, Default: str("lots")},
				},
				BackupConfigurationTemplate: corev1alpha1.BackupConfigurationTemplate{
					Sessions: []corev1alpha1.Session{session("61 * * * *", "{{ .Variables.dri }}"), session("{{ .Variables.n", "x")},
				},
			},
			errs: []string{
				"spec.selector: Invalid value: \"object.kind + '!'\": must evaluate to bool, but evaluates to string",
				"spec.variables[0].default",
				"spec.variables[1].default",
				`spec.backupConfigurationTemplate.sessions[0].repositories[0].directory: Invalid value: "{{ .Variables.dri }}": variable "dri" is not declared`,
				"spec.backupConfigurationTemplate.sessions[1].scheduler.schedule: Invalid value: \"{{ .Variables.n\": 1:",
				"spec.backupConfigurationTemplate.sessions[0].scheduler.schedule: Invalid value: \"61 * * * *\": not a valid cron schedule",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			bp := &corev1alpha1.BackupBlueprint{Spec: tc.spec}
			errs := ValidateBlueprint(bp, field.NewPath("spec"))
			want := tc.errs
			if len(errs) != len(want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(want), errs)
			}
			for _, w := range want {
				found := false
				for _, e := range errs {
					found = found || strings.Contains(e.Error(), w)
				}
				if !found {
					t.Errorf("no error contains %q in:\n%v", w, errs)
				}
			}
		})
	}
}

func TestSessionNamesMatchRenderedNames(t *testing.T) {
	bp := blueprint("shop", "bp")
	weekly := "weekly"
	bp.Spec.Variables = []corev1alpha1.BlueprintVariable{{Name: "s", Default: &weekly}}
	bp.Spec.BackupConfigurationTemplate.Sessions = []corev1alpha1.Session{validSession("{{ .Variables.s }}",
		corev1alpha1.RepositoryInfo{Name: "r", Directory: "d"}), validSession("daily")}
	w := deployment(map[string]string{shared.AnnotationBlueprintName: "bp", shared.AnnotationBlueprintSessionNames: "weekly"})
	bc, errs := Resolve(&bp, w, shop)
	if len(errs) > 0 || len(bc.Spec.Sessions) != 1 || bc.Spec.Sessions[0].Name != "weekly" {
		t.Fatalf("want only the weekly session, got %v %v", bc, errs)
	}
	w.SetAnnotations(map[string]string{shared.AnnotationBlueprintName: "bp", shared.AnnotationBlueprintSessionNames: "monthly"})
	if _, errs := Resolve(&bp, w, shop); len(errs) != 1 || !strings.Contains(errs[0].Error(), `Unsupported value: "monthly": supported values: "weekly", "daily"`) {
		t.Fatalf("want the rendered names listed, got %v", errs)
	}
}
