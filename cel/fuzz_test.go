package cel

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
)

// FuzzCompileAndEvaluate feeds arbitrary expressions to both environments: compile and evaluate
// must never panic, and every problem must come back as a field error at the path given.
func FuzzCompileAndEvaluate(f *testing.F) {
	for _, seed := range []string{
		`object.metadata.labels.app == 'pg'`,
		`namespaceObject.metadata.name.startsWith('prod-')`,
		`object.spec.template.spec.containers.all(c, c.image.contains(':'))`,
		`queries.users.rowCount >= 1000 && restore.duration < duration('5m')`,
		`queries.a.rows.exists(r, r.id == 1)`,
		`string(queries.b.scalar) + restore.error`,
		`[1,2,3].map(x, x * 2).size() == 3`,
		`quantity('1Gi').isLessThan(quantity('2Gi'))`,
		`"\xff"`, `(`, `a.b.c.d`, `1/0 == 1`, `duration('x') > duration('1s')`,
		`object.?metadata.?labels.orValue({}).size() > 0`,
	} {
		f.Add(seed)
	}
	ctx := context.Background()
	obs := &corev1alpha1.VerificationObservations{
		Restore: &corev1alpha1.RestoreObservation{Phase: corev1alpha1.RestoreSucceeded, Duration: &metav1.Duration{Duration: time.Minute}},
		Queries: []corev1alpha1.QueryObservation{
			{Name: "a", RowCount: ptr.To[int64](1), Rows: &runtime.RawExtension{Raw: []byte(`[{"id":1,"name":"x"}]`)}},
			{Name: "b", RowCount: ptr.To[int64](1), Scalar: &runtime.RawExtension{Raw: []byte(`"s"`)}},
		},
	}
	session := &corev1alpha1.BackupVerificationSession{}
	session.Status.Observations = obs

	f.Fuzz(func(t *testing.T, expr string) {
		check := func(errs field.ErrorList, paths ...string) {
			for _, e := range errs {
				if !oneOf(e.Field, paths) {
					t.Fatalf("error at unexpected path %q: %v", e.Field, e)
				}
			}
		}
		sel := field.NewPath("spec", "selector")
		if prog, errs := CompileSelector(expr, sel); len(errs) > 0 {
			check(errs, "spec.selector")
		} else if _, ferr := prog.Matches(ctx, workload(), namespace(), NewBudget(RuntimeCostBudget), sel); ferr != nil {
			check(field.ErrorList{ferr}, "spec.selector")
		}

		spec := &corev1alpha1.BackupVerifierSpec{
			Type:       corev1alpha1.VerifyQuery,
			Queries:    []corev1alpha1.VerifierQuery{{Name: "a", Table: "a"}, {Name: "b", Table: "b"}},
			Conditions: []corev1alpha1.VerificationCondition{{Name: "c", Expression: expr, Message: expr}},
		}
		v, errs := CompileVerifier(spec, field.NewPath("spec"))
		if len(errs) > 0 {
			check(errs, "spec.conditions[0].expression", "spec.conditions[0].message")
			return
		}
		results, _ := v.Evaluate(ctx, VerificationInput{Session: session}, NewBudget(RuntimeCostBudget), field.NewPath("spec"))
		if len(results) != 1 || results[0].Name != "c" {
			t.Fatalf("want one result for condition c, got %+v", results)
		}
		if !results[0].Passed && results[0].Message == "" {
			t.Fatal("a condition that did not pass has no message")
		}
		if len(results[0].Message) > corev1alpha1.MaxConditionMessageBytes {
			t.Fatalf("message of %d bytes", len(results[0].Message))
		}
	})
}

func oneOf(s string, options []string) bool {
	for _, o := range options {
		if strings.EqualFold(s, o) {
			return true
		}
	}
	return false
}
