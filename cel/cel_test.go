package cel

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

var selectorPath = field.NewPath("spec", "selector")

func workload() map[string]any {
	return map[string]any{
		"apiVersion": "apps/v1", "kind": "StatefulSet",
		"metadata": map[string]any{
			"name": "pg", "namespace": "shop",
			"labels":      map[string]any{"app": "postgres", "tier": "db"},
			"annotations": map[string]any{"coffer.dev/size": "10Gi"},
		},
		"spec": map[string]any{"replicas": int64(3), "template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"name": "pg", "image": "postgres:16.4"}},
		}}},
	}
}

func namespace() map[string]any {
	return map[string]any{"metadata": map[string]any{"name": "shop", "labels": map[string]any{"env": "prod"}}}
}

func TestSelector(t *testing.T) {
	tests := map[string]struct {
		expr       string
		want       bool
		compileErr string // substring of the compile error; empty = compiles
		evalErr    string // substring of the evaluation error
	}{
		"labels match":             {expr: `object.metadata.labels.app == 'postgres'`, want: true},
		"namespace labels":         {expr: `namespaceObject.metadata.labels.env == 'prod'`, want: true},
		"kind and replicas":        {expr: `object.kind == 'StatefulSet' && object.spec.replicas >= 3`, want: true},
		"has on absent label":      {expr: `has(object.metadata.labels.backup) && object.metadata.labels.backup == 'on'`, want: false},
		"exists over containers":   {expr: `object.spec.template.spec.containers.exists(c, c.image.startsWith('postgres:'))`, want: true},
		"kubernetes quantity lib":  {expr: `quantity(object.metadata.annotations['coffer.dev/size']).isGreaterThan(quantity('1Gi'))`, want: true},
		"kubernetes regex lib":     {expr: `object.spec.template.spec.containers[0].image.find('[0-9]+') == '16'`, want: true},
		"kubernetes semver lib":    {expr: `isSemver('16.4.0') && semver('16.4.0').isGreaterThan(semver('15.0.0'))`, want: true},
		"optional chaining":        {expr: `object.metadata.?labels.?missing.orValue('none') == 'none'`, want: true},
		"not bool at compile time": {expr: `'yes'`, compileErr: "must evaluate to bool, but evaluates to string"},
		"int at compile time":      {expr: `1 + 2`, compileErr: "must evaluate to bool, but evaluates to int"},
		"syntax error":             {expr: `object.metadata.labels.app ==`, compileErr: "compilation failed: ERROR: <input>:1:"},
		"undeclared variable":      {expr: `workload.metadata.name == 'pg'`, compileErr: "undeclared reference to 'workload'"},
		"empty":                    {expr: `  `, compileErr: "Required value"},
		"dyn not bool at run time": {expr: `object.metadata.name`, evalErr: "must evaluate to bool, but evaluated to string"},
		"missing key at run time":  {expr: `object.metadata.labels.absent == 'x'`, evalErr: "no such key: absent"},
		"too long":                 {expr: strings.Repeat("true && ", 600) + "true", compileErr: "may not be more than 4096"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			prog, errs := CompileSelector(tc.expr, selectorPath)
			if tc.compileErr != "" {
				if len(errs) != 1 || errs[0].Field != "spec.selector" || !strings.Contains(errs[0].Error(), tc.compileErr) {
					t.Fatalf("want one spec.selector error containing %q, got %v", tc.compileErr, errs)
				}
				return
			}
			if len(errs) > 0 {
				t.Fatalf("unexpected compile errors: %v", errs)
			}
			got, ferr := prog.Matches(context.Background(), workload(), namespace(), NewBudget(RuntimeCostBudget), selectorPath)
			if tc.evalErr != "" {
				if ferr == nil || ferr.Field != "spec.selector" || !strings.Contains(ferr.Error(), tc.evalErr) {
					t.Fatalf("want evaluation error containing %q, got %v", tc.evalErr, ferr)
				}
				return
			}
			if ferr != nil {
				t.Fatalf("unexpected evaluation error: %v", ferr)
			}
			if got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestProgramsAreCached(t *testing.T) {
	a, errs := CompileSelector(`object.kind == 'Deployment'`, selectorPath)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	b, _ := CompileSelector(`object.kind == 'Deployment'`, field.NewPath("other"))
	if a != b {
		t.Fatal("the same expression in the same environment compiled twice")
	}
	c, _ := CompileSelector(`object.kind == 'StatefulSet'`, selectorPath)
	if a == c {
		t.Fatal("different expressions share a program")
	}
}

// bigObject has a list long enough that a quadratic comprehension exceeds the per-call limit.
func bigObject(n int) map[string]any {
	items := make([]any, n)
	for i := range items {
		items[i] = "item"
	}
	return map[string]any{"kind": "Deployment", "items": items}
}

func TestCostLimits(t *testing.T) {
	t.Run("per-call limit stops a quadratic expression", func(t *testing.T) {
		prog, errs := CompileSelector(`object.items.all(x, object.items.all(y, x == y))`, selectorPath)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		_, ferr := prog.Matches(context.Background(), bigObject(3000), nil, NewBudget(RuntimeCostBudget*100), selectorPath)
		if ferr == nil || !strings.Contains(ferr.Error(), "cost limit exceeded") {
			t.Fatalf("want a cost limit error, got %v", ferr)
		}
	})
	t.Run("evaluations share one budget", func(t *testing.T) {
		prog, errs := CompileSelector(`object.items.all(x, x == 'item')`, selectorPath)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		budget := NewBudget(5000)
		obj := bigObject(1000)
		var failed *field.Error
		for i := 0; i < 10 && failed == nil; i++ {
			_, failed = prog.Matches(context.Background(), obj, nil, budget, selectorPath)
		}
		if failed == nil || !strings.Contains(failed.Error(), ErrBudgetExhausted.Error()) {
			t.Fatalf("want the shared budget to run out, got %v", failed)
		}
		if budget.Remaining() != 0 {
			t.Fatalf("remaining budget %d, want 0", budget.Remaining())
		}
		if _, ferr := prog.Matches(context.Background(), obj, nil, budget, selectorPath); ferr == nil {
			t.Fatal("an exhausted budget allowed another evaluation")
		}
	})
	t.Run("a cancelled context interrupts evaluation", func(t *testing.T) {
		prog, errs := CompileSelector(`object.items.all(x, object.items.exists(y, y == 'z' + x))`, selectorPath)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, ferr := prog.Matches(ctx, bigObject(500), nil, nil, selectorPath)
		if ferr == nil || !strings.Contains(ferr.Error(), "operation interrupted") {
			t.Fatalf("want an interruption error, got %v", ferr)
		}
	})
}

func rawJSON(t *testing.T, v any) *runtime.RawExtension {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return &runtime.RawExtension{Raw: b}
}

func TestVerifierCompile(t *testing.T) {
	query := func(names ...string) []corev1alpha1.VerifierQuery {
		var qs []corev1alpha1.VerifierQuery
		for _, n := range names {
			qs = append(qs, corev1alpha1.VerifierQuery{Name: n, Table: n})
		}
		return qs
	}
	cond := func(exprs ...string) []corev1alpha1.VerificationCondition {
		var cs []corev1alpha1.VerificationCondition
		for i, e := range exprs {
			cs = append(cs, corev1alpha1.VerificationCondition{Name: "c" + string(rune('a'+i)), Expression: e})
		}
		return cs
	}
	tests := map[string]struct {
		spec corev1alpha1.BackupVerifierSpec
		errs []string // "field: substring", in order
	}{
		"restore only": {
			spec: corev1alpha1.BackupVerifierSpec{Type: corev1alpha1.VerifyRestoreOnly, Conditions: cond(`restore.succeeded && restore.sizeBytes > 0`)},
		},
		"empty type means restore only": {
			spec: corev1alpha1.BackupVerifierSpec{Conditions: cond(`restore.succeeded`)},
		},
		"queries are not declared for restore only": {
			spec: corev1alpha1.BackupVerifierSpec{Type: corev1alpha1.VerifyRestoreOnly, Conditions: cond(`queries.users.rowCount > 0`)},
			errs: []string{"spec.conditions[0].expression: undeclared reference to 'queries'"},
		},
		"script is not declared for query verifiers": {
			spec: corev1alpha1.BackupVerifierSpec{Type: corev1alpha1.VerifyQuery, Queries: query("users"), Conditions: cond(`script.exitCode == 0`)},
			errs: []string{"spec.conditions[0].expression: undeclared reference to 'script'"},
		},
		"script fields": {
			spec: corev1alpha1.BackupVerifierSpec{Type: corev1alpha1.VerifyScript, Conditions: cond(`script.exitCode == 0 && script.output.tables >= 3 && !script.truncated`)},
		},
		"typed fields reject wrong types": {
			spec: corev1alpha1.BackupVerifierSpec{Type: corev1alpha1.VerifyRestoreOnly, Conditions: cond(`restore.duration < 5`)},
			errs: []string{"spec.conditions[0].expression: found no matching overload for '_<_'"},
		},
		"unknown field of a typed object": {
			spec: corev1alpha1.BackupVerifierSpec{Type: corev1alpha1.VerifyRestoreOnly, Conditions: cond(`snapshot.sise > 0`)},
			errs: []string{"spec.conditions[0].expression: undefined field 'sise'"},
		},
		"every bad condition is reported": {
			spec: corev1alpha1.BackupVerifierSpec{Type: corev1alpha1.VerifyQuery, Queries: query("users", "orders"),
				Conditions: cond(`queries.users.rowCount > 0`, `queries.order.rowCount > 0`, `'x'`)},
			errs: []string{
				"spec.conditions[1].expression: undefined field 'order'",
				"spec.conditions[2].expression: must evaluate to bool, but evaluates to string",
			},
		},
		"message must be a string": {
			spec: corev1alpha1.BackupVerifierSpec{Type: corev1alpha1.VerifyRestoreOnly, Conditions: []corev1alpha1.VerificationCondition{
				{Name: "c", Expression: `restore.succeeded`, Message: `restore.sizeBytes`}}},
			errs: []string{"spec.conditions[0].message: must evaluate to string, but evaluates to int"},
		},
		"a query named like a CEL keyword cannot be referred to": {
			spec: corev1alpha1.BackupVerifierSpec{Type: corev1alpha1.VerifyQuery, Queries: query("users", "in")},
			errs: []string{"spec.queries[1].name: is a CEL reserved word"},
		},
		"reserved words that are valid field names are fine": {
			spec: corev1alpha1.BackupVerifierSpec{Type: corev1alpha1.VerifyQuery, Queries: query("as"), Conditions: cond(`queries.as.rowCount > 0`)},
		},
		"unknown type": {
			spec: corev1alpha1.BackupVerifierSpec{Type: "Magic"},
			errs: []string{`spec.type: Invalid value: "Magic": unknown verification type`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, errs := CompileVerifier(&tc.spec, field.NewPath("spec"))
			if len(errs) != len(tc.errs) {
				t.Fatalf("got %d errors, want %d: %v", len(errs), len(tc.errs), errs)
			}
			for i, want := range tc.errs {
				f, sub, _ := strings.Cut(want, ": ")
				if errs[i].Field != f || !strings.Contains(errs[i].Error(), sub) {
					t.Errorf("error %d = %q, want field %s containing %q", i, errs[i].Error(), f, sub)
				}
			}
		})
	}
}

func TestVerifierEvaluate(t *testing.T) {
	snapshot := &storagev1alpha1.Snapshot{
		ObjectMeta: metav1.ObjectMeta{Name: "repo-bc-frequent-1700000000"},
		Spec:       storagev1alpha1.SnapshotSpec{Repository: "repo", Session: "frequent"},
		Status: storagev1alpha1.SnapshotStatus{
			Phase:        storagev1alpha1.SnapshotSucceeded,
			SnapshotTime: &metav1.Time{Time: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)},
			SizeBytes:    ptr.To[int64](4096), Integrity: ptr.To(true), TotalComponents: 1,
		},
	}
	session := func(obs *corev1alpha1.VerificationObservations) *corev1alpha1.BackupVerificationSession {
		s := &corev1alpha1.BackupVerificationSession{ObjectMeta: metav1.ObjectMeta{Name: "repo-frequent-1", Namespace: "shop"}}
		s.Spec.Repository = "repo"
		s.Spec.RetryLeft = 2
		s.Status.Observations = obs
		return s
	}
	restored := &corev1alpha1.RestoreObservation{Phase: corev1alpha1.RestoreSucceeded, Duration: &metav1.Duration{Duration: time.Minute}, SizeBytes: ptr.To[int64](4096), Components: 1}

	tests := map[string]struct {
		spec     corev1alpha1.BackupVerifierSpec
		obs      *corev1alpha1.VerificationObservations
		passed   []bool
		messages []string // substring per condition; "" = no message expected
		builtins []string // "name: message substring" of the built-in checks that fail
	}{
		"the issue's example holds": {
			spec: corev1alpha1.BackupVerifierSpec{Type: corev1alpha1.VerifyQuery, Queries: []corev1alpha1.VerifierQuery{{Name: "users", Table: "users"}},
				Conditions: []corev1alpha1.VerificationCondition{{Name: "users", Expression: `queries.users.rowCount >= 1000 && restore.duration < duration('5m')`}}},
			obs:      &corev1alpha1.VerificationObservations{Restore: restored, Queries: []corev1alpha1.QueryObservation{{Name: "users", RowCount: ptr.To[int64](1500)}}},
			passed:   []bool{true},
			messages: []string{""},
		},
		"a false condition without message names itself and its expression": {
			spec: corev1alpha1.BackupVerifierSpec{Type: corev1alpha1.VerifyRestoreOnly,
				Conditions: []corev1alpha1.VerificationCondition{{Name: "fast", Expression: `restore.duration < duration('30s')`}}},
			obs:      &corev1alpha1.VerificationObservations{Restore: restored},
			passed:   []bool{false},
			messages: []string{`condition "fast" is false: restore.duration < duration('30s')`},
		},
		"snapshot and session facts": {
			spec: corev1alpha1.BackupVerifierSpec{Type: corev1alpha1.VerifyRestoreOnly, Conditions: []corev1alpha1.VerificationCondition{
				{Name: "a", Expression: `snapshot.integrity && snapshot.sizeBytes == restore.sizeBytes && snapshot.snapshotTime < timestamp('2026-11-02T00:00:00Z')`},
				{Name: "b", Expression: `session.repository == snapshot.repository && session.retryLeft == 2 && session.namespace == 'shop'`},
			}},
			obs:      &corev1alpha1.VerificationObservations{Restore: restored},
			passed:   []bool{true, true},
			messages: []string{"", ""},
		},
		"scalars and rows are typed JSON": {
			spec: corev1alpha1.BackupVerifierSpec{Type: corev1alpha1.VerifyQuery, Queries: []corev1alpha1.VerifierQuery{{Name: "n", Statement: "select count(*) from t"}, {Name: "rows", Statement: "select * from t"}},
				Conditions: []corev1alpha1.VerificationCondition{
					{Name: "scalar", Expression: `queries.n.scalar == 1000 && queries.n.succeeded`},
					{Name: "rows", Expression: `queries.rows.rows.exists(r, r.email == 'a@b.c' && r.age > 20) && size(queries.rows.columns) == 2`},
				}},
			obs: &corev1alpha1.VerificationObservations{Restore: restored, Queries: []corev1alpha1.QueryObservation{
				{Name: "n", RowCount: ptr.To[int64](1), Scalar: &runtime.RawExtension{Raw: []byte(`1000`)}},
				{Name: "rows", RowCount: ptr.To[int64](1), Columns: []string{"email", "age"}, Rows: rawJSON(t, []map[string]any{{"email": "a@b.c", "age": 21}})},
			}},
			passed:   []bool{true, true},
			messages: []string{"", ""},
		},
		"a query that did not run does not succeed": {
			spec: corev1alpha1.BackupVerifierSpec{Type: corev1alpha1.VerifyQuery, Queries: []corev1alpha1.VerifierQuery{{Name: "users", Table: "users"}},
				Conditions: []corev1alpha1.VerificationCondition{{Name: "ran", Expression: `queries.users.succeeded`, Message: `queries.users.error`}}},
			obs:      &corev1alpha1.VerificationObservations{Restore: restored},
			passed:   []bool{false},
			messages: []string{"the query was not run"},
			builtins: []string{"builtin:query:users: the query was not run"},
		},
		"no restore observed": {
			spec: corev1alpha1.BackupVerifierSpec{Type: corev1alpha1.VerifyRestoreOnly,
				Conditions: []corev1alpha1.VerificationCondition{{Name: "restored", Expression: `restore.succeeded`, Message: `restore.error`}}},
			passed:   []bool{false},
			messages: []string{"no restore was observed"},
			builtins: []string{"builtin:restore: no restore was observed"},
		},
		"script output parsed as JSON": {
			spec: corev1alpha1.BackupVerifierSpec{Type: corev1alpha1.VerifyScript,
				Conditions: []corev1alpha1.VerificationCondition{{Name: "ok", Expression: `script.exitCode == 0 && script.output.tables == 3 && script.output.ok`}}},
			obs:      &corev1alpha1.VerificationObservations{Restore: restored, Script: &corev1alpha1.ScriptObservation{ExitCode: 0, Output: rawJSON(t, map[string]any{"tables": 3, "ok": true})}},
			passed:   []bool{true},
			messages: []string{""},
		},
		"a script that never ran has no zero exit code": {
			spec: corev1alpha1.BackupVerifierSpec{Type: corev1alpha1.VerifyScript,
				Conditions: []corev1alpha1.VerificationCondition{{Name: "ok", Expression: `script.exitCode == 0`}}},
			obs:      &corev1alpha1.VerificationObservations{Restore: restored},
			passed:   []bool{false},
			messages: []string{"is false"},
			builtins: []string{"builtin:script: no script run was observed"},
		},
		"no conditions still require a successful restore and queries": {
			spec: corev1alpha1.BackupVerifierSpec{Type: corev1alpha1.VerifyQuery, Queries: []corev1alpha1.VerifierQuery{{Name: "users", Table: "users"}, {Name: "orders", Table: "orders"}}},
			obs: &corev1alpha1.VerificationObservations{Restore: &corev1alpha1.RestoreObservation{Phase: corev1alpha1.RestoreFailed, Error: "pack 3f2a is damaged"},
				Queries: []corev1alpha1.QueryObservation{{Name: "users", RowCount: ptr.To[int64](3)}, {Name: "orders", Error: `relation "orders" does not exist`}}},
			builtins: []string{"builtin:restore: the restore ended Failed: pack 3f2a is damaged", `builtin:query:orders: the query failed: relation "orders" does not exist`},
		},
		"an evaluation error fails the condition and names it": {
			spec: corev1alpha1.BackupVerifierSpec{Type: corev1alpha1.VerifyScript,
				Conditions: []corev1alpha1.VerificationCondition{{Name: "ok", Expression: `script.output.missing == 1`}}},
			obs:      &corev1alpha1.VerificationObservations{Restore: restored, Script: &corev1alpha1.ScriptObservation{Output: rawJSON(t, map[string]any{"x": 1})}},
			passed:   []bool{false},
			messages: []string{"spec.conditions[0].expression"},
		},
		"a failing message expression still explains": {
			spec: corev1alpha1.BackupVerifierSpec{Type: corev1alpha1.VerifyScript,
				Conditions: []corev1alpha1.VerificationCondition{{Name: "ok", Expression: `script.exitCode == 0`, Message: `script.output.reason`}}},
			obs:      &corev1alpha1.VerificationObservations{Restore: restored, Script: &corev1alpha1.ScriptObservation{ExitCode: 2}},
			passed:   []bool{false},
			messages: []string{`condition "ok" is false (script.exitCode == 0); its message failed`},
			builtins: []string{"builtin:script: the script exited with code 2"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v, errs := CompileVerifier(&tc.spec, field.NewPath("spec"))
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			results, all := v.Evaluate(context.Background(), VerificationInput{Session: session(tc.obs), Snapshot: snapshot}, NewBudget(RuntimeCostBudget), field.NewPath("spec"))
			if len(results) != len(tc.passed)+len(tc.builtins) {
				t.Fatalf("got %d results, want %d: %+v", len(results), len(tc.passed)+len(tc.builtins), results)
			}
			for i, b := range tc.builtins {
				r := results[len(tc.passed)+i]
				name, msg, _ := strings.Cut(b, ": ")
				if r.Name != name || r.Passed || !strings.Contains(r.Message, msg) {
					t.Errorf("built-in result %d = %+v, want %s failing with %q", i, r, name, msg)
				}
			}
			wantAll := len(tc.builtins) == 0
			for i, r := range results[:len(tc.passed)] {
				wantAll = wantAll && tc.passed[i]
				if r.Name != tc.spec.Conditions[i].Name || r.Passed != tc.passed[i] {
					t.Errorf("result %d = %+v, want name %s passed %v", i, r, tc.spec.Conditions[i].Name, tc.passed[i])
				}
				if tc.messages[i] == "" && r.Message != "" || !strings.Contains(r.Message, tc.messages[i]) {
					t.Errorf("result %d message = %q, want %q", i, r.Message, tc.messages[i])
				}
			}
			if all != wantAll {
				t.Errorf("all passed = %v, want %v", all, wantAll)
			}
		})
	}
}

func TestEvaluateBoundsMessages(t *testing.T) {
	spec := corev1alpha1.BackupVerifierSpec{Type: corev1alpha1.VerifyScript,
		Conditions: []corev1alpha1.VerificationCondition{{Name: "ok", Expression: `false`, Message: `script.stdout`}}}
	v, errs := CompileVerifier(&spec, field.NewPath("spec"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	s := &corev1alpha1.BackupVerificationSession{}
	s.Status.Observations = &corev1alpha1.VerificationObservations{Script: &corev1alpha1.ScriptObservation{Stdout: strings.Repeat("x", 10000)}}
	results, _ := v.Evaluate(context.Background(), VerificationInput{Session: s}, NewBudget(RuntimeCostBudget), field.NewPath("spec"))
	if n := len(results[0].Message); n > corev1alpha1.MaxConditionMessageBytes {
		t.Fatalf("message of %d bytes exceeds the %d byte bound", n, corev1alpha1.MaxConditionMessageBytes)
	}
}
