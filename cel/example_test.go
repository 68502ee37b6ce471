package cel_test

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	"github.com/cofferhq/coffer/cel"
)

// A blueprint selector picks workloads by their labels and their namespace's labels.
func ExampleCompileSelector() {
	prog, errs := cel.CompileSelector(
		`object.metadata.labels.tier == 'db' && namespaceObject.metadata.labels.env == 'prod'`,
		field.NewPath("spec", "selector"))
	if len(errs) > 0 {
		fmt.Println(errs.ToAggregate())
		return
	}
	workload := map[string]any{"metadata": map[string]any{"name": "pg", "labels": map[string]any{"tier": "db"}}}
	namespace := map[string]any{"metadata": map[string]any{"name": "shop", "labels": map[string]any{"env": "prod"}}}
	matched, err := prog.Matches(context.Background(), workload, namespace, cel.NewBudget(cel.RuntimeCostBudget), field.NewPath("spec", "selector"))
	fmt.Println(matched, err == nil)
	// Output: true true
}

// A selector must be a bool; the error names the field and says what is wrong.
func ExampleCompileSelector_notBool() {
	_, errs := cel.CompileSelector(`object.metadata.name + '-x'`, field.NewPath("spec", "selector"))
	fmt.Println(errs.ToAggregate())
	// Output: spec.selector: Invalid value: "object.metadata.name + '-x'": must evaluate to bool, but evaluates to string
}

// Verification conditions read what the verifier observed; queries are fields named after the
// verifier's queries.
func ExampleCompileVerifier() {
	spec := &corev1alpha1.BackupVerifierSpec{
		Type:    corev1alpha1.VerifyQuery,
		Queries: []corev1alpha1.VerifierQuery{{Name: "users", Table: "users"}},
		Conditions: []corev1alpha1.VerificationCondition{{
			Name:       "enough-users",
			Expression: `queries.users.rowCount >= 1000 && restore.duration < duration('5m')`,
			Message:    `'only ' + string(queries.users.rowCount) + ' users restored'`,
		}},
	}
	v, errs := cel.CompileVerifier(spec, field.NewPath("spec"))
	if len(errs) > 0 {
		fmt.Println(errs.ToAggregate())
		return
	}
	session := &corev1alpha1.BackupVerificationSession{}
	session.Status.Observations = &corev1alpha1.VerificationObservations{
		Restore: &corev1alpha1.RestoreObservation{Phase: corev1alpha1.RestoreSucceeded, Duration: &metav1.Duration{Duration: 90 * time.Second}},
		Queries: []corev1alpha1.QueryObservation{{Name: "users", RowCount: ptr.To[int64](12)}},
	}
	results, ok := v.Evaluate(context.Background(), cel.VerificationInput{Session: session}, cel.NewBudget(cel.RuntimeCostBudget), field.NewPath("spec"))
	fmt.Println(ok, results[0].Name, results[0].Passed, results[0].Message)
	// Output: false enough-users false only 12 users restored
}

// A misspelt query name is caught when the verifier is admitted, not when a backup is verified.
func ExampleCompileVerifier_unknownQuery() {
	spec := &corev1alpha1.BackupVerifierSpec{
		Type:       corev1alpha1.VerifyQuery,
		Queries:    []corev1alpha1.VerifierQuery{{Name: "users", Table: "users"}},
		Conditions: []corev1alpha1.VerificationCondition{{Name: "c", Expression: `queries.usres.rowCount > 0`}},
	}
	_, errs := cel.CompileVerifier(spec, field.NewPath("spec"))
	fmt.Println(errs[0].Field)
	fmt.Println(errs[0].Detail)
	// Output: spec.conditions[0].expression
	// compilation failed: ERROR: <input>:1:8: undefined field 'usres'
	//  | queries.usres.rowCount > 0
	//  | .......^
}
