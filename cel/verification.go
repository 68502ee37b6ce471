package cel

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
	storagev1alpha1 "github.com/cofferhq/coffer/api/storage/v1alpha1"
)

// celKeywords are the words CEL's lexer never reads as a field name, so queries.<word> cannot be
// written.
var celKeywords = map[string]bool{"in": true, "true": true, "false": true, "null": true}

// Verifier is a verifier's conditions, compiled.
type Verifier struct {
	shape      VerificationShape
	conditions []compiledCondition
}

type compiledCondition struct {
	name       string
	expression *Program
	message    *Program // nil when the condition has no message expression
}

// CompileVerifier compiles every condition of a verifier spec: each expression must be a bool and
// each message a string, over the environment of the verifier's shape. specPath is the path of
// the spec (spec), so errors read spec.conditions[2].expression. All problems are returned at
// once.
func CompileVerifier(spec *corev1alpha1.BackupVerifierSpec, specPath *field.Path) (*Verifier, field.ErrorList) {
	shape := ShapeOf(spec)
	var errs field.ErrorList
	for i, q := range spec.Queries {
		if celKeywords[q.Name] {
			errs = append(errs, field.Invalid(specPath.Child("queries").Index(i).Child("name"), q.Name,
				"is a CEL reserved word, so conditions could not refer to it as queries."+q.Name))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	env, err := verificationEnv(shape)
	if err != nil {
		return nil, field.ErrorList{field.Invalid(specPath.Child("type"), spec.Type, err.Error())}
	}
	envKey := "verification/" + shape.key()
	v := &Verifier{shape: shape}
	for i, c := range spec.Conditions {
		p := specPath.Child("conditions").Index(i)
		cc := compiledCondition{name: c.Name}
		var ferr *field.Error
		if cc.expression, ferr = compile(env, envKey, c.Expression, OutputBool, p.Child("expression")); ferr != nil {
			errs = append(errs, ferr)
		}
		if c.Message != "" {
			if cc.message, ferr = compile(env, envKey, c.Message, OutputString, p.Child("message")); ferr != nil {
				errs = append(errs, ferr)
			}
		}
		v.conditions = append(v.conditions, cc)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return v, nil
}

// VerificationInput is what the conditions are evaluated over: the session, the snapshot it
// verified and the observations the verifier recorded.
type VerificationInput struct {
	Session  *corev1alpha1.BackupVerificationSession
	Snapshot *storagev1alpha1.Snapshot
}

// Built-in checks hold for every verifier whatever its conditions say, so a verifier without
// conditions (or with conditions that do not look at them) cannot verify a backup whose restore,
// queries or script failed. They appear in the results only when they fail.
const (
	BuiltinRestore     = "builtin:restore"
	BuiltinQueryPrefix = "builtin:query:"
	BuiltinScript      = "builtin:script"
)

func (v *Verifier) builtinFailures(obs corev1alpha1.VerificationObservations) []corev1alpha1.ConditionResult {
	var out []corev1alpha1.ConditionResult
	if r := obs.Restore; r == nil || r.Phase != corev1alpha1.RestoreSucceeded {
		msg := "no restore was observed"
		if r != nil {
			msg = fmt.Sprintf("the restore ended %s", r.Phase)
			if r.Phase == "" {
				msg = "the restore did not finish"
			}
			if r.Error != "" {
				msg += ": " + r.Error
			}
		}
		out = append(out, corev1alpha1.ConditionResult{Name: BuiltinRestore, Message: truncate(msg, corev1alpha1.MaxConditionMessageBytes)})
	}
	switch v.shape.Type {
	case corev1alpha1.VerifyQuery:
		observed := map[string]corev1alpha1.QueryObservation{}
		for _, q := range obs.Queries {
			observed[q.Name] = q
		}
		for _, name := range v.shape.Queries {
			q, ok := observed[name]
			var msg string
			switch {
			case !ok:
				msg = "the query was not run"
			case q.Error != "":
				msg = "the query failed: " + q.Error
			case q.RowCount == nil:
				msg = "the query reported no result"
			default:
				continue
			}
			out = append(out, corev1alpha1.ConditionResult{Name: BuiltinQueryPrefix + name, Message: truncate(msg, corev1alpha1.MaxConditionMessageBytes)})
		}
	case corev1alpha1.VerifyScript:
		if s := obs.Script; s == nil || s.ExitCode != 0 {
			msg := "no script run was observed"
			if s != nil {
				msg = fmt.Sprintf("the script exited with code %d", s.ExitCode)
				if s.Stderr != "" {
					msg += ": " + s.Stderr
				}
			}
			out = append(out, corev1alpha1.ConditionResult{Name: BuiltinScript, Message: truncate(msg, corev1alpha1.MaxConditionMessageBytes)})
		}
	}
	return out
}

// Evaluate evaluates every condition under one shared budget and returns one result per
// condition, in spec order, followed by the built-in checks that failed, and whether all passed.
// A condition that fails to evaluate does not pass and its message says why; its message
// expression, if any, explains a false result. specPath must be the verifier's spec path, so
// errors name the condition.
func (v *Verifier) Evaluate(ctx context.Context, in VerificationInput, budget *Budget, specPath *field.Path) ([]corev1alpha1.ConditionResult, bool) {
	vars := v.Vars(in)
	allPassed := true
	results := make([]corev1alpha1.ConditionResult, 0, len(v.conditions))
	for i, c := range v.conditions {
		p := specPath.Child("conditions").Index(i)
		res := corev1alpha1.ConditionResult{Name: c.name}
		passed, ferr := c.expression.EvalBool(ctx, vars, budget, p.Child("expression"))
		switch {
		case ferr != nil:
			res.Message = ferr.Error()
		case passed:
			res.Passed = true
		case c.message != nil:
			msg, merr := c.message.EvalString(ctx, vars, budget, p.Child("message"))
			switch {
			case merr != nil:
				msg = fmt.Sprintf("condition %q is false (%s); its message failed: %v", c.name, c.expression.Expression(), merr)
			case msg == "":
				msg = fmt.Sprintf("condition %q is false: %s", c.name, c.expression.Expression())
			}
			res.Message = msg
		default:
			res.Message = fmt.Sprintf("condition %q is false: %s", c.name, c.expression.Expression())
		}
		res.Message = truncate(res.Message, corev1alpha1.MaxConditionMessageBytes)
		allPassed = allPassed && res.Passed
		results = append(results, res)
	}
	var obs corev1alpha1.VerificationObservations
	if in.Session != nil && in.Session.Status.Observations != nil {
		obs = *in.Session.Status.Observations
	}
	if failures := v.builtinFailures(obs); len(failures) > 0 {
		results = append(results, failures...)
		allPassed = false
	}
	return results, allPassed
}

// Vars builds the CEL variables of the verification environment from the session, its snapshot
// and observations. Everything declared is present: a fact that was not observed has its zero
// value, with succeeded false and error saying so, so expressions never fail on a missing key.
func (v *Verifier) Vars(in VerificationInput) map[string]any {
	var obs corev1alpha1.VerificationObservations
	if in.Session != nil && in.Session.Status.Observations != nil {
		obs = *in.Session.Status.Observations
	}
	vars := map[string]any{
		VarRestore:  restoreVars(obs.Restore),
		VarSnapshot: snapshotVars(in.Snapshot),
		VarSession:  sessionVars(in.Session),
	}
	switch v.shape.Type {
	case corev1alpha1.VerifyQuery:
		observed := map[string]corev1alpha1.QueryObservation{}
		for _, q := range obs.Queries {
			observed[q.Name] = q
		}
		queries := map[string]any{}
		for _, name := range v.shape.Queries {
			if q, ok := observed[name]; ok {
				queries[name] = queryVars(q)
			} else {
				queries[name] = queryVars(corev1alpha1.QueryObservation{Name: name, Error: "the query was not run"})
			}
		}
		vars[VarQueries] = queries
	case corev1alpha1.VerifyScript:
		vars[VarScript] = scriptVars(obs.Script)
	}
	return vars
}

func restoreVars(r *corev1alpha1.RestoreObservation) map[string]any {
	if r == nil {
		r = &corev1alpha1.RestoreObservation{Error: "no restore was observed"}
	}
	return map[string]any{
		"restoreSession": r.RestoreSession,
		"phase":          string(r.Phase),
		"succeeded":      r.Phase == corev1alpha1.RestoreSucceeded,
		"duration":       duration(r.Duration),
		"sizeBytes":      deref(r.SizeBytes),
		"components":     int64(r.Components),
		"error":          r.Error,
	}
}

func snapshotVars(s *storagev1alpha1.Snapshot) map[string]any {
	if s == nil {
		s = &storagev1alpha1.Snapshot{}
	}
	var t time.Time
	if s.Status.SnapshotTime != nil {
		t = s.Status.SnapshotTime.Time
	}
	return map[string]any{
		"name":               s.Name,
		"repository":         s.Spec.Repository,
		"session":            s.Spec.Session,
		"phase":              string(s.Status.Phase),
		"snapshotTime":       t,
		"sizeBytes":          deref(s.Status.SizeBytes),
		"integrity":          s.Status.Integrity != nil && *s.Status.Integrity,
		"totalComponents":    int64(s.Status.TotalComponents),
		"verificationStatus": string(s.Status.VerificationStatus),
	}
}

func sessionVars(s *corev1alpha1.BackupVerificationSession) map[string]any {
	if s == nil {
		s = &corev1alpha1.BackupVerificationSession{}
	}
	snap := s.Status.Snapshot
	if snap == "" {
		snap = s.Spec.Snapshot
	}
	return map[string]any{
		"name":       s.Name,
		"namespace":  s.Namespace,
		"invoker":    s.Spec.Invoker.Name,
		"repository": s.Spec.Repository,
		"snapshot":   snap,
		"retryLeft":  int64(s.Spec.RetryLeft),
	}
}

func queryVars(q corev1alpha1.QueryObservation) map[string]any {
	rows := []any{}
	if list, ok := decodeJSON(q.Rows).([]any); ok {
		rows = list
	}
	columns := make([]any, 0, len(q.Columns))
	for _, c := range q.Columns {
		columns = append(columns, c)
	}
	return map[string]any{
		"name":      q.Name,
		"succeeded": q.Error == "" && q.RowCount != nil,
		"rowCount":  deref(q.RowCount),
		"columns":   columns,
		"rows":      rows,
		"scalar":    decodeJSON(q.Scalar),
		"duration":  duration(q.Duration),
		"error":     q.Error,
	}
}

func scriptVars(s *corev1alpha1.ScriptObservation) map[string]any {
	if s == nil {
		// An exit code that no process returns, so `script.exitCode == 0` is false when the script
		// never ran.
		s = &corev1alpha1.ScriptObservation{ExitCode: -1, Stderr: "no script run was observed"}
	}
	return map[string]any{
		"exitCode":  int64(s.ExitCode),
		"stdout":    s.Stdout,
		"stderr":    s.Stderr,
		"truncated": s.Truncated,
		"output":    decodeJSON(s.Output),
		"duration":  duration(s.Duration),
	}
}

// decodeJSON turns preserved JSON into CEL-friendly values: integral numbers become int64 (so
// `scalar == 1000` and `scalar >= 1000` behave as a user expects), others float64; absent is null.
func decodeJSON(raw *runtime.RawExtension) any {
	if raw == nil || len(raw.Raw) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw.Raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil
	}
	return normalizeNumbers(v)
}

func normalizeNumbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case []any:
		for i := range t {
			t[i] = normalizeNumbers(t[i])
		}
		return t
	case map[string]any:
		for k := range t {
			t[k] = normalizeNumbers(t[k])
		}
		return t
	default:
		return v
	}
}

func duration(d *metav1.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.Duration
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
