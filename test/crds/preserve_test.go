package crds

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	corev1alpha1 "github.com/cofferhq/coffer/api/core/v1alpha1"
)

// TestTaskParamsRoundTrip: params are free-form; nothing of them may be pruned.
func TestTaskParamsRoundTrip(t *testing.T) {
	const params = `{"args":"--clean","dump":{"tables":["users","orders"],"options":{"compress":9,"parallel":true,"exclude":null}},"ratio":0.5}`
	bc := backupConfiguration(func(c *corev1alpha1.BackupConfiguration) {
		c.Spec.Sessions[0].Addon = &corev1alpha1.AddonInfo{
			Name:  "postgres-addon",
			Tasks: []corev1alpha1.TaskReference{{Name: "logical-backup", Params: raw(params)}},
		}
	})
	place(t, bc, env.Namespace(t))
	create(t, bc)

	got := &corev1alpha1.BackupConfiguration{}
	got.SetNamespace(bc.Namespace)
	got.SetName(bc.Name)
	get(t, got)
	p := got.Spec.Sessions[0].Addon.Tasks[0].Params
	if p == nil {
		t.Fatal("params were dropped")
	}
	sameJSON(t, "spec.sessions[0].addon.tasks[0].params", p.Raw, params)
}

// TestVerificationObservationsRoundTrip: rows, scalar and output hold whatever JSON the
// verifier recorded: arrays of objects, scalars, arrays.
func TestVerificationObservationsRoundTrip(t *testing.T) {
	cases := map[string]struct {
		rows, scalar, output string
	}{
		"rows of objects and a number": {
			rows:   `[{"id":1,"name":"ada","tags":["x"]},{"id":2,"name":null,"meta":{"deep":{"er":true}}}]`,
			scalar: `1000`,
			output: `"all good"`,
		},
		"empty rows and a string": {
			rows:   `[]`,
			scalar: `"2026-01-02"`,
			output: `[1,"two",{"three":3},[4]]`,
		},
		"object output and a boolean": {
			rows:   `[{"count":42}]`,
			scalar: `true`,
			output: `{"checked":["users","orders"],"ok":true,"ratio":0.25}`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := backupVerificationSession()
			place(t, s, env.Namespace(t))
			create(t, s)

			s.Status.Phase = corev1alpha1.VerificationSucceeded
			s.Status.Observations = &corev1alpha1.VerificationObservations{
				Queries: []corev1alpha1.QueryObservation{{
					Name:     "users",
					RowCount: ptr(int64(2)),
					Columns:  []string{"id", "name"},
					Rows:     raw(tc.rows),
					Scalar:   raw(tc.scalar),
				}},
				Script: &corev1alpha1.ScriptObservation{ExitCode: 0, Stdout: tc.output, Output: raw(tc.output)},
			}
			if err := env.Client.Status().Update(t.Context(), s); err != nil {
				t.Fatalf("status update: %v", err)
			}

			got := &corev1alpha1.BackupVerificationSession{}
			got.SetNamespace(s.Namespace)
			got.SetName(s.Name)
			get(t, got)
			obs := got.Status.Observations
			if obs == nil || len(obs.Queries) != 1 || obs.Script == nil {
				t.Fatalf("status.observations = %+v", obs)
			}
			sameJSON(t, "queries[0].rows", rawOf(t, obs.Queries[0].Rows), tc.rows)
			sameJSON(t, "queries[0].scalar", rawOf(t, obs.Queries[0].Scalar), tc.scalar)
			sameJSON(t, "script.output", rawOf(t, obs.Script.Output), tc.output)
		})
	}
}

func rawOf(t *testing.T, r *runtime.RawExtension) []byte {
	t.Helper()
	if r == nil {
		t.Fatal("field was dropped")
	}
	return r.Raw
}
